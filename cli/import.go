package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"portico/auth"
	"portico/config"
	"portico/sql/store"
	"portico/sql/store/seed"
	"portico/sql/store/seed/demodata"
)

// demoContacts is how many demo contacts `seed demo` spreads the data set over (4 per company).
const demoContacts = 40

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func cmdImport(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	if err := group(args, "usage: portico import tickets --file F.csv [--demo-contacts N]    import tickets from a CSV file", stdout); err != nil {
		return err
	}
	if args[0] != "tickets" {
		return errors.New("usage: portico import tickets --file F.csv [--demo-contacts N]")
	}
	fs := newFlags("import tickets", "import tickets --file F.csv [--demo-contacts N]", stdout)
	file := fs.String("file", "", "the CSV file to import (header row required)")
	demo := fs.Int("demo-contacts", 0, "spread rows without a requester over N deterministic demo contacts")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("import tickets: --file is required")
	}
	if *demo < 0 {
		return errors.New("import tickets: --demo-contacts must be 0 or more")
	}
	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("import tickets: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	opt := seed.ImportOptions{DemoContacts: *demo, Size: size, Report: func(line int, msg string) {
		fmt.Fprintf(stderr, "line %d: %s\n", line, msg)
	}}
	if isTerminal(stderr) {
		opt.Progress = stderr
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		sum, err := seed.New(s.Pool).TicketImport(ctx, f, opt)
		if err != nil {
			return fmt.Errorf("import tickets: %w", err)
		}
		fmt.Fprintf(stdout, "rows: %d, imported: %d, already present: %d, bad: %d\n", sum.Rows, sum.Imported, sum.Duplicates, sum.Bad)
		return nil
	})
}

// seedDemo loads the bundled data set with demo contacts and prints the demo sign-ins.
func seedDemo(ctx context.Context, s *store.Store, stdout, stderr io.Writer) error {
	sum, err := seed.New(s.Pool).DemoSeed(ctx, bytes.NewReader(demodata.TicketsCSV), int64(len(demodata.TicketsCSV)), demoContacts, auth.HashPassword)
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	fmt.Fprintf(stdout, "demo data: %d tickets imported (%d already present, %d bad rows)\n", sum.Import.Imported, sum.Import.Duplicates, sum.Import.Bad)
	printSignIns(stdout, sum.SignIns, sum.Password)
	staff, err := seed.New(s.Pool).DemoStaff(ctx, auth.HashPassword)
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	printStaffSignIns(stdout, staff)
	return nil
}

func printStaffSignIns(w io.Writer, staff []seed.DemoSignIn) {
	fmt.Fprintln(w, "demo staff sign-ins at /admin/login (same password):")
	for _, si := range staff {
		fmt.Fprintf(w, "  %-50s %s (%s)\n", si.Email, si.Name, si.Company)
	}
}

// printDemoSignIns repeats the demo sign-ins on a later `serve --demo` (data already there).
func printDemoSignIns(ctx context.Context, s *store.Store, stdout io.Writer) {
	var signIns []seed.DemoSignIn
	for i := 0; i < demoContacts && len(signIns) < 3; i++ {
		dc := seed.DemoContactAt(i)
		acct, err := s.AccountByEmail(ctx, dc.Email)
		if err == nil && acct.Status == "active" && auth.CheckPassword(seed.DemoPassword, acct.PasswordHash) {
			signIns = append(signIns, seed.DemoSignIn{Email: acct.Contact.Email, Name: acct.Contact.Name, Company: acct.Contact.CompanyName})
		}
	}
	if len(signIns) > 0 {
		printSignIns(stdout, signIns, seed.DemoPassword)
		if _, hash, err := s.StaffByEmail(ctx, seed.DemoAdminEmail); err == nil && auth.CheckPassword(seed.DemoPassword, hash) {
			printStaffSignIns(stdout, []seed.DemoSignIn{{Email: seed.DemoAdminEmail, Name: "Ada Admin", Company: store.RoleAdmin},
				{Email: seed.DemoAgentEmail, Name: "Dana Agent", Company: store.RoleAgent}})
		}
	}
}

func printSignIns(w io.Writer, signIns []seed.DemoSignIn, password string) {
	fmt.Fprintln(w, "demo sign-ins (password for all: "+password+"):")
	for _, si := range signIns {
		fmt.Fprintf(w, "  %-50s %s, %s\n", si.Email, si.Name, si.Company)
	}
}

// cmdBenchSeed fills DATABASE_URL with benchmark data (default 1,000,000 tickets over 10,000
// companies) for `just bench`.
func cmdBenchSeed(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	fs := newFlags("bench-seed", "bench-seed [--tickets N] [--companies N]    (fills DATABASE_URL with benchmark data)", stdout)
	tickets := fs.Int("tickets", 1_000_000, "number of tickets")
	companies := fs.Int("companies", 10_000, "number of companies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		return seed.New(s.Pool).BenchSeed(ctx, *tickets, *companies, func(m string) { fmt.Fprintln(stdout, m) })
	})
}
