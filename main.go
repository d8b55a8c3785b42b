// Command portico is the customer portal: one binary with sub-commands (serve, migrate,
// import, seed, contact, settings, secret). Run `portico help` for the list; the commands live
// in package cli.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"portico/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) { // a sub-command's --help already printed its usage
		return
	}
	if errors.Is(err, cli.ErrUsage) { // a bare `portico`: the usage went to stderr
		stop()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		stop()
		code := 1
		if ee := (*cli.ExitError)(nil); errors.As(err, &ee) {
			code = ee.Code // sysexits for an MTA (portico mail-in)
		}
		os.Exit(code)
	}
}
