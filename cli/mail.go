package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"gocloud.dev/blob"

	"portico/auth/providers"
	"portico/config"
	"portico/mail/inbound"
	"portico/server"
	"portico/sql/store"
)

// ExitError carries a process exit status for commands an MTA runs (`portico mail-in`):
// sysexits.h codes, so Postfix and Exim bounce (67, 65) or retry (75) as they should.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// sysexits.h codes used by mail-in.
const (
	exDataErr  = 65 // EX_DATAERR: the mail is refused (too large)
	exNoUser   = 67 // EX_NOUSER: no inbox has the recipient address
	exTempFail = 75 // EX_TEMPFAIL: storing failed, try again later
)

// withMailStore opens the database (migrated) and the blob store for the mail commands.
func withMailStore(ctx context.Context, cfg *config.Config, fn func(*store.Store) error) error {
	return withStore(ctx, cfg, func(s *store.Store) error {
		b, err := blob.OpenBucket(ctx, cfg.BlobURL)
		if err != nil {
			return fmt.Errorf("PORTICO_BLOB_URL: %w", err)
		}
		defer b.Close()
		s.Blobs = b
		return fn(s)
	})
}

// cmdMailIn reads one RFC 5322 message from stdin and stores it for processing, for an MTA's
// pipe transport: portico mail-in [--recipient ADDR].
func cmdMailIn(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("mail-in", "mail-in [--recipient ADDR] < mail.eml    (stores one mail for processing; exit 67 no such inbox, 65 too large, 75 try again)", stdout)
	rcpt := fs.String("recipient", "", "the envelope recipient (Postfix: ${recipient}); default: from the mail's headers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	err := withMailStore(ctx, cfg, func(s *store.Store) error {
		acc := &inbound.Acceptor{Store: s, MaxBytes: cfg.MailMaxBytes}
		var inbox int64
		if *rcpt != "" {
			id, err := acc.Inbox(ctx, *rcpt)
			if errors.Is(err, inbound.ErrUnknownRecipient) {
				return &ExitError{exNoUser, fmt.Errorf("mail-in: no inbox has the address %s", *rcpt)}
			}
			if err != nil {
				return &ExitError{exTempFail, fmt.Errorf("mail-in: %w", err)}
			}
			inbox = id
		}
		raw, err := acc.ReadLimited(stdin)
		if errors.Is(err, inbound.ErrTooLarge) {
			return &ExitError{exDataErr, fmt.Errorf("mail-in: the mail is larger than PORTICO_MAIL_MAX_BYTES (%d bytes)", cfg.MailMaxBytes)}
		}
		if err != nil {
			return &ExitError{exTempFail, fmt.Errorf("mail-in: read: %w", err)}
		}
		m, dup, err := acc.Accept(ctx, "stdin", *rcpt, inbox, raw)
		if err != nil {
			return &ExitError{exTempFail, fmt.Errorf("mail-in: %w", err)}
		}
		if dup {
			fmt.Fprintf(stdout, "mail %d already stored (duplicate)\n", m.ID)
		} else {
			fmt.Fprintf(stdout, "mail %d stored\n", m.ID)
		}
		return nil
	})
	var ee *ExitError
	if err != nil && !errors.As(err, &ee) {
		return &ExitError{exTempFail, err} // the database or blob store is unreachable
	}
	return err
}

const inboxMailUsage = `usage:
  portico inbox mail list
  portico inbox mail set --inbox N --address A [--name DISPLAY] [--new-contacts=true|false]
        [--imap=on|off --imap-host H --imap-port P --imap-security tls|starttls|none
         --imap-user U --imap-password-stdin --imap-folder F --imap-move-to F]
  portico inbox mail test --inbox N       connect to the IMAP server and print its answer
  portico inbox mail held                 list held and failed mail with their reasons
  portico inbox mail retry ID | discard ID`

// cmdInbox is `portico inbox mail …`: the email settings of inboxes and the held mail. Every
// sub-command parses its flags (answering --help) before it reads the configuration.
func cmdInbox(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := group(args, inboxMailUsage, stdout); err != nil {
		return err
	}
	if args[0] != "mail" {
		return errors.New(inboxMailUsage)
	}
	if err := group(args[1:], inboxMailUsage, stdout); err != nil {
		return err
	}
	sub, rest := args[1], args[2:]
	run := func(fn func(*store.Store, *providers.Sealer) error) error {
		sealer, err := providers.NewSealerFor(cfg.SecretKey, server.MailSealerInfo)
		if err != nil {
			return err
		}
		return withMailStore(ctx, cfg, func(s *store.Store) error { return fn(s, sealer) })
	}
	switch sub {
	case "list":
		if err := newFlags("inbox mail list", "inbox mail list    (each inbox's address and IMAP mailbox)", stdout).Parse(rest); err != nil {
			return err
		}
		return run(func(s *store.Store, _ *providers.Sealer) error {
			list, err := s.InboxEmailList(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "INBOX\tNAME\tADDRESS\tNEW CONTACTS\tIMAP")
			for _, e := range list {
				imap := "off"
				if e.IMAPEnabled {
					imap = fmt.Sprintf("%s@%s:%d/%s (%s)", e.IMAPUser, e.IMAPHost, e.IMAPPort, e.IMAPFolder, e.IMAPSecurity)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%t\t%s\n", e.InboxID, e.InboxName, e.Address, e.AllowNewContacts, imap)
			}
			return w.Flush()
		})
	case "set":
		return inboxMailSet(ctx, run, rest, stdin, stdout, stderr)
	case "test":
		fs := newFlags("inbox mail test", "inbox mail test --inbox N    (connects to the IMAP server and prints its answer)", stdout)
		inbox := fs.Int64("inbox", 0, "the inbox id")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return run(func(s *store.Store, sealer *providers.Sealer) error {
			e, err := s.InboxEmailGet(ctx, *inbox)
			if err != nil {
				return fmt.Errorf("inbox mail test: inbox %d has no email settings", *inbox)
			}
			pw, err := sealer.Open(inbound.SecretSlug(e.InboxID), e.IMAPSecret)
			if err != nil {
				return err
			}
			answer, err := inbound.TestIMAP(ctx, e, pw["password"])
			if err != nil {
				return fmt.Errorf("inbox mail test: %s:%d answered: %v", e.IMAPHost, e.IMAPPort, err)
			}
			fmt.Fprintln(stdout, answer)
			return nil
		})
	case "held":
		if err := newFlags("inbox mail held", "inbox mail held    (held and failed mail with their reasons)", stdout).Parse(rest); err != nil {
			return err
		}
		return run(func(s *store.Store, _ *providers.Sealer) error {
			list, err := s.InboundList(ctx, store.InboundListFilter{})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tRECEIVED\tSTATUS\tREASON\tFROM\tSUBJECT")
			for _, m := range list {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.ReceivedAt.UTC().Format("2006-01-02 15:04"), m.Status, m.Reason, m.Sender, m.Subject)
			}
			return w.Flush()
		})
	case "retry", "discard":
		fs := newFlags("inbox mail "+sub, "inbox mail "+sub+" ID", stdout)
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New(inboxMailUsage)
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return errors.New(inboxMailUsage)
		}
		return run(func(s *store.Store, _ *providers.Sealer) error {
			if sub == "retry" {
				err = s.InboundRetry(ctx, store.CLIEditor, id)
			} else {
				err = s.InboundDiscard(ctx, store.CLIEditor, id)
			}
			if err != nil {
				return describe("inbox mail "+sub, err)
			}
			fmt.Fprintf(stdout, "mail %d: %s done\n", id, sub)
			return nil
		})
	}
	return errors.New(inboxMailUsage)
}

func inboxMailSet(ctx context.Context, run func(func(*store.Store, *providers.Sealer) error) error, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("inbox mail set", "inbox mail set --inbox N [--address A] [flags]    (an inbox's email address and IMAP mailbox)", stdout)
	inbox := fs.Int64("inbox", 0, "the inbox id")
	address := fs.String("address", "", "the address customers write to")
	name := fs.String("name", "", "the display name of replies (default: the inbox name)")
	newContacts := fs.Bool("new-contacts", true, "create a contact when someone who is not a contact yet writes in")
	imapOn := fs.String("imap", "", "on or off: fetch this inbox's mail over IMAP")
	host := fs.String("imap-host", "", "IMAP server host")
	port := fs.Int("imap-port", 0, "IMAP server port (default 993 for tls, 143 otherwise)")
	security := fs.String("imap-security", "", "tls, starttls or none")
	user := fs.String("imap-user", "", "IMAP user name")
	pwStdin := fs.Bool("imap-password-stdin", false, "read the IMAP password from standard input")
	folder := fs.String("imap-folder", "", "folder to fetch (default INBOX)")
	moveTo := fs.String("imap-move-to", "", "folder to move stored mail to (default: flag it in place)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return run(func(s *store.Store, sealer *providers.Sealer) error {
		e, err := s.InboxEmailGet(ctx, *inbox)
		isNew := errors.Is(err, store.ErrNotFound)
		if err != nil && !isNew {
			return err
		}
		e.InboxID = *inbox
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["address"] || e.Address == "" {
			e.Address = *address
		}
		if set["name"] {
			e.DisplayName = *name
		}
		if set["new-contacts"] || isNew {
			e.AllowNewContacts = *newContacts
		}
		switch *imapOn {
		case "on":
			e.IMAPEnabled = true
		case "off":
			e.IMAPEnabled = false
		case "":
		default:
			return errors.New("inbox mail set: --imap must be on or off")
		}
		for flagName, dst := range map[string]*string{"imap-host": &e.IMAPHost, "imap-security": &e.IMAPSecurity, "imap-user": &e.IMAPUser,
			"imap-folder": &e.IMAPFolder, "imap-move-to": &e.IMAPMoveTo} {
			if set[flagName] {
				*dst = map[string]string{"imap-host": *host, "imap-security": *security, "imap-user": *user, "imap-folder": *folder, "imap-move-to": *moveTo}[flagName]
			}
		}
		if set["imap-port"] {
			e.IMAPPort = *port
		}
		e.IMAPSecret = nil // keep the stored password unless a new one is given
		if *pwStdin {
			pw, err := readPassword(stdin, stderr)
			if err != nil {
				return err
			}
			if e.IMAPSecret, err = sealer.Seal(inbound.SecretSlug(e.InboxID), map[string]string{"password": strings.TrimRight(pw, "\r\n")}); err != nil {
				return err
			}
		}
		got, err := s.InboxEmailSet(ctx, store.CLIEditor, e)
		if err != nil {
			return describe("inbox mail set", err)
		}
		fmt.Fprintf(stdout, "inbox %d (%s): mail to %s; IMAP %t\n", got.InboxID, got.InboxName, got.Address, got.IMAPEnabled)
		return nil
	})
}
