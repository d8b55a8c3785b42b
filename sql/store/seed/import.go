package seed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/schollz/progressbar/v3"
	"portico/sql/store"
)

// ImportOptions tunes TicketImport.
type ImportOptions struct {
	// DemoContacts, when > 0, gives every row without a requester_email one of this many
	// deterministic demo contacts (4 per demo company), chosen from the row's import key.
	DemoContacts int
	// Progress, when non-nil, receives a byte progress bar. The caller decides whether it is a
	// terminal; TicketImport draws the bar unconditionally.
	Progress io.Writer
	// Size is the input size in bytes for the progress bar; 0 means unknown (a spinner).
	Size int64
	// Report, when non-nil, is called once per bad row with its 1-based line number in the file
	// and the reason, in file order.
	Report func(line int, msg string)
}

// BadRow is one CSV record that was not imported.
type BadRow struct {
	// Line is the 1-based line of the file where the record starts.
	Line int
	// Reason says what is wrong, naming the column and value where there is one.
	Reason string
}

// ImportSummary counts the outcome of TicketImport. Rows = Imported + Duplicates + Bad.
type ImportSummary struct {
	Rows       int // data records read (the header is not counted)
	Imported   int // new tickets created
	Duplicates int // records whose import key was already present (imported before)
	Bad        int // records refused; see BadRows
	BadRows    []BadRow
}

// ImportMaxSubjectRunes is the longest subject TicketImport accepts, in characters.
const ImportMaxSubjectRunes = 500

// importMaxPriorityRunes is the longest priority TicketImport accepts, in characters.
const importMaxPriorityRunes = 40

// importBatch is how many ticket inserts TicketImport pipelines in one round trip.
const importBatch = 250

// importChannels are the accepted values of the channel column (conversations.channel).
var importChannels = map[string]bool{"email": true, "chat": true, "messenger": true, "form": true, "portal": true, "phone": true}

// closedStageNames make a stage created by the import a closed one (compared lower-cased).
var closedStageNames = map[string]bool{"closed": true, "resolved": true, "solved": true, "done": true,
	"gesloten": true, "geschlossen": true, "fermé": true, "cerrado": true}

// defaultStages are the stages of a pipeline created by the import (and of the seeded Support).
var defaultStages = []struct {
	name   string
	closed bool
}{{"New", false}, {"Waiting on contact", false}, {"Waiting on us", false}, {"Closed", true}}

// importColumn maps a header name (lower-cased, trimmed) to its canonical field, or "" when
// the column is a custom property.
func importColumn(h string) string {
	switch h {
	case "subject", "body", "answer", "requester_email", "requester_name", "company", "pipeline",
		"stage", "priority", "category", "channel", "created_at", "language", "tags":
		return h
	case "queue":
		return "pipeline"
	case "type":
		return "category"
	}
	if n, ok := strings.CutPrefix(h, "tag_"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		return "tag"
	}
	return ""
}

// importHeader is the parsed header row.
type importHeader struct {
	names []string         // lower-cased, trimmed
	cols  map[string][]int // canonical field -> column indexes, in file order
	props []int            // indexes of custom-property columns
}

func parseImportHeader(rec []string) (importHeader, error) {
	h := importHeader{names: make([]string, len(rec)), cols: map[string][]int{}}
	for i, raw := range rec {
		if i == 0 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		name := strings.ToLower(strings.TrimSpace(raw))
		h.names[i] = name
		if c := importColumn(name); c != "" {
			h.cols[c] = append(h.cols[c], i)
		} else if name != "" {
			h.props = append(h.props, i)
		}
	}
	for _, req := range []string{"subject", "body"} {
		if len(h.cols[req]) == 0 {
			return h, fmt.Errorf("the header has no %q column (found: %s)", req, strings.Join(h.names, ", "))
		}
	}
	return h, nil
}

// get returns the first non-empty cell of the canonical field, or "".
func (h importHeader) get(rec []string, field string) string {
	for _, i := range h.cols[field] {
		if rec[i] != "" {
			return rec[i]
		}
	}
	return ""
}

// importRow is a validated record ready to insert.
type importRow struct {
	line                             int
	key                              string
	subject, body, answer            string
	email, name, company             string
	pipeline, stage                  string
	priority, category, channel      string
	language                         string
	tags                             []string
	props                            map[string]string
	createdAt                        time.Time
	pipelineID, stageID, requesterID int64
	companyID                        int64
	closed                           bool
}

// importKey is the hex sha256 of the header names and the cells, each joined with \x1f.
func importKey(h importHeader, rec []string) string {
	sum := sha256.New()
	sum.Write([]byte(strings.Join(h.names, "\x1f")))
	sum.Write([]byte{0x1e})
	sum.Write([]byte(strings.Join(rec, "\x1f")))
	return hex.EncodeToString(sum.Sum(nil))
}

// keyUint64 returns 8 bytes of the import key from byte offset off as a big-endian integer.
func keyUint64(key string, off int) uint64 {
	b, err := hex.DecodeString(key[off*2 : off*2+16])
	if err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// parseImportRow validates a record. It returns the reason when the row is bad.
func parseImportRow(h importHeader, rec []string, line int, now time.Time) (importRow, string) {
	r := importRow{line: line, key: importKey(h, rec)}
	r.body = h.get(rec, "body")
	if strings.TrimSpace(r.body) == "" {
		return r, "body is empty"
	}
	if !utf8.ValidString(strings.Join(rec, "")) {
		return r, "the row is not valid UTF-8"
	}
	r.subject = strings.TrimSpace(h.get(rec, "subject"))
	if r.subject == "" {
		r.subject = SubjectFromBody(r.body)
	}
	if n := utf8.RuneCountInString(r.subject); n > ImportMaxSubjectRunes {
		return r, fmt.Sprintf("subject is %d characters long, at most %d allowed", n, ImportMaxSubjectRunes)
	}
	r.answer = h.get(rec, "answer")
	if strings.TrimSpace(r.answer) == "" {
		r.answer = ""
	}
	if v := strings.TrimSpace(h.get(rec, "requester_email")); v != "" {
		e, err := store.NormalizeEmail(v)
		if err != nil {
			return r, fmt.Sprintf("requester_email %q is not a valid email address", v)
		}
		r.email = e
	}
	r.name = strings.TrimSpace(h.get(rec, "requester_name"))
	r.company = strings.TrimSpace(h.get(rec, "company"))
	r.pipeline = strings.TrimSpace(h.get(rec, "pipeline"))
	if r.pipeline == "" {
		r.pipeline = "Support"
	}
	r.stage = strings.TrimSpace(h.get(rec, "stage"))
	r.priority = strings.ToLower(strings.TrimSpace(h.get(rec, "priority")))
	if n := utf8.RuneCountInString(r.priority); n > importMaxPriorityRunes {
		return r, fmt.Sprintf("priority is %d characters long, at most %d allowed", n, importMaxPriorityRunes)
	}
	if r.priority != "" && !slices.Contains(store.Priorities, r.priority) {
		return r, fmt.Sprintf("priority %q is not one of %s", h.get(rec, "priority"), strings.Join(store.Priorities, ", "))
	}
	r.category = strings.TrimSpace(h.get(rec, "category"))
	r.channel = "email"
	if v := strings.TrimSpace(h.get(rec, "channel")); v != "" {
		if !importChannels[strings.ToLower(v)] {
			return r, fmt.Sprintf("channel %q is not one of email, chat, messenger, form, portal, phone", v)
		}
		r.channel = strings.ToLower(v)
	}
	if v := strings.TrimSpace(h.get(rec, "created_at")); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return r, fmt.Sprintf("created_at %q is not an RFC 3339 time (like 2024-05-01T09:30:00Z)", v)
		}
		r.createdAt = t
	} else {
		// Deterministic per row content: between 3 hours and 90 days before the current hour,
		// so that an answer 2 hours later is still in the past.
		const span = 90*24*3600 - 3*3600
		off := time.Duration(3*3600+keyUint64(r.key, 8)%span) * time.Second
		r.createdAt = now.Truncate(time.Hour).Add(-off)
	}
	r.language = strings.TrimSpace(h.get(rec, "language"))
	seen := map[string]bool{}
	addTags := func(cell, sep string) {
		for _, t := range strings.Split(cell, sep) {
			if t = strings.TrimSpace(t); t != "" && !seen[t] {
				seen[t] = true
				r.tags = append(r.tags, t)
			}
		}
	}
	for _, i := range h.cols["tags"] {
		addTags(rec[i], ";")
	}
	for _, i := range h.cols["tag"] {
		addTags(rec[i], ",")
	}
	if r.tags == nil {
		r.tags = []string{}
	}
	r.props = map[string]string{}
	for _, i := range h.props {
		if rec[i] != "" {
			r.props[h.names[i]] = rec[i]
		}
	}
	return r, ""
}

// SubjectFromBody derives a subject from a message body: its first non-blank line (a literal
// two-character "\n" also ends a line, as some exported data sets write line breaks that way),
// whitespace collapsed, cut to at most 80 characters on a word boundary ending in "…".
func SubjectFromBody(body string) string {
	var first string
	for _, l := range strings.Split(strings.ReplaceAll(body, `\n`, "\n"), "\n") {
		if first = strings.Join(strings.Fields(l), " "); first != "" {
			break
		}
	}
	const max = 80
	if utf8.RuneCountInString(first) <= max {
		return first
	}
	cut := string([]rune(first)[:max-1])
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
}

// importer holds the state of one TicketImport run.
type importer struct {
	s         *Seeder
	opt       ImportOptions
	inboxID   int64
	pipelines map[string]int64           // lower(name) -> id
	stages    map[int64]map[string]stage // pipeline id -> lower(name) -> stage
	companies map[string]int64           // lower(name) -> id
	contacts  map[string]contactRef      // lower(email) -> contact
	demo      map[int]contactRef         // demo index -> contact
	pending   []importRow
	sum       *ImportSummary
}

type stage struct {
	id     int64
	closed bool
}

type contactRef struct {
	id, companyID int64
}

// TicketImport reads tickets from CSV (header row first; see the Portico import docs for the
// columns) and creates for each good record a ticket with its requester, company, pipeline and
// stage (created when missing), one conversation in the default inbox, the customer's message
// and, when the row has an answer, an agent's public reply two hours later.
//
// Records are idempotent: a record whose import key (sha256 of header and cells) exists is
// counted as a duplicate and changes nothing. Bad records (wrong field count, CSV syntax,
// invalid values) are counted, passed to opt.Report and listed in the summary; reading goes on.
//
// Errors: a missing "subject" or "body" header column, an unreadable header, a missing default
// inbox, or a database error (tickets of earlier batches stay imported; re-running is safe).
func (s *Seeder) TicketImport(ctx context.Context, r io.Reader, opt ImportOptions) (ImportSummary, error) {
	var sum ImportSummary
	if opt.Progress != nil {
		bar := newImportBar(opt.Progress, opt.Size)
		defer bar.Finish()
		pr := progressbar.NewReader(r, bar)
		r = &pr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err == io.EOF {
		return sum, errors.New("the file is empty (no header row)")
	}
	if err != nil {
		return sum, fmt.Errorf("header row: %w", err)
	}
	h, err := parseImportHeader(head)
	if err != nil {
		return sum, err
	}
	cr.FieldsPerRecord = len(head)

	im := &importer{s: s, opt: opt, sum: &sum,
		pipelines: map[string]int64{}, stages: map[int64]map[string]stage{},
		companies: map[string]int64{}, contacts: map[string]contactRef{}, demo: map[int]contactRef{}}
	if err := s.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&im.inboxID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrNotFound
		}
		return sum, fmt.Errorf("default inbox: %w", err)
	}
	now := time.Now()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return sum, fmt.Errorf("read: %w", err)
			}
			sum.Rows++
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				im.bad(pe.StartLine, fmt.Sprintf("the row has %d fields, the header has %d", len(rec), len(head)))
			} else {
				im.bad(pe.StartLine, fmt.Sprintf("CSV syntax error on line %d, column %d: %v", pe.Line, pe.Column, pe.Err))
			}
			continue
		}
		sum.Rows++
		line, _ := cr.FieldPos(0)
		row, reason := parseImportRow(h, rec, line, now)
		if reason != "" {
			im.bad(line, reason)
			continue
		}
		if err := im.resolve(ctx, &row); err != nil {
			return sum, fmt.Errorf("line %d: %w", line, err)
		}
		im.pending = append(im.pending, row)
		if len(im.pending) >= importBatch {
			if err := im.flush(ctx); err != nil {
				return sum, err
			}
		}
	}
	return sum, im.flush(ctx)
}

// newImportBar is progressbar.DefaultBytes writing to w.
func newImportBar(w io.Writer, size int64) *progressbar.ProgressBar {
	return NewProgressBar(w, size, "importing", true)
}

// NewProgressBar is the progress bar of Portico's imports (tickets, mail), writing to w: a
// byte count of size (bytes) or a count of size items; size <= 0 shows a spinner.
func NewProgressBar(w io.Writer, size int64, description string, bytes bool) *progressbar.ProgressBar {
	if size <= 0 {
		size = -1
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowTotalBytes(bytes),
		progressbar.OptionSetWidth(10),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\n") }),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func (im *importer) bad(line int, reason string) {
	im.sum.Bad++
	im.sum.BadRows = append(im.sum.BadRows, BadRow{Line: line, Reason: reason})
	if im.opt.Report != nil {
		im.opt.Report(line, reason)
	}
}

// resolve fills the row's pipeline, stage, requester and company ids, creating them as needed.
func (im *importer) resolve(ctx context.Context, r *importRow) error {
	var err error
	if r.pipelineID, err = im.pipeline(ctx, r.pipeline); err != nil {
		return err
	}
	name := r.stage
	if name == "" {
		name = "New"
		if r.answer != "" {
			name = "Waiting on contact"
		}
	}
	st, err := im.stage(ctx, r.pipelineID, name)
	if err != nil {
		return err
	}
	r.stageID, r.closed = st.id, st.closed
	var colCompany int64
	if r.company != "" {
		if colCompany, err = im.company(ctx, r.company); err != nil {
			return err
		}
	}
	var c contactRef
	switch {
	case r.email != "":
		c, err = im.contact(ctx, r.email, r.name, colCompany)
	case im.opt.DemoContacts > 0:
		c, err = im.demoContact(ctx, int(keyUint64(r.key, 0)%uint64(im.opt.DemoContacts)))
	}
	if err != nil {
		return err
	}
	r.requesterID, r.companyID = c.id, c.companyID
	if r.companyID == 0 {
		r.companyID = colCompany
	}
	return nil
}

// pipeline returns the id of the pipeline named name (case-insensitive), creating it with the
// default stages.
func (im *importer) pipeline(ctx context.Context, name string) (int64, error) {
	k := strings.ToLower(name)
	if id, ok := im.pipelines[k]; ok {
		return id, nil
	}
	var id int64
	err := im.s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO pipelines (name, position)
			SELECT $1, coalesce(max(position) + 1, 0) FROM pipelines
			ON CONFLICT (lower(name)) DO NOTHING RETURNING id`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT id FROM pipelines WHERE lower(name) = lower($1)`, name).Scan(&id)
		}
		if err != nil {
			return err
		}
		for i, st := range defaultStages {
			if _, err := tx.Exec(ctx, `INSERT INTO stages (pipeline_id, name, position, is_closed) VALUES ($1, $2, $3, $4)`,
				id, st.name, i, st.closed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pipeline %q: %w", name, err)
	}
	im.pipelines[k] = id
	return id, nil
}

// stage returns the stage named name (case-insensitive) of the pipeline, creating it after the
// last one (closed when the name says so).
func (im *importer) stage(ctx context.Context, pipelineID int64, name string) (stage, error) {
	m := im.stages[pipelineID]
	if m == nil {
		m = map[string]stage{}
		im.stages[pipelineID] = m
		rows, err := im.s.Pool.Query(ctx, `SELECT id, lower(name), is_closed FROM stages WHERE pipeline_id = $1`, pipelineID)
		if err != nil {
			return stage{}, err
		}
		var st stage
		var n string
		_, err = pgx.ForEachRow(rows, []any{&st.id, &n, &st.closed}, func() error { m[n] = st; return nil })
		if err != nil {
			return stage{}, err
		}
	}
	k := strings.ToLower(name)
	if st, ok := m[k]; ok {
		return st, nil
	}
	st := stage{closed: closedStageNames[k]}
	err := im.s.Pool.QueryRow(ctx, `INSERT INTO stages (pipeline_id, name, position, is_closed)
		SELECT $1, $2, coalesce(max(position) + 1, 0), $3 FROM stages WHERE pipeline_id = $1
		ON CONFLICT (pipeline_id, lower(name)) DO NOTHING RETURNING id`, pipelineID, name, st.closed).Scan(&st.id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = im.s.Pool.QueryRow(ctx, `SELECT id, is_closed FROM stages WHERE pipeline_id = $1 AND lower(name) = lower($2)`,
			pipelineID, name).Scan(&st.id, &st.closed)
	}
	if err != nil {
		return stage{}, fmt.Errorf("stage %q: %w", name, err)
	}
	m[k] = st
	return st, nil
}

// company returns the id of the company named name, creating it (CompanyEnsure).
func (im *importer) company(ctx context.Context, name string) (int64, error) {
	k := strings.ToLower(name)
	if id, ok := im.companies[k]; ok {
		return id, nil
	}
	var id int64
	err := im.s.tx(ctx, func(tx pgx.Tx) (err error) {
		id, err = store.CompanyEnsure(ctx, tx, name)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("company %q: %w", name, err)
	}
	im.companies[k] = id
	return id, nil
}

// contact returns the contact with email, creating it with name (else the part before @) and
// companyID (0 = none) as its primary company. An existing contact is left unchanged.
func (im *importer) contact(ctx context.Context, email, name string, companyID int64) (contactRef, error) {
	if c, ok := im.contacts[email]; ok {
		return c, nil
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	var cid *int64
	if companyID != 0 {
		cid = &companyID
	}
	var c contactRef
	var got *int64
	err := im.s.Pool.QueryRow(ctx, `INSERT INTO contacts (email, name, company_id) VALUES ($1, $2, $3)
		ON CONFLICT (lower(email)) DO NOTHING RETURNING id, company_id`, email, name, cid).Scan(&c.id, &got)
	if errors.Is(err, pgx.ErrNoRows) {
		err = im.s.Pool.QueryRow(ctx, `SELECT id, company_id FROM contacts WHERE lower(email) = lower($1)`, email).Scan(&c.id, &got)
	}
	if err != nil {
		return c, fmt.Errorf("contact %s: %w", email, err)
	}
	if got != nil {
		c.companyID = *got
	}
	im.contacts[email] = c
	return c, nil
}

// demoContact returns demo contact i (see DemoContactAt), creating it and its company.
func (im *importer) demoContact(ctx context.Context, i int) (contactRef, error) {
	if c, ok := im.demo[i]; ok {
		return c, nil
	}
	d := DemoContactAt(i)
	co, err := im.company(ctx, d.Company)
	if err != nil {
		return contactRef{}, err
	}
	c, err := im.contact(ctx, d.Email, d.Name, co)
	if err != nil {
		return c, err
	}
	im.demo[i] = c
	return c, nil
}

// importInsert creates a ticket, its conversation and its one or two messages in one statement;
// it returns no row when the import key exists already.
const importInsert = `WITH t AS (
	INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, category, channel, language,
		tags, properties, requester_id, company_id, is_closed, created_at, last_activity_at, closed_at, import_key)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
		CASE WHEN $13 THEN $15::timestamptz END, $16)
	ON CONFLICT (import_key) DO NOTHING
	RETURNING id
), c AS (
	INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
	SELECT id, $17, $7, $14 FROM t RETURNING id, ticket_id
), m AS (
	INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body, created_at)
	SELECT c.id, c.ticket_id, 'public', v.author, v.body, v.at
	FROM c CROSS JOIN (VALUES (1, $11::bigint, $2::text, $14::timestamptz), (2, NULL, $18::text, $15)) AS v (n, author, body, at)
	WHERE v.body <> ''
	ORDER BY v.n
)
SELECT id FROM t`

// flush inserts the pending rows in one pipelined batch.
func (im *importer) flush(ctx context.Context) error {
	if len(im.pending) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for i := range im.pending {
		r := &im.pending[i]
		last := r.createdAt
		if r.answer != "" {
			last = r.createdAt.Add(2 * time.Hour)
		}
		b.Queue(importInsert, r.subject, r.body, r.pipelineID, r.stageID, r.priority, r.category, r.channel,
			r.language, r.tags, r.props, nullID(r.requesterID), nullID(r.companyID), r.closed, r.createdAt, last,
			r.key, im.inboxID, r.answer)
	}
	res := im.s.Pool.SendBatch(ctx, b)
	for i := range im.pending {
		var id int64
		err := res.QueryRow().Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			im.sum.Duplicates++
		case err != nil:
			res.Close()
			return fmt.Errorf("line %d: %w", im.pending[i].line, err)
		default:
			im.sum.Imported++
		}
	}
	im.pending = im.pending[:0]
	return res.Close()
}

// nullID maps 0 to SQL NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
