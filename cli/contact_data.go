package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"portico/auth"
	"portico/config"
	"portico/server"
	"portico/sql/store"
)

// contactByEmail returns the (not erased) contact with the address. Errors name the command.
func contactByEmail(ctx context.Context, s *store.Store, cmd, email string) (int64, error) {
	var id int64
	err := s.Pool.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email) = lower($1) AND erased_at IS NULL`, strings.TrimSpace(email)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("%s: no contact with email %q", cmd, email)
	}
	return id, nil
}

// cmdContactExport writes everything Portico holds about a contact to a zip file (GDPR art. 15
// and 20): portico contact export --email E --out F.zip. The file appears whole or not at all
// (written beside it, then renamed), readable by its owner only.
func cmdContactExport(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	fs := newFlags("contact export", "contact export --email E --out F.zip    (everything Portico holds about a contact, as a zip with manifest.json)", stdout)
	email := fs.String("email", "", "the contact's email address (required)")
	out := fs.String("out", "", "the zip file to write (required; an existing file is replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" || *out == "" {
		return errors.New("contact export: --email and --out are required")
	}
	return withMailStore(ctx, cfg, func(s *store.Store) error {
		id, err := contactByEmail(ctx, s, "contact export", *email)
		if err != nil {
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(*out), ".portico-export-*.zip")
		if err != nil {
			return fmt.Errorf("contact export: %w", err)
		}
		defer os.Remove(tmp.Name())
		items := 0
		if err := s.WriteContactExport(ctx, id, tmp, func(done, total int) { items = total }); err != nil {
			tmp.Close()
			return fmt.Errorf("contact export: %w", err)
		}
		size, _ := tmp.Seek(0, io.SeekCurrent)
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("contact export: %w", err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fmt.Errorf("contact export: %w", err)
		}
		fmt.Fprintf(stdout, "export of %s written to %s (%d items, %d bytes)\n", strings.TrimSpace(*email), *out, items, size)
		return nil
	})
}

// cmdContactErase erases a contact (GDPR art. 17) as the admin console does, and ends their
// sessions: portico contact erase --email E [--delete-tickets] --yes. Without --yes it only
// says what would be erased.
func cmdContactErase(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	fs := newFlags("contact erase", "contact erase --email E [--delete-tickets] --yes    (erases a contact's personal data for good)", stdout)
	email := fs.String("email", "", "the contact's email address (required)")
	deleteTickets := fs.Bool("delete-tickets", false, "also delete the tickets the contact requested that belong to no company")
	yes := fs.Bool("yes", false, "erase (without it, only show what would be erased)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("contact erase: --email is required")
	}
	return withMailStore(ctx, cfg, func(s *store.Store) error {
		id, err := contactByEmail(ctx, s, "contact erase", *email)
		if err != nil {
			return err
		}
		pv, err := s.ContactErasurePreview(ctx, id)
		if err != nil {
			return err
		}
		if !*yes {
			fmt.Fprintf(stdout, "would erase %s <%s>: %d tickets requested (%d of no company), %d messages, %d files they uploaded\n",
				pv.Contact.Name, pv.Contact.Email, pv.Tickets, pv.TicketsWithoutCompany, pv.Messages, pv.Attachments)
			return errors.New("contact erase: nothing done; add --yes to erase")
		}
		rdb, err := server.OpenRedisTimeout(ctx, cfg.RedisURL, cfg.RedisTimeout)
		if err != nil {
			return err
		}
		defer rdb.Close()
		rep, err := s.ContactErase(ctx, store.CLIEditor, id, store.ErasureOptions{DeleteTickets: *deleteTickets})
		if err != nil {
			return err
		}
		ended, err := auth.NewSessions(rdb, server.DefaultRedisPrefix, cfg.SessionLifetime).RevokeAll(ctx, auth.KindContact, id)
		if err != nil {
			return fmt.Errorf("contact erase: erased, but ending the sessions failed: %w", err)
		}
		fmt.Fprintf(stdout, "contact %d erased: %d tickets kept, %d deleted, %d files and %d mails deleted, %d mails rewritten, %d rows scrubbed, %d sessions ended\n",
			id, rep.TicketsKept, rep.TicketsDeleted, rep.AttachmentsDeleted, rep.MailsDeleted, rep.MailsScrubbed, rep.RowsScrubbed, ended)
		return nil
	})
}
