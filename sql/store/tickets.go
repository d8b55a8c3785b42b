package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// Ticket list status filters (query string `status`).
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
	StatusAll    = "all"
)

// Search plans (TicketListForViewer). searchWalkScope is the walk's budget: the most tickets a
// search examines in list order before it asks the (scope, trigram) indexes instead, and so the
// largest scope that is always walked whole (a typical company holds about 100 tickets; walking
// 200 costs a few milliseconds, what the indexes cost for a rare term in a large company). searchDirectLimit is the most matches a search
// sorts itself; above it the listing is walked in order without a budget.
var (
	searchWalkScope   = 200
	searchDirectLimit = 4000
)

// traceQuery, set by tests (SetSearchTrace), sees each query of a search before it runs, with
// its arguments: the plan test explains them on bench-shaped data.
var traceQuery func(name, sql string, args []any)

func trace(name, sql string, args []any) {
	if traceQuery != nil {
		traceQuery(name, sql, args)
	}
}

// searchDirect returns the ids of the tickets matching pat (an ILIKE pattern) in the viewer's
// scope through the (scope, trigram) indexes, and false when there are more than
// searchDirectLimit (the term is too common to sort its matches). Errors: database failures.
func (s *Store) searchDirect(ctx context.Context, v Viewer, pat string) ([]int64, bool, error) {
	args := []any{pat}
	sql := v.searchMatches("$1", searchDirectLimit+1, &args)
	trace("direct", sql, args)
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("ticket search: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, false, fmt.Errorf("ticket search: %w", err)
	}
	// Each branch is limited on its own: either one full means too many.
	subj, body := 0, 0
	for _, id := range ids {
		if id > 0 {
			subj++
		} else {
			body++
		}
	}
	if subj > searchDirectLimit || body > searchDirectLimit {
		return nil, false, nil
	}
	for i, id := range ids {
		if id < 0 {
			ids[i] = -id
		}
	}
	return ids, true, nil
}

// MaxReplyRunes is the longest reply a customer may send, in characters.
const MaxReplyRunes = 20000

// TicketListParams selects a page of the ticket listing.
type TicketListParams struct {
	// Q searches subjects and public message bodies (case-insensitive substring).
	Q string
	// Status is StatusOpen, StatusClosed or StatusAll (default all).
	Status string
	// Cursor is an opaque keyset cursor from a previous page ("" = first page).
	Cursor string
	// Limit is the page size (1–100, default 25).
	Limit int
	// Sort is a key of ticketSorts, "-" first for descending (default DefaultTicketSort).
	Sort string
	// StatusByStage sorts "status" by the stage's name, as the Status column shows it when the
	// setting show_custom_stages is on (else by open/closed).
	StatusByStage bool
	// ProbeShared also asks, in the listing's first round trip, whether any ticket is shared
	// with the viewer (TicketPage.HasShared): the portal's View menu offers "Shared with me"
	// then, without a second round trip on every list request (issue 18).
	ProbeShared bool
}

// TicketRow is one row of the listing, with every value ready to print.
type TicketRow struct {
	ID             int64
	Subject        string
	RequesterName  string
	OwnerName      string
	CreatedAt      time.Time
	LastActivityAt time.Time
	StageName      string
	IsClosed       bool
}

// TicketPage is one page of the listing with keyset cursors for the neighbours ("" = none).
type TicketPage struct {
	Rows       []TicketRow
	NextCursor string
	PrevCursor string
	// HasShared: some ticket is shared with the viewer (only with TicketListParams.ProbeShared,
	// or when the view is ViewShared).
	HasShared bool
}

// TicketSorts are the listing's sort keys (query string `sort`; a leading "-" sorts descending).
// Each is an expression over the list query's aliases and the SQL type of its keyset value.
var ticketSorts = map[string]struct{ expr, typ string }{
	"activity":  {"t.last_activity_at", "timestamptz"},
	"created":   {"t.created_at", "timestamptz"},
	"subject":   {"lower(t.subject)", "text"},
	"requester": {"lower(coalesce(nullif(rc.name, ''), rc.email, ''))", "text"},
	"owner":     {"lower(coalesce(su.name, ''))", "text"},
	"status":    {"t.is_closed", "boolean"},
	// stage is "status" with show_custom_stages (TicketListParams.StatusByStage), never a URL's.
	"stage": {"lower(st.name)", "text"},
}

// DefaultTicketSort is newest activity first.
const DefaultTicketSort = "-activity"

// NormalizeTicketSort returns sort when it names a known key (with an optional "-"), else the default.
func NormalizeTicketSort(sort string) string {
	if _, ok := ticketSorts[strings.TrimPrefix(sort, "-")]; ok && strings.TrimPrefix(sort, "-") != "stage" {
		return sort
	}
	return DefaultTicketSort
}

// cursor is a keyset position: the sort key's value and the id of a row, the sort it belongs
// to, and whether it asks for the page before (true) or after it.
type cursor struct {
	before bool
	sort   string
	key    string
	id     int64
}

func (c cursor) String() string {
	d := "a"
	if c.before {
		d = "b"
	}
	raw := d + c.sort + "\x00" + c.key + "\x00" + strconv.FormatInt(c.id, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(s, sort string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 4 || (b[0] != 'a' && b[0] != 'b') {
		return cursor{}, false
	}
	parts := strings.Split(string(b[1:]), "\x00")
	if len(parts) != 3 || parts[0] != sort {
		return cursor{}, false
	}
	n, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !validCursorKey(sort, parts[1]) {
		return cursor{}, false
	}
	return cursor{before: b[0] == 'b', sort: sort, key: parts[1], id: n}, true
}

// validCursorKey reports whether a cursor's key can be cast to its sort's SQL type, so that a
// hand-made cursor falls back to the first page instead of failing the query.
func validCursorKey(sort, key string) bool {
	typ := "timestamptz" // the inbox's one sort
	if spec, ok := ticketSorts[strings.TrimPrefix(sort, "-")]; ok {
		typ = spec.typ
	}
	switch typ {
	case "timestamptz":
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00"} {
			if _, err := time.Parse(layout, key); err == nil {
				return true
			}
		}
		return false
	case "boolean":
		return key == "true" || key == "false"
	}
	return utf8.ValidString(key) && !strings.ContainsRune(key, 0)
}

// likePattern escapes q for ILIKE and wraps it in %…%.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// TicketListForViewer returns one page of the viewer's tickets in the order of p.Sort (default
// newest activity first), by keyset: every page costs what the first costs. An unreadable cursor,
// or one from another sort, is treated as the first page. Errors: database failures only.
func (s *Store) TicketListForViewer(ctx context.Context, v Viewer, p TicketListParams) (TicketPage, error) {
	// hasShared is the ProbeShared answer, queued into the listing's first round trip.
	hasShared := v.View == ViewShared
	probe := func(b *pgx.Batch) {
		if p.ProbeShared && !hasShared {
			b.Queue(ticketParticipantIsAny, v.ContactID).QueryRow(func(r pgx.Row) error { return r.Scan(&hasShared) })
		}
	}
	page, err := s.ticketList(ctx, v, p, probe)
	page.HasShared = hasShared
	return page, err
}

// ticketList is TicketListForViewer; probe queues the shared-tickets question into whichever
// round trip goes first.
func (s *Store) ticketList(ctx context.Context, v Viewer, p TicketListParams, probe func(*pgx.Batch)) (TicketPage, error) {
	if p.Limit <= 0 || p.Limit > 100 {
		p.Limit = 25
	}
	p.Sort = NormalizeTicketSort(p.Sort)
	if p.StatusByStage && strings.TrimPrefix(p.Sort, "-") == "status" {
		p.Sort = strings.Replace(p.Sort, "status", "stage", 1) // cursors then carry the stage sort
	}
	spec := ticketSorts[strings.TrimPrefix(p.Sort, "-")]
	cur, hasCur := parseCursor(p.Cursor, p.Sort)
	desc := strings.HasPrefix(p.Sort, "-")
	// base is the listing's query without a search: scope, status filter and keyset position.
	base := func() (*listQuery, string) {
		q := &listQuery{}
		q.scope(v)
		switch p.Status {
		case StatusOpen:
			q.and("NOT t.is_closed")
		case StatusClosed:
			q.and("t.is_closed")
		}
		return q, q.keyset(spec.expr, spec.typ, desc, cur, hasCur)
	}
	text := strings.TrimSpace(p.Q)
	if text == "" {
		q, orderBy := base()
		return s.ticketPage(ctx, q.sql(ticketListSelect(spec.expr), orderBy, p.Limit), q.args, p, cur, hasCur, probe)
	}
	// Search costs what it finds, whatever the size of the scope and however common the term
	// (issue 18). Plan 1 walks the listing in order, matching each ticket, but examines at most
	// searchWalkScope tickets; it goes out in one round trip with the size of the scope (up to
	// the same bound). A page it fills is the answer (a common term fills it within its first
	// tickets), and so is whatever it found in a scope it examined whole. Otherwise the term is
	// rare in a large scope: plan 2 finds its few tickets through the (scope, trigram) indexes
	// and sorts them; a term with too many matches for that (plan 3) is walked without a budget.
	// A message matches through a correlated probe of that ticket's messages (OFFSET 0: never a
	// hashed subplan over every message in the database that matches the term).
	pat := likePattern(text)
	match := func(q *listQuery, alias string) {
		n := q.arg(pat)
		q.and("(" + alias + ".subject ILIKE " + n + " OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = " + alias +
			".id AND m.kind = 'public' AND m.body ILIKE " + n + " OFFSET 0))")
	}
	{
		q, orderBy := base()
		inner := q.sql(ticketListSelectWith(spec.expr, ", ("+spec.expr+") AS walk_key"), orderBy, searchWalkScope-1)
		outer := &listQuery{args: q.args}
		match(outer, "w")
		dir := " ASC"
		if strings.Contains(orderBy, " DESC") {
			dir = " DESC"
		}
		walk := outer.sql(`SELECT w.id, w.subject, w.requester, w.owner, w.created_at, w.last_activity_at, w.stage, w.is_closed, w.key
		FROM (`+inner+`) w`, "ORDER BY w.walk_key"+dir+", w.id"+dir, p.Limit)
		if !strings.Contains(spec.expr, "rc.") && !strings.Contains(spec.expr, "su.") && !strings.Contains(spec.expr, "st.") {
			// The sort key is the ticket's own: the walk reads tickets alone and only the page's
			// rows are joined to their stage, requester and owner (not every ticket examined;
			// the page's ticket columns come along, so nothing is read twice).
			q, orderBy := base()
			inner := q.sql(`SELECT t.id, t.subject, t.created_at, t.last_activity_at, t.is_closed, t.stage_id, t.requester_id, t.owner_id,
			(`+spec.expr+`) AS walk_key, (`+spec.expr+`)::text AS key FROM tickets t`, orderBy, searchWalkScope-1)
			outer = &listQuery{args: q.args}
			match(outer, "w")
			page := outer.sql(`SELECT w.* FROM (`+inner+`) w`, "ORDER BY w.walk_key"+dir+", w.id"+dir, p.Limit)
			walk = `SELECT w.id, w.subject, coalesce(nullif(rc.name, ''), rc.email, ''), coalesce(su.name, ''),
			w.created_at, w.last_activity_at, st.name, w.is_closed, w.key
		FROM (` + page + `) w
		JOIN stages st ON st.id = w.stage_id
		LEFT JOIN contacts rc ON rc.id = w.requester_id
		LEFT JOIN staff_users su ON su.id = w.owner_id
		ORDER BY w.walk_key` + dir + ", w.id" + dir
		}
		cargs := []any{}
		count := `SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE ` + v.scope(&cargs) + ` LIMIT ` + strconv.Itoa(searchWalkScope+1) + `) x`
		trace("scope", count, cargs)
		trace("walk", walk, outer.args)
		batch := &pgx.Batch{}
		probe(batch)
		var scope int
		batch.Queue(count, cargs...).QueryRow(func(r pgx.Row) error { return r.Scan(&scope) })
		var out []keyedRow
		batch.Queue(walk, outer.args...).Query(func(rows pgx.Rows) error {
			var err error
			out, err = pgx.CollectRows(rows, scanKeyedRow)
			return err
		})
		if err := s.Pool.SendBatch(ctx, batch).Close(); err != nil {
			return TicketPage{}, fmt.Errorf("ticket search: %w", err)
		}
		if len(out) > p.Limit || scope <= searchWalkScope {
			return keyedPage(out, p, cur, hasCur), nil
		}
	}
	q, orderBy := base()
	ids, direct, err := s.searchDirect(ctx, v, pat)
	if err != nil {
		return TicketPage{}, err
	}
	name := "direct page"
	if direct && len(ids) == 0 {
		// Nothing matches: no query (an empty id list still had the planner walk the scope).
		return TicketPage{Rows: []TicketRow{}}, nil
	}
	if direct {
		q.and("t.id = ANY(" + q.arg(ids) + ")")
	} else {
		match(q, "t")
		name = "unbounded walk"
	}
	sql := q.sql(ticketListSelect(spec.expr), orderBy, p.Limit)
	trace(name, sql, q.args)
	return s.ticketPage(ctx, sql, q.args, p, cur, hasCur, nil)
}

// ticketListSelect is the listing's SELECT … FROM … JOIN with the sort expression's value as
// text (the cursor's key) last.
func ticketListSelect(expr string) string { return ticketListSelectWith(expr, "") }

// ticketListSelectWith is ticketListSelect with more columns (", … AS name") after the key.
func ticketListSelectWith(expr, more string) string {
	return `SELECT t.id, t.subject, coalesce(nullif(rc.name, ''), rc.email, '') AS requester, coalesce(su.name, '') AS owner,
			t.created_at, t.last_activity_at, st.name AS stage, t.is_closed, (` + expr + `)::text AS key` + more + `
		FROM tickets t
		JOIN stages st ON st.id = t.stage_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id
		LEFT JOIN staff_users su ON su.id = t.owner_id`
}

// keyedRow is a listing row with its sort key as text (for cursors).
type keyedRow struct {
	row TicketRow
	key string
}

func scanKeyedRow(r pgx.CollectableRow) (keyedRow, error) {
	var k keyedRow
	err := r.Scan(&k.row.ID, &k.row.Subject, &k.row.RequesterName, &k.row.OwnerName, &k.row.CreatedAt, &k.row.LastActivityAt, &k.row.StageName, &k.row.IsClosed, &k.key)
	return k, err
}

// ticketPage runs a listing query (ticketListSelect, keyset order, limit+1 rows) and returns
// its page. Errors: database failures.
func (s *Store) ticketPage(ctx context.Context, sql string, args []any, p TicketListParams, cur cursor, hasCur bool, also func(*pgx.Batch)) (TicketPage, error) {
	// One round trip for the page and whatever else the caller queued (also may be nil).
	batch := &pgx.Batch{}
	if also != nil {
		also(batch)
	}
	var out []keyedRow
	batch.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, scanKeyedRow)
		return err
	})
	if err := s.Pool.SendBatch(ctx, batch).Close(); err != nil {
		return TicketPage{}, fmt.Errorf("ticket list: %w", err)
	}
	return keyedPage(out, p, cur, hasCur), nil
}

// ticketParticipantIsAny asks whether the contact ($1) participates in any ticket (the portal
// then offers "Shared with me"); queued into a listing's batch (ProbeShared).
const ticketParticipantIsAny = `SELECT EXISTS (SELECT 1 FROM ticket_participants WHERE contact_id = $1)::boolean`

// keyedPage turns the limit+1 rows a listing query read into its page (keysetPage).
func keyedPage(out []keyedRow, p TicketListParams, cur cursor, hasCur bool) TicketPage {
	out, next, prev := keysetPage(out, p.Limit, p.Sort, cur, hasCur, func(k keyedRow) (string, int64) { return k.key, k.row.ID })
	page := TicketPage{Rows: make([]TicketRow, len(out)), NextCursor: next, PrevCursor: prev}
	for i, k := range out {
		page.Rows[i] = k.row
	}
	return page
}

// Ticket is one ticket's properties as a customer may see them.
type Ticket struct {
	ID             int64
	Subject        string
	Description    string
	PipelineName   string
	StageName      string
	IsClosed       bool
	Priority       string
	Category       string
	Channel        string
	RequesterName  string
	CompanyName    string
	OwnerName      string
	CreatedAt      time.Time
	LastActivityAt time.Time
	ClosedAt       *time.Time
	// AwaitsConfirmation: an agent marked the ticket solved and waits for the customer's
	// "Is this solved?" answer (an open stage with asks_confirmation, issue 16.5).
	AwaitsConfirmation bool
	// Rated is the satisfaction vote given for the current close ("" = none, issue 16.4).
	Rated string
	// Fields are the custom properties a customer can fill on a support form, with the form
	// field's label, in the form's order (other properties are the CRM's and stay there).
	Fields []TicketField
}

// TicketField is one custom property shown to the customer: the support form's label (or the
// property key when the label is empty) and the stored value.
type TicketField struct {
	Label, Value string
}

// Message is one public message in a conversation.
type Message struct {
	ID         int64
	AuthorName string
	// FromCustomer is true when a contact wrote it, false for an agent.
	FromCustomer bool
	Body         string
	CreatedAt    time.Time
	// Attachments are the message's files, oldest first.
	Attachments []Attachment
	// ConversationID and Channel name the thread the message belongs to.
	ConversationID int64
	Channel        string
	// ByEmail is true when the message itself arrived as a mail (an inbound or imported mail);
	// a portal reply in an email thread is false.
	ByEmail bool
}

// TicketDetail is a ticket with the public messages of its oldest conversation, oldest first.
type TicketDetail struct {
	Ticket   Ticket
	Messages []Message
	// Access says what the viewer may do beyond reading (Viewer.manageScope, replyScope).
	Access TicketAccess
	// Participants are the people the ticket is shared with, oldest first (TicketGetForViewer
	// only; nil on live updates).
	Participants []Participant
}

// TicketAccess is what a viewer may do on a ticket they see: Manage (requester or company:
// close, accept, rate, share) and Reply (Manage, or a participant when the admin allows);
// Participant tells that they see it because it was shared with them.
type TicketAccess struct {
	Manage, Reply, Participant bool
}

// TicketGetForViewer returns the ticket with id if the viewer may see it, with its form fields,
// public messages and their attachments, and its participants, read in one round trip. Errors:
// ErrNotFound when it does not exist or is outside the viewer's scope (never a distinguishable
// answer).
func (s *Store) TicketGetForViewer(ctx context.Context, v Viewer, id int64) (TicketDetail, error) {
	return s.ticketForViewer(ctx, v, id, 0, true)
}

// ticketForViewer is TicketGetForViewer with only the messages whose id is above afterID, and
// the participants only when withParticipants. Every query of the batch carries the viewer's
// detail scope itself, so none reads a row of a ticket outside it.
func (s *Store) ticketForViewer(ctx context.Context, v Viewer, id, afterID int64, withParticipants bool) (TicketDetail, error) {
	var d TicketDetail
	args := []any{id}
	scope := v.detailScope(&args)
	manage := v.manageScope(&args)
	reply := v.replyScope(&args)
	participant := v.participant(&args)
	t := &d.Ticket
	found := false
	batch := &pgx.Batch{}
	batch.Queue(`SELECT t.id, t.subject, t.description, p.name, st.name, t.is_closed,
			t.priority, t.category, t.channel, coalesce(nullif(rc.name, ''), rc.email, ''),
			coalesce(co.name, ''), coalesce(su.name, ''), t.created_at, t.last_activity_at, t.closed_at,
			`+manage+`, `+reply+`, `+participant+`, st.asks_confirmation AND NOT t.is_closed,
			coalesce((SELECT r.score FROM ticket_ratings r WHERE r.ticket_id = t.id AND r.closed_at = t.closed_at), '')
		FROM tickets t
		JOIN pipelines p ON p.id = t.pipeline_id
		JOIN stages st ON st.id = t.stage_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id
		LEFT JOIN companies co ON co.id = t.company_id
		LEFT JOIN staff_users su ON su.id = t.owner_id
		WHERE t.id = $1 AND `+scope, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			found = true
			if err := rows.Scan(&t.ID, &t.Subject, &t.Description, &t.PipelineName,
				&t.StageName, &t.IsClosed, &t.Priority, &t.Category, &t.Channel, &t.RequesterName,
				&t.CompanyName, &t.OwnerName, &t.CreatedAt, &t.LastActivityAt, &t.ClosedAt,
				&d.Access.Manage, &d.Access.Reply, &d.Access.Participant, &t.AwaitsConfirmation, &t.Rated); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	// visible guards each further query: the ticket $1 is in the viewer's detail scope.
	visible := func(more ...any) (string, []any) {
		a := append([]any{id}, more...)
		return "EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND " + v.detailScope(&a) + ")", a
	}
	g, ga := visible()
	batch.Queue(ticketFormFieldsSQL+" AND "+g+ticketFormFieldsOrder, ga...).Query(func(rows pgx.Rows) error {
		var err error
		t.Fields, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TicketField])
		return err
	})
	g, ga = visible(v.AllThreads, afterID)
	batch.Queue(publicMessagesSQL+" AND "+g+publicMessagesOrder, ga...).Query(func(rows pgx.Rows) error {
		var err error
		d.Messages, err = pgx.CollectRows(rows, scanMessage)
		return err
	})
	var atts map[int64][]Attachment
	g, ga = visible(afterID)
	batch.Queue(`SELECT a.id, a.message_id, a.ticket_id, a.file_name, a.content_type, a.size_bytes, a.sha256, a.blob_key, a.created_at
		FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.ticket_id = $1 AND m.kind = 'public' AND a.message_id > $2 AND `+g+` ORDER BY a.id`, ga...).Query(func(rows pgx.Rows) error {
		var err error
		atts, err = collectAttachments(rows)
		return err
	})
	if withParticipants {
		g, ga = visible()
		batch.Queue(strings.Replace(participantList, "WHERE tp.ticket_id = $1", "WHERE tp.ticket_id = $1 AND "+g, 1), ga...).Query(func(rows pgx.Rows) error {
			var err error
			d.Participants, err = pgx.CollectRows(rows, scanParticipant)
			return err
		})
	}
	if err := s.Pool.SendBatch(ctx, batch).Close(); err != nil {
		return d, fmt.Errorf("ticket %d: %w", id, err)
	}
	if !found {
		return TicketDetail{}, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
	}
	for i := range d.Messages {
		d.Messages[i].Attachments = atts[d.Messages[i].ID]
	}
	return d, nil
}

// ticketFormFieldsSQL + a guard + ticketFormFieldsOrder read the ticket's ($1) custom properties
// that are fields of a support form (the newest form naming the key gives the label), in that
// form's field order: TicketField rows.
const ticketFormFieldsSQL = `SELECT label, value FROM (
			SELECT DISTINCT ON (p.key) coalesce(nullif(f.label, ''), p.key) AS label, p.value, f.position, f.id
			FROM tickets tf, jsonb_each_text(tf.properties) p
			JOIN support_form_fields f ON f.property = 'custom' AND f.prop_key = p.key
			WHERE tf.id = $1 AND p.value <> ''`

const ticketFormFieldsOrder = `
			ORDER BY p.key, f.form_id DESC
		) x ORDER BY position, id`

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// publicMessagesSQL + a guard + publicMessagesOrder read the public messages of the ticket's ($1)
// oldest conversation (or of every conversation, oldest conversation first, when $2), with ids
// above $3, oldest first: scanMessage rows. Internal notes never leave this query.
const publicMessagesSQL = `SELECT m.id, coalesce(nullif(c.name, ''), c.email, su.name, ''),
			m.author_contact_id IS NOT NULL, m.body, m.created_at, cv.id, cv.channel,
			m.inbound_mail_id IS NOT NULL
		FROM messages m
		JOIN conversations cv ON cv.id = m.conversation_id
		LEFT JOIN contacts c ON c.id = m.author_contact_id
		LEFT JOIN staff_users su ON su.id = m.author_staff_id
		WHERE m.kind = 'public' AND cv.ticket_id = $1 AND m.id > $3 AND ($2 OR cv.id = (
			SELECT first.id FROM conversations first WHERE first.ticket_id = $1 ORDER BY first.created_at, first.id LIMIT 1))`

const publicMessagesOrder = `
		ORDER BY cv.created_at, cv.id, m.created_at, m.id`

// scanMessage reads one row of publicMessagesSQL.
func scanMessage(r pgx.CollectableRow) (Message, error) {
	var m Message
	err := r.Scan(&m.ID, &m.AuthorName, &m.FromCustomer, &m.Body, &m.CreatedAt, &m.ConversationID, &m.Channel, &m.ByEmail)
	return m, err
}

// ErrNoDefaultInbox is returned (wrapped in ErrConflict) when a ticket without a conversation
// gets a reply while no inbox is marked default.
var ErrNoDefaultInbox = fmt.Errorf("%w: no default inbox", ErrConflict)

// ErrTicketClosed is returned (wrapped in ErrConflict) when a reply is refused on a closed ticket.
var ErrTicketClosed = fmt.Errorf("%w: ticket is closed", ErrConflict)

// ValidateReply checks a reply body without attachments (see ValidateReplyWithFiles).
func ValidateReply(body string) error { return ValidateReplyWithFiles(body, false) }

// ValidateReplyWithFiles checks a reply body; with files attached the text may be empty. It
// returns a *ValidationError for field "body" with message ID "ReplyEmpty", "ReplyInvalid" or
// "ReplyTooLong", or nil.
func ValidateReplyWithFiles(body string, hasFiles bool) error {
	if strings.TrimSpace(body) == "" && !hasFiles {
		return Invalid("body", "ReplyEmpty")
	}
	if !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
		return Invalid("body", "ReplyInvalid")
	}
	if utf8.RuneCountInString(body) > MaxReplyRunes {
		return Invalid("body", "ReplyTooLong")
	}
	return nil
}

// ReplyOptions are the portal rules and files that apply to one customer reply.
type ReplyOptions struct {
	// AllowOnClosed accepts replies on closed tickets (setting allow_reply_on_closed).
	AllowOnClosed bool
	// ReopenOnReply moves a closed ticket to its pipeline's first open stage (setting reopen_on_reply).
	ReopenOnReply bool
	// Files are the uploaded attachments; committed with the message, else discarded by the caller.
	Files *UploadBatch
}

// TicketReplyCreate adds the viewer's public reply (requester or company; a participant only
// when the admin lets participants reply) (with its attachments) to the ticket's oldest
// conversation, or opens a portal conversation in the default inbox when the ticket has none;
// bumps the ticket's last activity; reopens it when allowed; and records an email-type event on
// the contact's timeline — all in one transaction. Errors: *ValidationError (body), ErrNotFound
// (outside scope), ErrTicketClosed.
func (s *Store) TicketReplyCreate(ctx context.Context, v Viewer, ticketID int64, body string, opt ReplyOptions) (Message, error) {
	var m Message
	if err := ValidateReplyWithFiles(body, opt.Files != nil && len(opt.Files.Files) > 0); err != nil {
		return m, err
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.replyScope(&args)
		var closed, awaiting bool
		var subject string
		var pipelineID, stageID int64
		err := tx.QueryRow(ctx, `SELECT t.is_closed, t.subject, t.pipeline_id, st.asks_confirmation AND NOT t.is_closed, t.stage_id
			FROM tickets t JOIN stages st ON st.id = t.stage_id WHERE t.id = $1 AND `+scope+` FOR UPDATE OF t`, args...).Scan(&closed, &subject, &pipelineID, &awaiting, &stageID)
		if err != nil {
			return notFound(err)
		}
		if closed && !opt.AllowOnClosed && !opt.ReopenOnReply {
			return ErrTicketClosed
		}
		var convID int64
		err = tx.QueryRow(ctx, `SELECT id FROM conversations WHERE ticket_id = $1 ORDER BY created_at, id LIMIT 1`, ticketID).Scan(&convID)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel)
				SELECT $1, id, 'portal' FROM inboxes WHERE is_default RETURNING id`, ticketID).Scan(&convID)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNoDefaultInbox
			}
		}
		if err != nil {
			return fmt.Errorf("conversation: %w", err)
		}
		err = tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body)
			VALUES ($1, $2, 'public', $3, $4) RETURNING id, created_at`, convID, ticketID, v.ContactID, body).Scan(&m.ID, &m.CreatedAt)
		if err != nil {
			return err
		}
		if m.Attachments, err = insertAttachments(ctx, tx, opt.Files, ticketID, m.ID); err != nil {
			return err
		}
		if closed && opt.ReopenOnReply {
			_, err = tx.Exec(ctx, `UPDATE tickets SET last_activity_at = $2, is_closed = false, closed_at = NULL,
				stage_id = (SELECT id FROM stages WHERE pipeline_id = $3 AND NOT is_closed ORDER BY position, id LIMIT 1)
				WHERE id = $1`, ticketID, m.CreatedAt, pipelineID)
		} else if awaiting {
			// "No, it still happens": a reply on a ticket marked solved reopens it (issue 16.5).
			_, err = tx.Exec(ctx, `UPDATE tickets SET last_activity_at = $2,
				stage_id = coalesce((SELECT id FROM stages WHERE pipeline_id = $3 AND NOT is_closed AND NOT asks_confirmation ORDER BY position, id LIMIT 1), stage_id)
				WHERE id = $1`, ticketID, m.CreatedAt, pipelineID)
		} else {
			_, err = tx.Exec(ctx, `UPDATE tickets SET last_activity_at = $2 WHERE id = $1`, ticketID, m.CreatedAt)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, message_id, summary)
			VALUES ($1, 'email', $2, $3, $4)`, v.ContactID, ticketID, m.ID, subject)
		if err != nil {
			return err
		}
		if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.MessageAdded, TicketID: ticketID, MessageID: m.ID}); err != nil {
			return err
		}
		if (closed && opt.ReopenOnReply) || awaiting { // only these branches move the ticket
			if err := s.emitStageChange(ctx, tx, ticketID, stageID, closed); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT coalesce(nullif(name, ''), email) FROM contacts WHERE id = $1`, v.ContactID).Scan(&m.AuthorName)
	})
	if err != nil {
		return Message{}, fmt.Errorf("reply to ticket %d: %w", ticketID, err)
	}
	if opt.Files != nil {
		opt.Files.done = true // the blobs now belong to attachment rows
	}
	m.Body, m.FromCustomer = body, true
	return m, nil
}

// TicketCloseForViewer moves an open ticket the viewer holds (requester or company, never a
// participant) to its pipeline's closed stage
// (pipelines.closed_stage_id, else the first closed stage) and stamps closed_at. Closing a
// closed ticket is a no-op. Errors: ErrNotFound (outside scope), ErrConflict (the pipeline has
// no closed stage).
func (s *Store) TicketCloseForViewer(ctx context.Context, v Viewer, ticketID int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.manageScope(&args)
		var closed bool
		var pipelineID int64
		if err := tx.QueryRow(ctx, `SELECT t.is_closed, t.pipeline_id FROM tickets t WHERE t.id = $1 AND `+scope+` FOR UPDATE`, args...).Scan(&closed, &pipelineID); err != nil {
			return fmt.Errorf("close ticket %d: %w", ticketID, notFound(err))
		}
		if closed {
			return nil
		}
		return s.closeTicket(ctx, tx, ticketID)
	})
}
