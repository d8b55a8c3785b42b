// Package cli is the portico command line: one sub-command per operator task (serve, migrate,
// import (tickets, mail), seed, contact, staff, group, provider, accounts, settings, secret, bench-seed), each
// with flags and usage. It calls config, store, seed and server; nothing imports it but main.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"portico/auth"
	"portico/config"
	"portico/server"
	"portico/sql/migrations"
	"portico/sql/store"
)

const usage = `usage: portico <command> [flags]

commands:
  serve [--demo]                     migrate and serve on PORTICO_ADDR (--demo: seed demo data when empty)
  migrate                            apply database migrations
  import tickets --file F.csv [--demo-contacts N]
                                     import tickets from a CSV file
  import mail --inbox N --mbox F | --maildir D
                                     import a mailbox's past conversations into tickets
                                     (threaded like live mail, dated, notifying nobody)
  seed demo                          load the bundled demo data set and demo sign-ins
  contact add --email E --name N [--company C]
  contact set-password --email E     (password read from standard input)
  contact export --email E --out F.zip
                                     everything Portico holds about a contact, as a zip (GDPR art. 15/20)
  contact erase --email E [--delete-tickets] --yes
                                     erase a contact's personal data for good, end their sessions (art. 17)
                                     ("contacts" works as well as "contact")
  staff add --email E --name N --role admin|agent
                                     (password read from standard input)
  staff reset-totp --email E         turn off a staff user's two-step sign-in (they enrol again)
  group create NAME                  create an access group
  group add-member NAME EMAIL…       add contacts to an access group
  group remove-member NAME EMAIL…    remove contacts from an access group
  group list                         list access groups with member counts
  accounts invite [--group NAME]     mail registration links to access-group members without an account
  accounts resend --email E          void a member's pending registration link and mail a new one
  provider add KIND --name N [flags]  add a sign-in provider (google, microsoft, okta, oidc, saml, jwt;
                                     secrets from --secret-stdin or --secret-file)
  provider list|enable N|disable N|remove N|metadata N
  settings get                       print every portal setting
  settings set KEY=VALUE [KEY=VALUE…]
  secret                             print a fresh PORTICO_SECRET_KEY
  mail-in [--recipient ADDR]         store one mail read from standard input (an MTA's pipe);
                                     exit 67 no such inbox, 65 too large, 75 try again
  inbox mail list|set|test|held|retry|discard
                                     an inbox's email address and IMAP mailbox, held mail

Run "portico COMMAND --help" for a command's flags.
`

// ErrUsage is returned when no command was given; the usage was printed to stderr (exit 2).
var ErrUsage = errors.New("no command given")

// isHelp reports whether arg asks for help (-h, -help, --help, help).
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// wantsHelp reports whether any argument asks for help: the command then prints its usage and
// touches neither the configuration nor the database.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// group handles the first argument of a command with sub-commands: none is a usage error, a
// help request prints use to stdout (flag.ErrHelp, exit 0).
func group(args []string, use string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(strings.TrimSpace(use))
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, strings.TrimSpace(use))
		return flag.ErrHelp
	}
	return nil
}

// newFlags returns a flag set for "portico NAME" whose --help prints the usage line and the
// flags (only this sub-command's) to stdout.
func newFlags(name, use string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: portico %s\n", use)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stdout, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// Main runs the sub-command in args. It reads secrets only from stdin, prints results to
// stdout and progress to stderr. Errors are one line for the operator.
//
// A bare `portico` prints the usage to stderr and returns ErrUsage; `--help` anywhere prints the
// command's own usage and flags to stdout and returns flag.ErrHelp before any configuration is
// read or any database touched.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ErrUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "secret":
		if err := newFlags("secret", "secret    (prints a fresh PORTICO_SECRET_KEY)", stdout).Parse(rest); err != nil {
			return err
		}
		fmt.Fprintln(stdout, config.NewSecretKey())
		return nil
	}
	var cfg *config.Config
	if !wantsHelp(rest) && (len(rest) == 0 || !isHelp(rest[0])) {
		var err error
		if cfg, err = config.Load(); err != nil {
			return err
		}
		if strings.HasPrefix(cfg.SecretKeySource, "generated:") {
			fmt.Fprintf(stderr, "portico: development secret key generated and kept in %s (set PORTICO_SECRET_KEY in production)\n",
				strings.TrimPrefix(cfg.SecretKeySource, "generated:"))
		}
	}
	return dispatch(ctx, cfg, cmd, rest, stdin, stdout, stderr)
}

// dispatch runs cmd. cfg is nil when help was asked for: every command parses its flags (and
// returns flag.ErrHelp) before it uses cfg.
func dispatch(ctx context.Context, cfg *config.Config, cmd string, rest []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch cmd {
	case "serve":
		return cmdServe(ctx, cfg, rest, stdout, stderr)
	case "migrate":
		if err := newFlags("migrate", "migrate    (applies the database migrations)", stdout).Parse(rest); err != nil {
			return err
		}
		return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
			applied, err := migrations.Apply(ctx, pool)
			if err == nil {
				fmt.Fprintf(stdout, "migrations applied: %d\n", len(applied))
			}
			return err
		})
	case "import":
		return cmdImport(ctx, cfg, rest, stdout, stderr)
	case "seed":
		if err := group(rest, "usage: portico seed demo    (loads the bundled demo data set and demo sign-ins)", stdout); err != nil {
			return err
		}
		if err := newFlags("seed demo", "seed demo", stdout).Parse(rest[1:]); err != nil {
			return err
		}
		if rest[0] != "demo" || len(rest) != 1 {
			return errors.New("usage: portico seed demo")
		}
		return withMailStore(ctx, cfg, func(s *store.Store) error { return seedDemo(ctx, s, stdout, stderr) }) // the blob store: the demo reply's attachment
	case "contact", "contacts":
		return cmdContact(ctx, cfg, rest, stdin, stdout, stderr)
	case "settings":
		return cmdSettings(ctx, cfg, rest, stdout)
	case "accounts":
		return cmdAccounts(ctx, cfg, rest, stdout, stderr)
	case "staff":
		return cmdStaff(ctx, cfg, rest, stdin, stdout, stderr)
	case "group":
		return cmdGroup(ctx, cfg, rest, stdout)
	case "provider":
		return cmdProvider(ctx, cfg, rest, stdin, stdout, stderr)
	case "mail-in":
		return cmdMailIn(ctx, cfg, rest, stdin, stdout, stderr)
	case "inbox":
		return cmdInbox(ctx, cfg, rest, stdin, stdout, stderr)
	case "bench-seed":
		return cmdBenchSeed(ctx, cfg, rest, stdout)
	}
	return fmt.Errorf("unknown command %q (run `portico help`)", cmd)
}

func withPool(ctx context.Context, cfg *config.Config, fn func(*pgxpool.Pool) error) error {
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(pool)
}

// withStore opens the database, applies migrations and runs fn.
func withStore(ctx context.Context, cfg *config.Config, fn func(*store.Store) error) error {
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		if _, err := migrations.Apply(ctx, pool); err != nil {
			return err
		}
		return fn(store.New(pool))
	})
}

func cmdServe(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [--demo]    (migrates and serves on PORTICO_ADDR)", stdout)
	demo := fs.Bool("demo", false, "seed the demo data when the database is empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := server.New(ctx, cfg, server.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if *demo {
		empty, err := s.Store.IsEmpty(ctx)
		if err != nil {
			return err
		}
		if empty {
			if err := seedDemo(ctx, s.Store, stdout, stderr); err != nil {
				return err
			}
		} else {
			printDemoSignIns(ctx, s.Store, stdout)
		}
	}
	for _, w := range cfg.Warnings {
		s.Log.Warn(w)
	}
	fmt.Fprintf(stdout, "Portico serving on %s (%s)\n", cfg.BaseURL, cfg.Env)
	s.Log.Info("serving", "config", cfg.Dump())
	return s.Run(ctx)
}

const contactUsage = `usage: portico contact add --email E --name N [--company C]
       portico contact set-password --email E    (password read from standard input)
       portico contact export --email E --out F.zip
       portico contact erase --email E [--delete-tickets] --yes`

func cmdContact(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := group(args, contactUsage, stdout); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		fs := newFlags("contact add", "contact add --email E --name N [--company C]", stdout)
		email := fs.String("email", "", "the contact's email address (required)")
		name := fs.String("name", "", "the contact's name (required)")
		company := fs.String("company", "", "the contact's primary company, created when new")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *email == "" || *name == "" {
			return errors.New("contact add: --email and --name are required")
		}
		return withStore(ctx, cfg, func(s *store.Store) error {
			c, err := s.ContactAdd(ctx, *email, *name, *company)
			if err != nil {
				return describe("contact add", err)
			}
			fmt.Fprintf(stdout, "contact %d added: %s <%s>\n", c.ID, c.Name, c.Email)
			return nil
		})
	case "set-password":
		fs := newFlags("contact set-password", "contact set-password --email E    (password read from standard input)", stdout)
		email := fs.String("email", "", "the contact's email address (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *email == "" {
			return errors.New("contact set-password: --email is required")
		}
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		if err := checkPassword("contact set-password", pw); err != nil {
			return err
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		return withStore(ctx, cfg, func(s *store.Store) error {
			c, err := s.AccountSetPassword(ctx, *email, hash)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("contact set-password: no contact with email %q", *email)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password set for %s\n", c.Email)
			return nil
		})
	case "export":
		return cmdContactExport(ctx, cfg, args[1:], stdout)
	case "erase":
		return cmdContactErase(ctx, cfg, args[1:], stdout)
	}
	return fmt.Errorf("unknown contact command %q (run `portico contact --help`)", args[0])
}

// readPassword reads one line from stdin; on a terminal without echo.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

const settingsUsage = `usage: portico settings get              print every portal setting
       portico settings set KEY=VALUE [KEY=VALUE…]`

func cmdSettings(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if err := group(args, settingsUsage, stdout); err != nil {
		return err
	}
	switch args[0] {
	case "get":
		if err := newFlags("settings get", "settings get    (prints every portal setting)", stdout).Parse(args[1:]); err != nil {
			return err
		}
		return withStore(ctx, cfg, func(s *store.Store) error {
			m, err := s.SettingsRaw(ctx)
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(stdout, "%s=%s\n", k, m[k])
			}
			return nil
		})
	case "set":
		fs := newFlags("settings set", "settings set KEY=VALUE [KEY=VALUE…]", stdout)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		pairs := fs.Args()
		if len(pairs) == 0 {
			return errors.New("usage: portico settings set KEY=VALUE [KEY=VALUE…]")
		}
		return withStore(ctx, cfg, func(s *store.Store) error {
			for _, kv := range pairs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("settings set: %q is not KEY=VALUE", kv)
				}
				if err := s.SettingSet(ctx, strings.TrimSpace(k), v); err != nil {
					return fmt.Errorf("settings set: %w", err)
				}
				fmt.Fprintf(stdout, "%s set\n", strings.TrimSpace(k))
			}
			return nil
		})
	}
	return fmt.Errorf("unknown settings command %q (run `portico settings --help`)", args[0])
}
