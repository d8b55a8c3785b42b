// Package cli is the portico command line: one sub-command per operator task (serve, migrate,
// import, seed, contact, staff, group, provider, accounts, settings, secret, bench-seed), each
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
  seed demo                          load the bundled demo data set and demo sign-ins
  contact add --email E --name N [--company C]
  contact set-password --email E     (password read from standard input)
  staff add --email E --name N --role admin|agent
                                     (password read from standard input)
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
`

// Main runs the sub-command in args. It reads secrets only from stdin, prints results to
// stdout and progress to stderr. Errors are one line for the operator.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "secret":
		fmt.Fprintln(stdout, config.NewSecretKey())
		return nil
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if strings.HasPrefix(cfg.SecretKeySource, "generated:") {
		fmt.Fprintf(stderr, "portico: development secret key generated and kept in %s (set PORTICO_SECRET_KEY in production)\n",
			strings.TrimPrefix(cfg.SecretKeySource, "generated:"))
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, cfg, rest, stdout, stderr)
	case "migrate":
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
		if len(rest) != 1 || rest[0] != "demo" {
			return errors.New("usage: portico seed demo")
		}
		return withStore(ctx, cfg, func(s *store.Store) error { return seedDemo(ctx, s, stdout, stderr) })
	case "contact":
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
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

func cmdContact(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: portico contact add|set-password …")
	}
	fs := flag.NewFlagSet("contact "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the contact's email address")
	name := fs.String("name", "", "the contact's name")
	company := fs.String("company", "", "the contact's primary company")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		return withStore(ctx, cfg, func(s *store.Store) error {
			if *email == "" || *name == "" {
				return errors.New("contact add: --email and --name are required")
			}
			c, err := s.ContactAdd(ctx, *email, *name, *company)
			if err != nil {
				return describe("contact add", err)
			}
			fmt.Fprintf(stdout, "contact %d added: %s <%s>\n", c.ID, c.Name, c.Email)
			return nil
		})
	case "set-password":
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
	}
	return fmt.Errorf("unknown contact command %q", args[0])
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

func cmdSettings(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: portico settings get | settings set KEY=VALUE")
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		switch args[0] {
		case "get":
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
		case "set":
			if len(args) < 2 {
				return errors.New("usage: portico settings set KEY=VALUE [KEY=VALUE…]")
			}
			for _, kv := range args[1:] {
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
		}
		return fmt.Errorf("unknown settings command %q", args[0])
	})
}
