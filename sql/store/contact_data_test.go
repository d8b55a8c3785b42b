package store_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// gdprWorld is a database with two contacts of one company whose data is planted in every
// place Portico keeps personal data; the other contact's texts carry OTHER-CANARY.
type gdprWorld struct {
	pool                        *pgxpool.Pool
	st                          *store.Store
	company                     int64
	target, other               int64
	targetEmail, targetName     string
	otherEmail, otherName       string
	targetTicket, privateTicket int64
	otherTicket, sharedTicket   int64
	targetAttKey, noteAttKey    string
	otherAttKey                 string
	targetMailKey, ccMailKey    string
	targetToken                 string
}

func newGDPRWorld(t *testing.T) *gdprWorld {
	t.Helper()
	ctx := context.Background()
	pool := storetest.NewDB(t)
	st := store.New(pool)
	bucket, err := fileblob.OpenBucket(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	st.Blobs = bucket
	w := &gdprWorld{pool: pool, st: st,
		targetEmail: "tessa.target@example.test", targetName: "Tessa Target-Quill",
		otherEmail: "otto.other@example.test", otherName: "Otto Oswald"}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	one := func(sql string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := pool.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return id
	}
	w.company = storetest.MustCompany(t, pool, "Acme")
	w.target = storetest.MustContact(t, pool, w.targetEmail, w.targetName, w.company, "correct horse battery")
	w.other = storetest.MustContact(t, pool, w.otherEmail, w.otherName, w.company, "correct horse battery")
	staff := storetest.MustStaff(t, pool, "agent@portico.test", "Agnes Agent", "agent", "")

	// The company's view is on: the export still holds only the contact's own tickets.
	if err := st.SettingSet(ctx, "ticket_permissions", "company"); err != nil {
		t.Fatal(err)
	}
	w.targetTicket = storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Printer jams for " + w.targetName, RequesterID: w.target, CompanyID: w.company,
		Body:   "T-PUBLIC-CANARY: my printer jams. Regards, " + w.targetName + " <" + w.targetEmail + ">",
		Answer: "Hello " + w.targetName + ", try the rear tray.", Note: "INTERNAL-NOTE-CANARY about " + w.targetName})
	w.privateTicket = storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Private question", RequesterID: w.target,
		Body: "T-PRIVATE-CANARY: a question of my own."})
	w.otherTicket = storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "OTHER-CANARY-SUBJECT", RequesterID: w.other, CompanyID: w.company,
		Body: "OTHER-CANARY-MESSAGE from " + w.otherEmail, Note: "OTHER-CANARY-NOTE"})
	w.sharedTicket = storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Shared plan", RequesterID: w.other, CompanyID: w.company,
		Body: "SHARED-VISIBLE plan for the team"})
	exec(`INSERT INTO ticket_participants (ticket_id, contact_id, added_via, added_by_contact_id) VALUES ($1, $2, 'portal', $3)`, w.sharedTicket, w.target, w.other)
	exec(`INSERT INTO ticket_participants (ticket_id, contact_id, added_via, added_by_contact_id) VALUES ($1, $2, 'portal', $3)`, w.targetTicket, w.other, w.target)

	// Files: the target's upload, a file on the internal note, the other's upload.
	attach := func(ticket int64, kind string, author *int64, name, content string) string {
		t.Helper()
		key := "attachments/test/" + storetest.RandHex(8)
		if err := bucket.WriteAll(ctx, key, []byte(content), nil); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(content))
		exec(`INSERT INTO attachments (message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key)
			SELECT id, ticket_id, $3, 'text/plain', $4, $5, $6 FROM messages
			WHERE ticket_id = $1 AND kind = $2 AND author_contact_id IS NOT DISTINCT FROM $7 ORDER BY id LIMIT 1`,
			ticket, kind, name, len(content), hex.EncodeToString(sum[:]), key, author)
		return key
	}
	w.targetAttKey = attach(w.targetTicket, "public", &w.target, "jam.txt", "T-ATTACHMENT-BYTES")
	w.noteAttKey = attach(w.targetTicket, "internal_note", nil, "note.txt", "INTERNAL-ATTACHMENT-CANARY")
	w.otherAttKey = attach(w.otherTicket, "public", &w.other, "other.txt", "OTHER-CANARY-FILE")

	// Mail: the target's own mail (its message carries the original), and the other's mail
	// with the target in Cc on the target's ticket.
	mail := func(sender, raw string, ticket int64) (int64, string) {
		t.Helper()
		key := "inbound/test/" + storetest.RandHex(8) + ".eml"
		if err := bucket.WriteAll(ctx, key, []byte(raw), nil); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(raw))
		id := one(`INSERT INTO inbound_mails (dedup_key, message_id, source, recipient, sender, subject, size_bytes, sha256, blob_key, status, ticket_id)
			VALUES ($1, $1, 'lmtp', 'support@portico.test', $2, 'Printer', $3, $4, $5, 'processed', $6) RETURNING id`,
			"mid:"+storetest.RandHex(6), sender, len(raw), hex.EncodeToString(sum[:]), key, ticket)
		return id, key
	}
	mid, key := mail(w.targetEmail, "From: "+w.targetName+" <"+w.targetEmail+">\r\nSubject: Printer\r\n\r\nIt jams.\r\n", w.targetTicket)
	w.targetMailKey = key
	exec(`UPDATE messages SET inbound_mail_id = $2, email_from = $3 WHERE ticket_id = $1 AND author_contact_id IS NOT NULL`, w.targetTicket, mid, w.targetEmail)
	_, w.ccMailKey = mail(w.otherEmail, "From: "+w.otherName+" <"+w.otherEmail+">\r\nCc: "+w.targetName+" <"+w.targetEmail+">\r\nSubject: Printer\r\n\r\nSame here.\r\n", w.targetTicket)

	// Sign-in, consent, groups, tokens, ratings, timeline, audit, queued mail.
	prov := one(`INSERT INTO identity_providers (slug, kind, name, secrets) VALUES ('okta', 'okta', 'Acme Okta', '\x0102') RETURNING id`)
	exec(`INSERT INTO contact_identities (provider_id, subject, contact_id, email) VALUES ($1, 'okta-subject-tessa', $2, $3)`, prov, w.target, w.targetEmail)
	exec(`INSERT INTO contact_identities (provider_id, subject, contact_id, email) VALUES ($1, 'okta-subject-otto', $2, $3)`, prov, w.other, w.otherEmail)
	exec(`INSERT INTO scim_users (contact_id, provider_id, user_name, external_id, given_name, family_name) VALUES ($1, $2, $3, 'ext-tessa', 'Tessa', 'Target-Quill')`,
		w.target, prov, w.targetEmail)
	exec(`INSERT INTO contact_consents (contact_id, consent_text, text_sha256, given_at) VALUES ($1, 'T-CONSENT-TEXT', 'x', now())`, w.target)
	exec(`INSERT INTO ticket_guest_links (ticket_id, contact_id, token_hash, expires_at) VALUES ($1, $2, sha256('guest'), now() + interval '1 day')`, w.targetTicket, w.target)
	exec(`INSERT INTO contact_consents (contact_id, consent_text, text_sha256, given_at) VALUES ($1, 'OTHER-CANARY-CONSENT', 'x', now())`, w.other)
	exec(`INSERT INTO account_tokens (token_hash, purpose, contact_id, email, payload, expires_at) VALUES ('\x01', 'reset', $1, $2, $3, now() + interval '1 hour')`,
		w.target, w.targetEmail, `{"name": "`+w.targetName+`"}`)
	grp := one(`INSERT INTO access_groups (name) VALUES ('Customers') RETURNING id`)
	exec(`INSERT INTO access_group_members (group_id, contact_id) VALUES ($1, $2), ($1, $3)`, grp, w.target, w.other)
	if w.targetToken, err = st.APITokenCreateForContact(ctx, w.target, "T-TOKEN-NAME", 30); err != nil {
		t.Fatal(err)
	}
	if _, err := st.APITokenCreateForContact(ctx, w.other, "OTHER-CANARY-TOKEN", 30); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO ticket_ratings (ticket_id, closed_at, contact_id, score, comment) VALUES ($1, now(), $2, 'good', $3)`,
		w.targetTicket, w.target, "T-RATING-COMMENT from "+w.targetName)
	exec(`INSERT INTO ticket_ratings (ticket_id, closed_at, contact_id, score, comment) VALUES ($1, now(), $2, 'bad', 'OTHER-CANARY-RATING')`, w.otherTicket, w.other)
	exec(`INSERT INTO timeline_events (contact_id, kind, ticket_id, summary) VALUES ($1, 'ticket', $2, 'Printer jams'), ($3, 'ticket', $4, 'OTHER-CANARY-SUBJECT')`,
		w.target, w.targetTicket, w.other, w.otherTicket)
	exec(`INSERT INTO audit_log (staff_id, staff_name, key, before, after) VALUES ($1, 'Agnes Agent', 'contact:1', $2, $3)`,
		staff, "email=old@example.test name="+w.targetName, "email="+w.targetEmail)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.EnqueueMail(ctx, tx, store.MailJob{Template: "ticket_reply", To: w.targetEmail, Name: w.targetName, Ticket: "Printer"}); err != nil {
			return err
		}
		return store.EnqueueMail(ctx, tx, store.MailJob{Template: "ticket_shared", To: w.otherEmail, Name: w.otherName, By: w.targetName})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ContactErasureRequest(ctx, w.target); err != nil {
		t.Fatal(err)
	}
	return w
}

// unzip returns the files of a zip by name.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(r)
		r.Close()
	}
	return out
}

// TestContactExportContents: the zip holds exactly the contact's data: profile, consent,
// identity, token metadata, rating, their tickets (requested and shared with them) with public
// messages and their files; manifest.json lists every other file with its SHA-256; nothing of
// the colleague's own tickets, consents, tokens or ratings (OTHER-CANARY), no internal note or
// its file, no token secret.
func TestContactExportContents(t *testing.T) {
	w := newGDPRWorld(t)
	var buf bytes.Buffer
	var calls, lastDone, lastTotal int
	err := w.st.WriteContactExport(context.Background(), w.target, &buf, func(d, n int) { calls, lastDone, lastTotal = calls+1, d, n })
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	var man store.ExportManifest
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if man.Format != store.ExportFormat || man.ContactID != w.target || man.Email != w.targetEmail {
		t.Errorf("manifest header: %+v", man)
	}
	listed := map[string]bool{}
	for _, f := range man.Files {
		b, ok := files[f.Path]
		if !ok {
			t.Errorf("manifest lists %s, not in the zip", f.Path)
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(b)) != f.SizeBytes {
			t.Errorf("%s: sha256/size in manifest %s/%d, file %x/%d", f.Path, f.SHA256, f.SizeBytes, sum, len(b))
		}
		listed[f.Path] = true
	}
	var names []string
	for n := range files {
		names = append(names, n)
		if n != "manifest.json" && !listed[n] {
			t.Errorf("%s is in the zip but not in the manifest", n)
		}
	}
	sort.Strings(names)
	t.Logf("zip: %v", names)
	id := itoa
	want := []string{"api_tokens.json", "consents.json", "identities.json", "manifest.json", "profile.json", "ratings.json", "timeline.json",
		"tickets/" + id(w.privateTicket) + "/ticket.json", "tickets/" + id(w.sharedTicket) + "/ticket.json", "tickets/" + id(w.targetTicket) + "/ticket.json"}
	for _, n := range want {
		if _, ok := files[n]; !ok {
			t.Errorf("zip lacks %s", n)
		}
	}
	var attachments []string
	for _, n := range names {
		if strings.Contains(n, "/attachments/") {
			attachments = append(attachments, n)
		}
	}
	if len(attachments) != 1 || !strings.HasPrefix(attachments[0], "tickets/"+id(w.targetTicket)+"/attachments/") || !strings.HasSuffix(attachments[0], "-jam.txt") ||
		string(files[attachments[0]]) != "T-ATTACHMENT-BYTES" {
		t.Errorf("attachments in the zip: %v", attachments)
	}
	if _, ok := files["tickets/"+id(w.otherTicket)+"/ticket.json"]; ok {
		t.Error("the colleague's own ticket is in the export")
	}
	var all strings.Builder
	for _, b := range files {
		all.Write(b)
	}
	text := all.String()
	for _, s := range []string{"T-PUBLIC-CANARY", "T-PRIVATE-CANARY", "T-CONSENT-TEXT", "Acme Okta", "okta-subject-tessa", "T-TOKEN-NAME",
		"T-RATING-COMMENT", "SHARED-VISIBLE", "try the rear tray", w.targetEmail, "Customers"} {
		if !strings.Contains(text, s) {
			t.Errorf("export lacks %q", s)
		}
	}
	for _, s := range []string{"OTHER-CANARY", "INTERNAL-NOTE-CANARY", "INTERNAL-ATTACHMENT-CANARY", w.otherEmail, "okta-subject-otto", "token_hash", w.targetToken} {
		if strings.Contains(text, s) {
			t.Errorf("export holds %q", s)
		}
	}
	if calls == 0 || lastDone != lastTotal || lastTotal != 3+1+1 { // 3 tickets, 1 file, the profile files
		t.Errorf("progress: %d calls, last %d of %d", calls, lastDone, lastTotal)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestContactExportJobAndDownload: a request queues one export (a second request while it is
// pending returns the same one); building it stores a zip whose SHA-256 the row records; only
// its own contact can open it (another contact: ErrNotFound); once expired it cannot be opened
// and the purge deletes row and blob.
func TestContactExportJobAndDownload(t *testing.T) {
	w := newGDPRWorld(t)
	ctx := context.Background()
	e, err := w.st.ContactExportRequest(ctx, w.target)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.st.ContactExportRequest(ctx, w.target)
	if err != nil || again.ID != e.ID || e.Status != store.ExportQueued {
		t.Fatalf("second request: %+v %v (first %+v)", again, err, e)
	}
	var jobs int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'portico_contact_export' AND args->>'export_id' = $1`, itoa(e.ID)).Scan(&jobs); err != nil || jobs != 1 {
		t.Fatalf("export jobs queued: %d %v", jobs, err)
	}
	if _, _, err := w.st.ContactExportOpen(ctx, w.target, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open while queued: %v", err)
	}
	if err := w.st.ContactExportBuild(ctx, e.ID, false); err != nil {
		t.Fatal(err)
	}
	got, r, err := w.st.ContactExportOpen(ctx, w.target, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	sum := sha256.Sum256(b)
	if got.Status != store.ExportReady || got.SHA256 != hex.EncodeToString(sum[:]) || got.SizeBytes != int64(len(b)) || got.ItemsDone != got.ItemsTotal || got.ItemsTotal == 0 {
		t.Fatalf("ready export: %+v (zip %d bytes)", got, len(b))
	}
	if !time.Now().Add(store.ExportLifetime - time.Hour).Before(got.ExpiresAt) {
		t.Errorf("expires at %v", got.ExpiresAt)
	}
	if files := unzip(t, b); files["manifest.json"] == nil {
		t.Fatal("no manifest in the stored zip")
	}
	if _, _, err := w.st.ContactExportOpen(ctx, w.other, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another contact opens the export: %v", err)
	}
	var key string
	if err := w.pool.QueryRow(ctx, `SELECT blob_key FROM contact_exports WHERE id = $1`, e.ID).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if n, err := w.st.ContactExportsPurge(ctx); err != nil || n != 0 {
		t.Fatalf("purge of a fresh export: %d %v", n, err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE contact_exports SET expires_at = now() - interval '1 second' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.st.ContactExportOpen(ctx, w.target, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired export opens: %v", err)
	}
	if n, err := w.st.ContactExportsPurge(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if ok, _ := w.st.Blobs.Exists(ctx, key); ok {
		t.Error("the purged export's zip is still in the blob store")
	}
}

// TestContactEraseLeavesNoTrace erases a contact whose address and name were planted in every
// place Portico keeps them, then reads every row of every table of the schema (listed from
// information_schema, so a table added later is checked too) as text, and every bytea column,
// and finds neither the address nor the name except in the erasure's audit row. The tickets
// stay (their messages shown as from the erased contact), the other contact's data stays, the
// target's files and mails are gone from the blob store, the Cc mail is rewritten.
func TestContactEraseLeavesNoTrace(t *testing.T) {
	w := newGDPRWorld(t)
	ctx := context.Background()
	if _, err := w.st.ContactExportRequest(ctx, w.target); err != nil {
		t.Fatal(err)
	}
	var exportID int64
	w.pool.QueryRow(ctx, `SELECT id FROM contact_exports WHERE contact_id = $1`, w.target).Scan(&exportID)
	if err := w.st.ContactExportBuild(ctx, exportID, false); err != nil {
		t.Fatal(err)
	}
	var exportKey string
	w.pool.QueryRow(ctx, `SELECT blob_key FROM contact_exports WHERE id = $1`, exportID).Scan(&exportKey)

	rep, err := w.st.ContactErase(ctx, store.CLIEditor, w.target, store.ErasureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", rep)
	if rep.TicketsKept != 2 || rep.AttachmentsDeleted != 1 || rep.MailsDeleted != 1 || rep.MailsScrubbed != 1 || rep.ExportsDeleted != 1 {
		t.Errorf("report: %+v", rep)
	}
	if _, err := w.st.ContactErase(ctx, store.CLIEditor, w.target, store.ErasureOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erasing twice: %v", err)
	}

	tables := assertNoTrace(t, w.pool, w.target, w.targetEmail, w.targetName)
	t.Logf("checked %d tables: %s", len(tables), strings.Join(tables, ", "))
	for _, must := range []string{"contacts", "messages", "tickets", "inbound_mails", "audit_log", "river_job", "ticket_ratings", "account_tokens", "contact_identities", "scim_users", "webhook_deliveries"} {
		found := false
		for _, tb := range tables {
			found = found || tb == must
		}
		if !found {
			t.Errorf("table %s was not checked", must)
		}
	}

	// The tickets stay, the messages too, from the erased contact.
	var kept, msgs int
	w.pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE requester_id = $1`, w.target).Scan(&kept)
	w.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE body NOT LIKE 'T-PUBLIC-CANARY%' OR body LIKE '%Regards, [erased] <[erased]>')
		FROM messages WHERE author_contact_id = $1 AND kind = 'public'`, w.target).Scan(&msgs)
	if kept != 2 || msgs != 2 {
		t.Errorf("kept %d tickets and %d anonymised messages", kept, msgs)
	}
	var email, name string
	w.pool.QueryRow(ctx, `SELECT email, name FROM contacts WHERE id = $1`, w.target).Scan(&email, &name)
	if !store.IsErasedAddress(email) || name != "" {
		t.Errorf("erased contact row: %q %q", email, name)
	}
	// The other contact is untouched.
	var otherRows int
	w.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contacts WHERE email = $1 AND name = $2) + (SELECT count(*) FROM messages WHERE body LIKE 'OTHER-CANARY-MESSAGE from ' || $1)
		+ (SELECT count(*) FROM contact_identities WHERE contact_id = $3) + (SELECT count(*) FROM api_tokens WHERE contact_id = $3)`, w.otherEmail, w.otherName, w.other).Scan(&otherRows)
	if otherRows != 4 {
		t.Errorf("the other contact's rows: %d of 4", otherRows)
	}
	// Blobs: the target's upload, own mail and export are gone; the note's and the other's stay;
	// the Cc mail was rewritten without the address or name.
	for key, want := range map[string]bool{w.targetAttKey: false, w.targetMailKey: false, exportKey: false, w.ccMailKey: false, w.noteAttKey: true, w.otherAttKey: true} {
		if ok, _ := w.st.Blobs.Exists(ctx, key); ok != want {
			t.Errorf("blob %s exists: %v, want %v", key, ok, want)
		}
	}
	assertBlobsClean(t, w.st.Blobs, w.targetEmail, w.targetName)
}

// assertNoTrace reads every base table of the current schema and fails the test for each row
// that holds email or name (any case), except the erasure's audit row of contact id. It returns
// the tables it checked.
func assertNoTrace(t *testing.T, pool *pgxpool.Pool, id int64, email, name string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 20 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	audit := "contact:" + itoa(id)
	for _, tb := range tables {
		q := `SELECT x::text FROM ` + pgx.Identifier{tb}.Sanitize() + ` x WHERE (x::text ILIKE '%' || $1 || '%' OR x::text ILIKE '%' || $2 || '%')`
		if tb == "audit_log" {
			q += ` AND NOT (x.key = '` + audit + `' AND x.before LIKE 'erased %')`
		}
		rows, err := pool.Query(ctx, q, email, name)
		if err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("table %s still holds the erased contact: %.300s", tb, f)
		}
	}
	// Bytes: every bytea column, searched for the address.
	rows, err = pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'bytea'`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ T, C string }
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[col])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{c.T}.Sanitize()+` WHERE position(convert_to($1, 'UTF8') IN `+pgx.Identifier{c.C}.Sanitize()+`) > 0`, email).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("bytea column %s.%s holds the erased address in %d rows", c.T, c.C, n)
		}
	}
	// No row of any table links to the contact through a contact_id column (sign-in, tokens,
	// participations, guest links, SCIM…): what the contact was is gone, only their id remains
	// on the tickets and messages kept.
	rows, err = pool.Query(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'contact_id' AND table_name <> 'contacts'`)
	if err != nil {
		t.Fatal(err)
	}
	linked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(linked) < 10 {
		t.Fatalf("tables with contact_id: %v %v", linked, err)
	}
	for _, tb := range linked {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{tb}.Sanitize()+` WHERE contact_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("table %s still links %d rows to the erased contact", tb, n)
		}
	}
	// And the audit row exists, once.
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1 AND before LIKE 'erased %'`, audit).Scan(&n)
	if n != 1 {
		t.Errorf("erasure audit rows: %d", n)
	}
	return tables
}

// assertBlobsClean fails the test for every blob that holds email or name.
func assertBlobsClean(t *testing.T, b *blob.Bucket, email, name string) {
	t.Helper()
	ctx := context.Background()
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if obj.IsDir {
			continue
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		l := strings.ToLower(string(data))
		if strings.Contains(l, strings.ToLower(email)) || strings.Contains(l, strings.ToLower(name)) {
			t.Errorf("blob %s still holds the erased contact", obj.Key)
		}
	}
}

// TestContactEraseDeletesPrivateTickets: with DeleteTickets the ticket of no company goes
// (its messages too), the company's ticket stays.
func TestContactEraseDeletesPrivateTickets(t *testing.T) {
	w := newGDPRWorld(t)
	ctx := context.Background()
	rep, err := w.st.ContactErase(ctx, store.CLIEditor, w.target, store.ErasureOptions{DeleteTickets: true})
	if err != nil {
		t.Fatal(err)
	}
	var private, company int
	w.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tickets WHERE id = $1), (SELECT count(*) FROM tickets WHERE id = $2)`, w.privateTicket, w.targetTicket).Scan(&private, &company)
	if rep.TicketsDeleted != 1 || rep.TicketsKept != 1 || private != 0 || company != 1 {
		t.Errorf("report %+v; private ticket rows %d, company ticket rows %d", rep, private, company)
	}
	assertNoTrace(t, w.pool, w.target, w.targetEmail, w.targetName)
}
