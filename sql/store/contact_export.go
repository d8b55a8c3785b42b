package store

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Export statuses (contact_exports.status).
const (
	ExportQueued  = "queued"
	ExportRunning = "running"
	ExportReady   = "ready"
	ExportFailed  = "failed"
)

// ExportLifetime is how long a finished export can be downloaded before the hourly purge
// deletes it (blob and row).
const ExportLifetime = 7 * 24 * time.Hour

// ExportFormat names the layout of the zip (manifest.json's "format").
const ExportFormat = "portico-contact-export/1"

// ContactExport is one export of a contact's data (GDPR art. 15 and 20).
type ContactExport struct {
	ID, ContactID         int64
	Status                string
	ItemsDone, ItemsTotal int
	SizeBytes             int64
	SHA256                string
	CreatedAt             time.Time
	FinishedAt            *time.Time
	ExpiresAt             time.Time
	blobKey               string
}

// Downloadable reports whether the export's zip can be downloaded at now.
func (e ContactExport) Downloadable(now time.Time) bool {
	return e.Status == ExportReady && e.blobKey != "" && now.Before(e.ExpiresAt)
}

// Pending reports whether the export is still queued or being built.
func (e ContactExport) Pending() bool { return e.Status == ExportQueued || e.Status == ExportRunning }

// ExportJob builds one contact export (contact_exports row ExportID) in the background.
type ExportJob struct {
	ExportID int64 `json:"export_id"`
}

// Kind is River's job kind.
func (ExportJob) Kind() string { return "portico_contact_export" }

// ExportMaxAttempts is how often an export is tried before it is marked failed.
const ExportMaxAttempts = 3

const exportColumns = `id, contact_id, status, items_done, items_total, size_bytes, sha256, created_at, finished_at, expires_at, blob_key`

func scanExport(r pgx.Row) (ContactExport, error) {
	var e ContactExport
	err := r.Scan(&e.ID, &e.ContactID, &e.Status, &e.ItemsDone, &e.ItemsTotal, &e.SizeBytes, &e.SHA256, &e.CreatedAt, &e.FinishedAt, &e.ExpiresAt, &e.blobKey)
	return e, err
}

// ContactExportRequest queues an export of the contact's data and its job in one transaction.
// When an export of the contact is already queued or running, that one is returned and nothing
// new is queued. Errors: ErrNotFound (no such contact, or erased), database errors.
func (s *Store) ContactExportRequest(ctx context.Context, contactID int64) (ContactExport, error) {
	var e ContactExport
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT true FROM contacts WHERE id = $1 AND erased_at IS NULL FOR UPDATE`, contactID).Scan(&ok); err != nil {
			return notFound(err)
		}
		var err error
		e, err = scanExport(tx.QueryRow(ctx, `SELECT `+exportColumns+` FROM contact_exports
			WHERE contact_id = $1 AND status IN ('queued', 'running')`, contactID))
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		e, err = scanExport(tx.QueryRow(ctx, `INSERT INTO contact_exports (contact_id, expires_at) VALUES ($1, now() + $2::interval)
			RETURNING `+exportColumns, contactID, ExportLifetime.String()))
		if err != nil {
			return err
		}
		c, err := inserter()
		if err != nil {
			return err
		}
		_, err = c.InsertTx(ctx, tx, ExportJob{ExportID: e.ID}, &river.InsertOpts{MaxAttempts: ExportMaxAttempts})
		return err
	})
	if err != nil {
		return e, fmt.Errorf("contact %d export: %w", contactID, err)
	}
	return e, nil
}

// ContactExportLatest returns the contact's newest export. Errors: ErrNotFound (none).
func (s *Store) ContactExportLatest(ctx context.Context, contactID int64) (ContactExport, error) {
	e, err := scanExport(s.Pool.QueryRow(ctx, `SELECT `+exportColumns+` FROM contact_exports
		WHERE contact_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, contactID))
	if err != nil {
		return e, fmt.Errorf("contact %d export: %w", contactID, notFound(err))
	}
	return e, nil
}

// ContactExportOpen returns the contact's export id and a reader of its zip (the caller closes
// it), only while it is ready and not expired and only for its own contact. Errors: ErrNotFound
// for anything else (another contact's export, expired, pending, unknown), never a
// distinguishable answer.
func (s *Store) ContactExportOpen(ctx context.Context, contactID, id int64) (ContactExport, io.ReadCloser, error) {
	e, err := scanExport(s.Pool.QueryRow(ctx, `SELECT `+exportColumns+` FROM contact_exports
		WHERE id = $1 AND contact_id = $2 AND status = 'ready' AND expires_at > now()`, id, contactID))
	if err != nil {
		return e, nil, fmt.Errorf("export %d: %w", id, notFound(err))
	}
	if s.Blobs == nil || e.blobKey == "" {
		return e, nil, fmt.Errorf("export %d: %w", id, ErrNotFound)
	}
	r, err := s.openBlobReader(ctx, e.blobKey)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return e, nil, fmt.Errorf("export %d blob: %w", id, ErrNotFound)
		}
		return e, nil, err
	}
	return e, r, nil
}

// ContactExportBuild builds export id (the ExportJob's work): it marks it running, writes the
// zip of the contact's data into the blob store under exports/, counting progress in the row,
// and marks it ready (expiring ExportLifetime from now); the contact's older exports are deleted
// then. final says this is the last attempt: an error then marks the export failed. An export
// that no longer exists or is already finished is left alone (nil).
func (s *Store) ContactExportBuild(ctx context.Context, id int64, final bool) error {
	var contactID int64
	err := s.Pool.QueryRow(ctx, `UPDATE contact_exports SET status = 'running', items_done = 0
		WHERE id = $1 AND status IN ('queued', 'running') RETURNING contact_id`, id).Scan(&contactID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.buildExport(ctx, id, contactID); err != nil {
		if final {
			_, _ = s.Pool.Exec(context.WithoutCancel(ctx), `UPDATE contact_exports SET status = 'failed', finished_at = now() WHERE id = $1`, id)
		}
		return fmt.Errorf("export %d: %w", id, err)
	}
	return nil
}

func (s *Store) buildExport(ctx context.Context, id, contactID int64) error {
	if s.Blobs == nil {
		return errors.New("no blob store configured")
	}
	key := "exports/" + time.Now().UTC().Format("2006/01/02") + "/" + randomKey() + ".zip"
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Blobs.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/zip"})
	if err != nil {
		return err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	last := time.Time{}
	progress := func(done, total int) {
		if time.Since(last) < 250*time.Millisecond && done != total && done != 0 {
			return
		}
		last = time.Now()
		_, _ = s.Pool.Exec(ctx, `UPDATE contact_exports SET items_done = $2, items_total = $3 WHERE id = $1`, id, done, total)
	}
	if err := s.WriteContactExport(ctx, contactID, cw, progress); err != nil {
		cancel() // a cancelled context makes Close discard the blob
		_ = w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	var old []string
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE contact_exports SET status = 'ready', blob_key = $2, size_bytes = $3, sha256 = $4,
			finished_at = now(), expires_at = now() + $5::interval, items_done = items_total WHERE id = $1 AND status = 'running'`,
			id, key, cw.n, hex.EncodeToString(h.Sum(nil)), ExportLifetime.String())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // erased or purged meanwhile
			old = append(old, key)
			return nil
		}
		rows, err := tx.Query(ctx, `DELETE FROM contact_exports WHERE contact_id = $1 AND id <> $2 AND status IN ('ready', 'failed') RETURNING blob_key`, contactID, id)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		old = append(old, keys...)
		return err
	})
	if err != nil {
		_ = s.Blobs.Delete(context.WithoutCancel(ctx), key)
		return err
	}
	s.deleteBlobs(ctx, old)
	return nil
}

// deleteBlobs deletes blobs by key, ignoring empty keys and blobs already gone. It runs after
// the rows naming them were deleted: a blob left by an error is unreachable, never a dangling row.
func (s *Store) deleteBlobs(ctx context.Context, keys []string) int {
	n := 0
	if s.Blobs == nil {
		return 0
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := s.Blobs.Delete(context.WithoutCancel(ctx), k); err == nil || gcerrors.Code(err) == gcerrors.NotFound {
			n++
		}
	}
	return n
}

// ContactExportsPurge deletes exports whose download time is over (and failed or stuck ones
// past the same time), blobs included. It returns how many were deleted.
func (s *Store) ContactExportsPurge(ctx context.Context) (int, error) {
	rows, err := s.Pool.Query(ctx, `DELETE FROM contact_exports WHERE expires_at <= now() RETURNING blob_key`)
	if err != nil {
		return 0, fmt.Errorf("exports purge: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("exports purge: %w", err)
	}
	s.deleteBlobs(ctx, keys)
	return len(keys), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ExportManifest is manifest.json: what the zip holds, each file with its SHA-256.
type ExportManifest struct {
	Format      string               `json:"format"`
	GeneratedAt time.Time            `json:"generated_at"`
	ContactID   int64                `json:"contact_id"`
	Email       string               `json:"email"`
	Files       []ExportManifestFile `json:"files"`
}

// ExportManifestFile is one file of the export.
type ExportManifestFile struct {
	Path        string `json:"path"`
	Description string `json:"description"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
}

type exportProfile struct {
	ID              int64      `json:"id"`
	Email           string     `json:"email"`
	Name            string     `json:"name"`
	Language        string     `json:"language"`
	Company         string     `json:"company"`
	CreatedAt       time.Time  `json:"created_at"`
	AccountStatus   string     `json:"account_status"`
	AccountCreated  *time.Time `json:"account_created_at"`
	LastSignInAt    *time.Time `json:"last_sign_in_at"`
	HasPassword     bool       `json:"has_password"`
	AccessGroups    []string   `json:"access_groups"`
	HardBounces     int        `json:"hard_bounces"`
	LastBounceAt    *time.Time `json:"last_bounce_at"`
	Undeliverable   bool       `json:"undeliverable"`
	DeletionAskedAt *time.Time `json:"deletion_requested_at"`
}

type exportConsent struct {
	Text    string    `json:"text"`
	SHA256  string    `json:"text_sha256"`
	GivenAt time.Time `json:"given_at"`
}

type exportIdentity struct {
	Provider     string     `json:"provider"`
	Kind         string     `json:"kind"`
	Subject      string     `json:"subject"`
	Email        string     `json:"email"`
	CreatedAt    time.Time  `json:"created_at"`
	LastSignInAt *time.Time `json:"last_sign_in_at"`
}

type exportToken struct {
	Name       string     `json:"name"`
	Hint       string     `json:"hint"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type exportRating struct {
	TicketID  int64     `json:"ticket_id"`
	Score     string    `json:"score"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

type exportEvent struct {
	Kind      string    `json:"kind"`
	TicketID  *int64    `json:"ticket_id"`
	Summary   string    `json:"summary"`
	CreatedAt time.Time `json:"created_at"`
}

type exportTicket struct {
	ID             int64           `json:"id"`
	Role           string          `json:"role"`
	Subject        string          `json:"subject"`
	Description    string          `json:"description"`
	Status         string          `json:"status"`
	Stage          string          `json:"stage"`
	Pipeline       string          `json:"pipeline"`
	Priority       string          `json:"priority"`
	Category       string          `json:"category"`
	Channel        string          `json:"channel"`
	RequestedBy    string          `json:"requested_by"`
	Company        string          `json:"company"`
	Owner          string          `json:"owner"`
	CreatedAt      time.Time       `json:"created_at"`
	LastActivityAt time.Time       `json:"last_activity_at"`
	ClosedAt       *time.Time      `json:"closed_at"`
	Fields         []TicketField   `json:"fields"`
	Messages       []exportMessage `json:"messages"`
}

type exportMessage struct {
	ID           int64              `json:"id"`
	Author       string             `json:"author"`
	FromCustomer bool               `json:"from_customer"`
	Channel      string             `json:"channel"`
	Body         string             `json:"body"`
	CreatedAt    time.Time          `json:"created_at"`
	Attachments  []exportAttachment `json:"attachments"`
}

type exportAttachment struct {
	ID          int64  `json:"id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
	Path        string `json:"path"`
}

// dataScope is the predicate for a contact's own data: the tickets they requested or were made
// participant of, within the admin's ticket filters (what the portal lets them see as theirs;
// company tickets of colleagues are the colleagues' data, not theirs).
func (v Viewer) dataScope(args *[]any) string {
	if v.ContactID == 0 {
		return "false"
	}
	*args = append(*args, v.ContactID)
	p := "(t.requester_id = $" + strconv.Itoa(len(*args)) + " OR " + v.participant(args) + ")"
	return v.withFilters(p, args)
}

// WriteContactExport writes the zip of everything Portico holds about the contact to w: their
// profile, consents, sign-in identities (provider names and subjects, never secrets), API
// token metadata (never the tokens), satisfaction ratings, timeline, and the tickets they
// requested or take part in (within the admin's ticket filters) with the messages and
// attachments the portal shows them — never internal notes — and manifest.json last, listing
// every other file with its size and SHA-256. progress (may be nil) is called with items done
// and the total (tickets + attachments + 1). Errors: ErrNotFound (no such contact, or erased),
// database, blob and write errors.
func (s *Store) WriteContactExport(ctx context.Context, contactID int64, w io.Writer, progress func(done, total int)) error {
	if progress == nil {
		progress = func(int, int) {}
	}
	st, err := s.SettingsGet(ctx)
	if err != nil {
		return err
	}
	var prof exportProfile
	var companyID int64
	err = s.Pool.QueryRow(ctx, `SELECT c.id, c.email, c.name, c.language, coalesce(co.name, ''), coalesce(c.company_id, 0), c.created_at,
			coalesce(pa.status, ''), pa.created_at, pa.last_sign_in_at, coalesce(pa.password_hash, '') <> '',
			c.hard_bounces, c.last_bounce_at, c.undeliverable, er.requested_at,
			coalesce((SELECT array_agg(g.name ORDER BY g.name) FROM access_group_members m JOIN access_groups g ON g.id = m.group_id WHERE m.contact_id = c.id), '{}')
		FROM contacts c
		LEFT JOIN companies co ON co.id = c.company_id
		LEFT JOIN portal_accounts pa ON pa.contact_id = c.id
		LEFT JOIN contact_erasure_requests er ON er.contact_id = c.id
		WHERE c.id = $1 AND c.erased_at IS NULL`, contactID).Scan(&prof.ID, &prof.Email, &prof.Name, &prof.Language, &prof.Company, &companyID,
		&prof.CreatedAt, &prof.AccountStatus, &prof.AccountCreated, &prof.LastSignInAt, &prof.HasPassword,
		&prof.HardBounces, &prof.LastBounceAt, &prof.Undeliverable, &prof.DeletionAskedAt, &prof.AccessGroups)
	if err != nil {
		return fmt.Errorf("contact %d: %w", contactID, notFound(err))
	}
	v := NewViewer(contactID, companyID, st, ViewMine)

	consents, err := collect(ctx, s, `SELECT consent_text, text_sha256, given_at FROM contact_consents WHERE contact_id = $1 ORDER BY given_at, id`,
		func(r pgx.CollectableRow) (exportConsent, error) {
			var c exportConsent
			return c, r.Scan(&c.Text, &c.SHA256, &c.GivenAt)
		}, contactID)
	if err != nil {
		return err
	}
	idents, err := collect(ctx, s, `SELECT p.name, p.kind, i.subject, i.email, i.created_at, i.last_sign_in_at
		FROM contact_identities i JOIN identity_providers p ON p.id = i.provider_id WHERE i.contact_id = $1 ORDER BY i.created_at`,
		func(r pgx.CollectableRow) (exportIdentity, error) {
			var i exportIdentity
			return i, r.Scan(&i.Provider, &i.Kind, &i.Subject, &i.Email, &i.CreatedAt, &i.LastSignInAt)
		}, contactID)
	if err != nil {
		return err
	}
	tokens, err := collect(ctx, s, `SELECT name, hint, scopes, created_at, expires_at, last_used_at, revoked_at
		FROM api_tokens WHERE kind = 'customer' AND contact_id = $1 ORDER BY created_at, id`,
		func(r pgx.CollectableRow) (exportToken, error) {
			var t exportToken
			return t, r.Scan(&t.Name, &t.Hint, &t.Scopes, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
		}, contactID)
	if err != nil {
		return err
	}
	ratings, err := collect(ctx, s, `SELECT ticket_id, score, comment, created_at FROM ticket_ratings WHERE contact_id = $1 ORDER BY created_at, id`,
		func(r pgx.CollectableRow) (exportRating, error) {
			var x exportRating
			return x, r.Scan(&x.TicketID, &x.Score, &x.Comment, &x.CreatedAt)
		}, contactID)
	if err != nil {
		return err
	}
	events, err := collect(ctx, s, `SELECT kind, ticket_id, summary, created_at FROM timeline_events WHERE contact_id = $1 ORDER BY created_at, id`,
		func(r pgx.CollectableRow) (exportEvent, error) {
			var e exportEvent
			return e, r.Scan(&e.Kind, &e.TicketID, &e.Summary, &e.CreatedAt)
		}, contactID)
	if err != nil {
		return err
	}

	// The tickets, each with the public messages the viewer is shown (Viewer scope).
	args := []any{}
	scope := v.dataScope(&args)
	args = append(args, contactID)
	rows, err := s.Pool.Query(ctx, `SELECT t.id, CASE WHEN t.requester_id = $`+strconv.Itoa(len(args))+` THEN 'requester' ELSE 'participant' END,
			t.subject, t.description, t.is_closed, st.name, p.name, t.priority, t.category, t.channel,
			coalesce(nullif(rc.name, ''), rc.email, ''), coalesce(co.name, ''), coalesce(su.name, ''),
			t.created_at, t.last_activity_at, t.closed_at
		FROM tickets t
		JOIN pipelines p ON p.id = t.pipeline_id
		JOIN stages st ON st.id = t.stage_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id
		LEFT JOIN companies co ON co.id = t.company_id
		LEFT JOIN staff_users su ON su.id = t.owner_id
		WHERE `+scope+` ORDER BY t.created_at, t.id`, args...)
	if err != nil {
		return fmt.Errorf("export tickets: %w", err)
	}
	tickets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (exportTicket, error) {
		var t exportTicket
		var closed bool
		err := r.Scan(&t.ID, &t.Role, &t.Subject, &t.Description, &closed, &t.Stage, &t.Pipeline, &t.Priority, &t.Category, &t.Channel,
			&t.RequestedBy, &t.Company, &t.Owner, &t.CreatedAt, &t.LastActivityAt, &t.ClosedAt)
		t.Status = StatusOpen
		if closed {
			t.Status = StatusClosed
		}
		return t, err
	})
	if err != nil {
		return fmt.Errorf("export tickets: %w", err)
	}
	type fileRef struct {
		a    Attachment
		path string
	}
	var files []fileRef
	for i := range tickets {
		t := &tickets[i]
		if t.Fields, err = collect(ctx, s, ticketFormFieldsSQL+ticketFormFieldsOrder, pgx.RowToStructByPos[TicketField], t.ID); err != nil {
			return err
		}
		if t.Fields == nil {
			t.Fields = []TicketField{}
		}
		// The ticket is in the viewer's data scope (the query above): its public messages as
		// the portal shows them (internal notes never leave publicMessagesSQL).
		msgs, err := collect(ctx, s, publicMessagesSQL+publicMessagesOrder, scanMessage, t.ID, v.AllThreads, int64(0))
		if err != nil {
			return err
		}
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		atts, err := attachmentsOf(ctx, s.Pool, ids)
		if err != nil {
			return err
		}
		for i := range msgs {
			msgs[i].Attachments = atts[msgs[i].ID]
		}
		t.Messages = make([]exportMessage, 0, len(msgs))
		for _, m := range msgs {
			em := exportMessage{ID: m.ID, Author: m.AuthorName, FromCustomer: m.FromCustomer, Channel: m.Channel, Body: m.Body, CreatedAt: m.CreatedAt,
				Attachments: []exportAttachment{}}
			for _, a := range m.Attachments {
				p := "tickets/" + strconv.FormatInt(t.ID, 10) + "/attachments/" + strconv.FormatInt(a.ID, 10) + "-" + exportFileName(a.FileName)
				em.Attachments = append(em.Attachments, exportAttachment{ID: a.ID, FileName: a.FileName, ContentType: a.ContentType, SizeBytes: a.SizeBytes, SHA256: a.SHA256, Path: p})
				files = append(files, fileRef{a: a, path: p})
			}
			t.Messages = append(t.Messages, em)
		}
	}
	total := len(tickets) + len(files) + 1
	done := 0
	progress(done, total)

	zw := zip.NewWriter(w)
	man := ExportManifest{Format: ExportFormat, GeneratedAt: time.Now().UTC(), ContactID: contactID, Email: prof.Email}
	add := func(name, desc, ctype string, r io.Reader) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: man.GeneratedAt})
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(fw, h), r)
		if err != nil {
			return err
		}
		man.Files = append(man.Files, ExportManifestFile{Path: name, Description: desc, ContentType: ctype, SizeBytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	addJSON := func(name, desc string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return add(name, desc, "application/json", bytes.NewReader(b))
	}
	if prof.AccessGroups == nil {
		prof.AccessGroups = []string{}
	}
	parts := []struct {
		name, desc string
		v          any
	}{
		{"profile.json", "profile: name, email, language, company, portal account, access groups", prof},
		{"consents.json", "consents to process given at registration, with the text shown", nonNil(consents)},
		{"identities.json", "single sign-on identities linked to the account (provider and subject)", nonNil(idents)},
		{"api_tokens.json", "personal API tokens (names and metadata; the tokens themselves are never stored)", nonNil(tokens)},
		{"ratings.json", "satisfaction answers", nonNil(ratings)},
		{"timeline.json", "the contact's timeline events", nonNil(events)},
	}
	for _, p := range parts {
		if err := addJSON(p.name, p.desc, p.v); err != nil {
			return err
		}
	}
	done++
	progress(done, total)
	for _, t := range tickets {
		if err := addJSON("tickets/"+strconv.FormatInt(t.ID, 10)+"/ticket.json", "ticket and its messages", t); err != nil {
			return err
		}
		done++
		progress(done, total)
	}
	for _, f := range files {
		r, err := s.openBlob(ctx, f.a)
		if errors.Is(err, ErrNotFound) {
			done++ // a blob gone missing: the ticket.json still describes it
			continue
		}
		if err != nil {
			return err
		}
		err = add(f.path, "attachment", f.a.ContentType, r)
		r.Close()
		if err != nil {
			return err
		}
		done++
		progress(done, total)
	}
	if man.Files == nil {
		man.Files = []ExportManifestFile{}
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: man.GeneratedAt})
	if err != nil {
		return err
	}
	if _, err := fw.Write(b); err != nil {
		return err
	}
	return zw.Close()
}

// collect runs a query with args and scans every row with fn.
func collect[T any](ctx context.Context, s *Store, sql string, fn pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fn)
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// exportFileName makes a stored file name safe as the last element of a zip path.
func exportFileName(name string) string {
	n := path.Base(SanitizeFileName(name))
	if n == "." || n == "/" || n == "" {
		return "file"
	}
	return n
}
