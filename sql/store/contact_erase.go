package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gocloud.dev/blob"
)

// ErasedDomain is the domain of the placeholder address an erased contact keeps
// (deleted-<id>@erased.invalid; .invalid never resolves, RFC 2606).
const ErasedDomain = "erased.invalid"

// ErasedText replaces the erased contact's address and name wherever they were written
// (message bodies, subjects, mail, logs).
const ErasedText = "[erased]"

// IsErasedAddress reports whether email is the placeholder of an erased contact: pages show
// "Deleted contact" instead.
func IsErasedAddress(email string) bool {
	return strings.HasSuffix(email, "@"+ErasedDomain) && strings.HasPrefix(email, "deleted-")
}

// ErasureOptions tune ContactErase.
type ErasureOptions struct {
	// DeleteTickets also deletes the tickets the contact requested that belong to no company
	// (nobody else's record needs them); otherwise every ticket is kept, anonymised.
	DeleteTickets bool
}

// ErasureReport counts what ContactErase did; it is the erasure's audit row (no name, no
// address in it).
type ErasureReport struct {
	ContactID           int64 `json:"contact_id"`
	TicketsDeleted      int   `json:"tickets_deleted"`
	TicketsKept         int   `json:"tickets_kept"`
	MessagesAnonymised  int   `json:"messages_anonymised"`
	AttachmentsDeleted  int   `json:"attachments_deleted"`
	MailsDeleted        int   `json:"mails_deleted"`
	MailsScrubbed       int   `json:"mails_scrubbed"`
	ExportsDeleted      int   `json:"exports_deleted"`
	RowsScrubbed        int   `json:"rows_scrubbed"`
	BlobsDeleted        int   `json:"blobs_deleted"`
	ParticipationsEnded int   `json:"participations_ended"`
}

// ErasurePreview is what erasing a contact will touch, for the confirmation page.
type ErasurePreview struct {
	Contact                                  Contact
	Tickets, TicketsWithoutCompany, Messages int
	Attachments                              int
}

// ContactErasurePreview counts what ContactErase would touch. Errors: ErrNotFound (no such
// contact, or already erased).
func (s *Store) ContactErasurePreview(ctx context.Context, id int64) (ErasurePreview, error) {
	var p ErasurePreview
	c, err := s.ContactGet(ctx, id)
	if err != nil {
		return p, err
	}
	p.Contact = c
	err = s.Pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM tickets WHERE requester_id = $1),
			(SELECT count(*) FROM tickets WHERE requester_id = $1 AND company_id IS NULL),
			(SELECT count(*) FROM messages WHERE author_contact_id = $1),
			(SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.author_contact_id = $1)
		FROM contacts WHERE id = $1 AND erased_at IS NULL`, id).Scan(&p.Tickets, &p.TicketsWithoutCompany, &p.Messages, &p.Attachments)
	if err != nil {
		return p, fmt.Errorf("contact %d: %w", id, notFound(err))
	}
	return p, nil
}

// ContactErase erases a contact (GDPR art. 17) on behalf of editor, in one transaction:
//   - their sign-in (portal account, SSO identity links, SCIM user, one-time links), API tokens, consents,
//     access-group memberships, participations, timeline, exports, deletion request and
//     queued mail to them are deleted; their satisfaction comments are emptied;
//   - files they uploaded are deleted (rows, then the blobs once committed), and so are the
//     mails they sent (raw originals included); other mails of their tickets keep their
//     original with the address and name replaced;
//   - tickets they requested are kept (with opts.DeleteTickets, those of no company are
//     deleted) and their messages stay, shown as "Deleted contact";
//   - their address and name are replaced by ErasedText in every text and JSON column of every
//     table (found in information_schema, so new tables are covered), the name where it stands
//     as a word and only when it has at least three letters; staff and other contacts' own
//     name columns are left alone;
//   - the contact row keeps its id with the address deleted-<id>@erased.invalid and no name;
//   - one audit row is written (key contact:<id>, before: the address, after: the report).
//
// The caller ends the contact's sessions (Redis). Errors: ErrNotFound (no such contact, or
// already erased), database and blob errors (nothing is changed then).
func (s *Store) ContactErase(ctx context.Context, editor Staff, id int64, opts ErasureOptions) (ErasureReport, error) {
	rep := ErasureReport{ContactID: id}
	var blobs []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var email, name string
		if err := tx.QueryRow(ctx, `SELECT email, name FROM contacts WHERE id = $1 AND erased_at IS NULL FOR UPDATE`, id).Scan(&email, &name); err != nil {
			return notFound(err)
		}
		keys := func(sql string, args ...any) ([]string, error) {
			rows, err := tx.Query(ctx, sql, args...)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		}
		exec := func(sql string, args ...any) (int, error) {
			tag, err := tx.Exec(ctx, sql, args...)
			return int(tag.RowsAffected()), err
		}
		var err error
		// Tickets that only concern them, when asked: gone with their files and mails.
		if opts.DeleteTickets {
			ks, err := keys(`SELECT a.blob_key FROM attachments a JOIN tickets t ON t.id = a.ticket_id WHERE t.requester_id = $1 AND t.company_id IS NULL
				UNION ALL SELECT i.blob_key FROM inbound_mails i JOIN tickets t ON t.id = i.ticket_id WHERE t.requester_id = $1 AND t.company_id IS NULL`, id)
			if err != nil {
				return err
			}
			blobs = append(blobs, ks...)
			if _, err := exec(`DELETE FROM inbound_mails WHERE ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 AND company_id IS NULL)`, id); err != nil {
				return err
			}
			if rep.TicketsDeleted, err = exec(`DELETE FROM tickets WHERE requester_id = $1 AND company_id IS NULL`, id); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE requester_id = $1`, id).Scan(&rep.TicketsKept); err != nil {
			return err
		}
		// Files they uploaded.
		ks, err := keys(`DELETE FROM attachments a USING messages m WHERE m.id = a.message_id AND m.author_contact_id = $1 RETURNING a.blob_key`, id)
		if err != nil {
			return err
		}
		rep.AttachmentsDeleted = len(ks)
		blobs = append(blobs, ks...)
		// Mails they sent: the stored originals go.
		ks, err = keys(`DELETE FROM inbound_mails WHERE lower(sender) = lower($2)
			OR id IN (SELECT inbound_mail_id FROM messages WHERE author_contact_id = $1 AND inbound_mail_id IS NOT NULL) RETURNING blob_key`, id, email)
		if err != nil {
			return err
		}
		rep.MailsDeleted = len(ks)
		blobs = append(blobs, ks...)
		if rep.MessagesAnonymised, err = exec(`UPDATE messages SET email_from = NULL WHERE author_contact_id = $1`, id); err != nil {
			return err
		}
		// Other mails of tickets they took part in (a Cc, a forwarded address): rewrite the
		// original without their address and name.
		scrubbed, old, err := s.scrubRawMails(ctx, tx, id, email, name)
		if err != nil {
			return err
		}
		rep.MailsScrubbed = scrubbed
		blobs = append(blobs, old...)
		// What made them a user.
		for _, q := range []string{
			`DELETE FROM portal_accounts WHERE contact_id = $1`,
			`DELETE FROM contact_identities WHERE contact_id = $1`,
			`DELETE FROM scim_users WHERE contact_id = $1`,
			`DELETE FROM ticket_guest_links WHERE contact_id = $1`,
			`DELETE FROM account_tokens WHERE contact_id = $1 OR lower(email) = lower($2)`,
			`DELETE FROM contact_consents WHERE contact_id = $1`,
			`DELETE FROM access_group_members WHERE contact_id = $1`,
			`DELETE FROM api_tokens WHERE contact_id = $1`,
			`DELETE FROM timeline_events WHERE contact_id = $1`,
			`DELETE FROM contact_erasure_requests WHERE contact_id = $1`,
			`UPDATE ticket_participants SET added_by_contact_id = NULL WHERE added_by_contact_id = $1`,
			`UPDATE ticket_ratings SET comment = '', contact_id = NULL WHERE contact_id = $1`,
			// Queued or finished jobs about them (mail to them, their exports); running ones finish.
			`DELETE FROM river_job WHERE state <> 'running' AND (position(lower($2) in lower(args::text)) > 0 OR
				(kind = 'portico_contact_export' AND (args->>'export_id')::bigint IN (SELECT ce.id FROM contact_exports ce WHERE ce.contact_id = $1)))`,
		} {
			args := []any{id}
			if strings.Contains(q, "$2") {
				args = append(args, email)
			}
			if _, err := exec(q, args...); err != nil {
				return fmt.Errorf("%s: %w", strings.Fields(q)[2], err)
			}
		}
		if rep.ParticipationsEnded, err = exec(`DELETE FROM ticket_participants WHERE contact_id = $1`, id); err != nil {
			return err
		}
		ks, err = keys(`DELETE FROM contact_exports WHERE contact_id = $1 RETURNING blob_key`, id)
		if err != nil {
			return err
		}
		rep.ExportsDeleted = len(ks)
		blobs = append(blobs, ks...)
		if _, err := exec(`UPDATE contacts SET email = 'deleted-' || id || '@`+ErasedDomain+`', name = '', language = '', company_id = NULL,
				hard_bounces = 0, last_bounce_at = NULL, last_bounce_reason = '', undeliverable = false, erased_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		// Their address and name wherever else they were written.
		if rep.RowsScrubbed, err = scrubEverywhere(ctx, tx, email, name); err != nil {
			return err
		}
		rep.BlobsDeleted = len(blobs)
		after, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, "contact:"+strconv.FormatInt(id, 10), "erased "+email, string(after))
	})
	if err != nil {
		return rep, fmt.Errorf("erase contact %d: %w", id, err)
	}
	rep.BlobsDeleted = s.deleteBlobs(ctx, blobs)
	return rep, nil
}

// nameRegexp is the PostgreSQL regular expression (ARE) of a name as a word ("" = too short to
// tell apart from other words: fewer than three letters).
func nameRegexp(name string) string {
	name = strings.TrimSpace(name)
	if len([]rune(name)) < 3 {
		return ""
	}
	return `\m` + regexp.QuoteMeta(name) + `\M`
}

// scrubColumn is one text-like column that may hold a person's address or name.
type scrubColumn struct {
	Table, Column, Type string
	// Names: whether the name is replaced here too (not in people's own name columns).
	Names bool
}

// ScrubColumns lists every text, varchar, json and jsonb column (arrays of them too) of every
// table in the current schema, the places an address or a name can be written, from
// information_schema: a table added later is covered without a change here. Generated columns
// are left out (they follow their source).
func ScrubColumns(ctx context.Context, q querier) ([]scrubColumn, error) {
	rows, err := q.Query(ctx, `SELECT c.table_name, c.column_name,
			CASE WHEN c.data_type = 'ARRAY' THEN substr(c.udt_name, 2) || '[]' ELSE c.udt_name END
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() AND c.is_generated = 'NEVER'
			AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
				OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar', '_bpchar', '_json', '_jsonb')))
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scrubColumn, error) {
		var c scrubColumn
		err := r.Scan(&c.Table, &c.Column, &c.Type)
		return c, err
	})
	for i, c := range cols {
		own := (c.Table == "contacts" || c.Table == "staff_users" || c.Table == "companies") && c.Column == "name"
		cols[i].Names = !own
	}
	return cols, err
}

// scrubEverywhere replaces email (anywhere, any case) and name (as a word, any case) by
// ErasedText in every column of ScrubColumns, table by table in one statement each, and returns
// how many rows changed.
func scrubEverywhere(ctx context.Context, tx pgx.Tx, email, name string) (int, error) {
	cols, err := ScrubColumns(ctx, tx)
	if err != nil {
		return 0, err
	}
	byTable := map[string][]scrubColumn{}
	var order []string
	for _, c := range cols {
		if _, ok := byTable[c.Table]; !ok {
			order = append(order, c.Table)
		}
		byTable[c.Table] = append(byTable[c.Table], c)
	}
	emailRE := regexp.QuoteMeta(email)
	nameRE := nameRegexp(name)
	combined := emailRE
	if nameRE != "" {
		combined = "(" + emailRE + ")|(" + nameRE + ")"
	}
	total := 0
	for _, t := range order {
		var sets, conds []string
		var args []any
		params := map[string]string{}
		arg := func(v string) string {
			if p, ok := params[v]; ok {
				return p
			}
			args = append(args, v)
			params[v] = "$" + strconv.Itoa(len(args)) + "::text"
			return params[v]
		}
		repl := arg(ErasedText)
		for _, c := range byTable[t] {
			col := pgx.Identifier{c.Column}.Sanitize()
			pattern := emailRE
			if c.Names {
				pattern = combined
			}
			re := arg(pattern)
			val := col + "::text"
			sets = append(sets, col+" = CASE WHEN "+val+" ~* "+re+" THEN regexp_replace("+val+", "+re+", "+repl+", 'gi')::"+c.Type+" ELSE "+col+" END")
			conds = append(conds, val+" ~* "+re)
		}
		sql := "UPDATE " + pgx.Identifier{t}.Sanitize() + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(conds, " OR ")
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return total, fmt.Errorf("scrub %s: %w", t, err)
		}
		total += int(tag.RowsAffected())
	}
	return total, nil
}

// maxScrubMail bounds the size of a stored mail that is rewritten in memory.
const maxScrubMail = 64 << 20

// scrubRawMails rewrites the stored originals of the mails on tickets the contact requested or
// took part in that carry their address or name (sent by someone else, e.g. with them in Cc):
// a new blob without them replaces the old one, whose key is returned for deletion after the
// commit. It returns how many mails were rewritten.
func (s *Store) scrubRawMails(ctx context.Context, tx pgx.Tx, contactID int64, email, name string) (int, []string, error) {
	if s.Blobs == nil {
		return 0, nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT i.id, i.blob_key FROM inbound_mails i WHERE i.ticket_id IN (
			SELECT id FROM tickets WHERE requester_id = $1
			UNION SELECT ticket_id FROM ticket_participants WHERE contact_id = $1
			UNION SELECT ticket_id FROM messages WHERE author_contact_id = $1)
		AND i.size_bytes <= $2`, contactID, maxScrubMail)
	if err != nil {
		return 0, nil, err
	}
	type mailRef struct {
		ID  int64
		Key string
	}
	mails, err := pgx.CollectRows(rows, pgx.RowToStructByPos[mailRef])
	if err != nil {
		return 0, nil, err
	}
	emailRE := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(email))
	var nameRE *regexp.Regexp
	if n := strings.TrimSpace(name); len([]rune(n)) >= 3 {
		nameRE = regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(n) + `\b`)
	}
	var old []string
	n := 0
	for _, m := range mails {
		r, err := s.Blobs.NewReader(ctx, m.Key, nil)
		if err != nil {
			continue // a missing original: nothing to rewrite
		}
		raw, err := io.ReadAll(io.LimitReader(r, maxScrubMail+1))
		r.Close()
		if err != nil {
			return n, old, err
		}
		out := emailRE.ReplaceAll(raw, []byte(ErasedText))
		if nameRE != nil {
			out = nameRE.ReplaceAll(out, []byte(ErasedText))
		}
		if bytes.Equal(out, raw) {
			continue
		}
		key := "inbound/" + time.Now().UTC().Format("2006/01/02") + "/scrubbed-" + randomKey() + ".eml"
		if err := s.Blobs.WriteAll(ctx, key, out, &blob.WriterOptions{ContentType: "message/rfc822"}); err != nil {
			return n, old, err
		}
		sum := sha256.Sum256(out)
		if _, err := tx.Exec(ctx, `UPDATE inbound_mails SET blob_key = $2, size_bytes = $3, sha256 = $4 WHERE id = $1`,
			m.ID, key, len(out), hex.EncodeToString(sum[:])); err != nil {
			_ = s.Blobs.Delete(context.WithoutCancel(ctx), key)
			return n, old, err
		}
		old = append(old, m.Key)
		n++
	}
	return n, old, nil
}
