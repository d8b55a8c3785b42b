package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"portico/auth"
	"portico/config"
	"portico/mail/inbound"
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

const importUsage = `usage:
  portico import tickets --file F.csv [--demo-contacts N]    import tickets from a CSV file
  portico import mail --inbox N --mbox F | --maildir D       import a mailbox's past conversations into tickets`

func cmdImport(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	if err := group(args, importUsage, stdout); err != nil {
		return err
	}
	switch args[0] {
	case "tickets":
	case "mail":
		return cmdImportMail(ctx, cfg, args[1:], stdout, stderr)
	default:
		return errors.New(importUsage)
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

// cmdImportMail is `portico import mail`: a shared mailbox's history (mbox or Maildir) through
// the email channel's own storing, parsing and threading (inbound.Importer), as history: the
// mails keep their dates and notify nobody.
func cmdImportMail(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import mail", "import mail --inbox N --mbox F | --maildir D    (a mailbox's past conversations into tickets; "+
		"re-running adds nothing twice; mails the inbox sent become its replies)", stdout)
	inbox := fs.Int64("inbox", 0, "the inbox the mailbox belongs to (its email address is set with: portico inbox mail set)")
	mboxFile := fs.String("mbox", "", "an mbox file (e.g. a Google Takeout or Thunderbird export)")
	mdir := fs.String("maildir", "", "a Maildir folder (with cur/ and new/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("import mail: unexpected argument %q", fs.Arg(0))
	}
	if *inbox <= 0 {
		return errors.New("import mail: --inbox is required (see `portico inbox mail list`)")
	}
	if (*mboxFile == "") == (*mdir == "") {
		return errors.New("import mail: give either --mbox F or --maildir D")
	}
	var f *os.File
	var size int64
	if *mboxFile != "" {
		var err error
		if f, err = os.Open(*mboxFile); err != nil {
			return fmt.Errorf("import mail: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	} else if fi, err := os.Stat(filepath.Join(*mdir, "cur")); err != nil || !fi.IsDir() {
		return fmt.Errorf("import mail: %s is not a Maildir (no cur/ folder)", *mdir)
	}
	tokens, err := inbound.NewTokens(cfg.SecretKey)
	if err != nil {
		return err
	}
	return withMailStore(ctx, cfg, func(s *store.Store) error {
		e, err := s.InboxEmailGet(ctx, *inbox)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("import mail: inbox %d has no email address (set one with `portico inbox mail set --inbox %d --address A`)", *inbox, *inbox)
		}
		if err != nil {
			return fmt.Errorf("import mail: %w", err)
		}
		im := &inbound.Importer{Store: s, InboxID: e.InboxID, Address: e.Address, MaxBytes: cfg.MailMaxBytes,
			Processor: &inbound.Processor{Store: s, Tokens: tokens, Settings: s.SettingsGet,
				Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))},
			Report: func(n int, where, msg string) { fmt.Fprintf(stderr, "message %d (%s): %s\n", n, where, msg) }}
		if isTerminal(stderr) {
			im.Progress = stderr
		}
		var sum inbound.ImportSummary
		if f != nil {
			sum, err = im.Mbox(ctx, f, size)
		} else {
			sum, err = im.Maildir(ctx, *mdir)
		}
		if err != nil {
			return fmt.Errorf("import mail: %w (nothing is lost: run the same command again to finish)", err)
		}
		fmt.Fprintln(stdout, sum.String())
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
	if err := seed.DemoShowcase(ctx, s); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	fmt.Fprintln(stdout, "demo showcase: help center articles (en, de, nl, fr), a support form, a logo and an agent reply with an attachment")
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
