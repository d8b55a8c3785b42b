// Command portico is the customer portal: one binary with sub-commands (serve, migrate,
// import, seed, contact, settings, secret). Run `portico help` for the list.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"portico/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		stop()
		os.Exit(1)
	}
}
