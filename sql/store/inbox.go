package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// The agent inbox: staff queries over EVERY ticket. They take no Viewer on purpose and must
// never serve a customer path; customer code uses the …ForViewer methods only.

// InboxFilter selects a page of the agent inbox; zero fields do not filter.
type InboxFilter struct {
	InboxID, PipelineID, StageID int64
	// OwnerID filters by owner; -1 means unassigned.
	OwnerID int64
	// Q searches subjects, every message (notes included) and the requester's name and email.
	Q      string
	Cursor string
	Limit  int
}

// InboxRow is one row of the agent inbox.
type InboxRow struct {
	TicketRow
	PipelineName string
	Channel      string
}

// InboxTicketList returns one page of every ticket matching f, newest activity first (keyset).
func (s *Store) InboxTicketList(ctx context.Context, f InboxFilter) (TicketPage, []InboxRow, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 25
	}
	var q listQuery
	if f.InboxID != 0 {
		q.and("EXISTS (SELECT 1 FROM conversations cv WHERE cv.ticket_id = t.id AND cv.inbox_id = " + q.arg(f.InboxID) + ")")
	}
	if f.PipelineID != 0 {
		q.and("t.pipeline_id = " + q.arg(f.PipelineID))
	}
	if f.StageID != 0 {
		q.and("t.stage_id = " + q.arg(f.StageID))
	}
	switch {
	case f.OwnerID == -1:
		q.and("t.owner_id IS NULL")
	case f.OwnerID > 0:
		q.and("t.owner_id = " + q.arg(f.OwnerID))
	}
	if text := strings.TrimSpace(f.Q); text != "" {
		n := q.arg(likePattern(text))
		q.and("(t.subject ILIKE " + n + " OR rc.name ILIKE " + n + " OR rc.email ILIKE " + n +
			" OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.body ILIKE " + n + "))")
	}
	cur, hasCur := parseCursor(f.Cursor, inboxSort)
	orderBy := q.keyset("t.last_activity_at", "timestamptz", true, cur, hasCur)
	rows, err := s.Pool.Query(ctx, q.sql(`SELECT t.id, t.subject, coalesce(nullif(rc.name, ''), rc.email, ''), coalesce(su.name, ''),
			t.created_at, t.last_activity_at, st.name, t.is_closed, p.name, t.channel
		FROM tickets t
		JOIN stages st ON st.id = t.stage_id
		JOIN pipelines p ON p.id = t.pipeline_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id
		LEFT JOIN staff_users su ON su.id = t.owner_id`, orderBy, f.Limit), q.args...)
	if err != nil {
		return TicketPage{}, nil, fmt.Errorf("inbox list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxRow, error) {
		var x InboxRow
		err := r.Scan(&x.ID, &x.Subject, &x.RequesterName, &x.OwnerName, &x.CreatedAt, &x.LastActivityAt, &x.StageName, &x.IsClosed, &x.PipelineName, &x.Channel)
		return x, err
	})
	if err != nil {
		return TicketPage{}, nil, fmt.Errorf("inbox list: %w", err)
	}
	out, next, prev := keysetPage(out, f.Limit, inboxSort, cur, hasCur, func(r InboxRow) (string, int64) {
		return r.LastActivityAt.Format(time.RFC3339Nano), r.ID
	})
	return TicketPage{NextCursor: next, PrevCursor: prev}, out, nil
}

// inboxSort names the inbox's one order (newest activity first) in its cursors.
const inboxSort = "inbox"

// StaffMessage is any message as staff see it: public replies and internal notes.
type StaffMessage struct {
	ID           int64
	AuthorName   string
	FromCustomer bool
	Internal     bool
	Body         string
	CreatedAt    time.Time
	// Attachments are the message's files, oldest first (notes' files included: staff see all).
	Attachments []Attachment
	// EmailFrom is the sender address of a message that came in by email ("" otherwise);
	// HasOriginal tells that its full original mail can be downloaded.
	EmailFrom   string
	HasOriginal bool
}

// StaffConversation is one thread of a ticket with every message, oldest first.
type StaffConversation struct {
	ID        int64
	InboxName string
	Channel   string
	CreatedAt time.Time
	Messages  []StaffMessage
}

// InboxTicket is a ticket as staff see it: all properties and every conversation.
type InboxTicket struct {
	Ticket
	PipelineID, StageID, OwnerID, RequesterID, CompanyID int64
	RequesterEmail                                       string
	// RequesterUndeliverable: mail to the requester bounced HardBounceLimit times (issue 13).
	RequesterUndeliverable bool
	Conversations          []StaffConversation
	// Tags are the ticket's tags; Properties its custom properties (tickets.properties), by key.
	Tags       []string
	Properties []TicketProperty
}

// TicketProperty is one custom property of a ticket, its value as text (strings as they are,
// other JSON values in their JSON form).
type TicketProperty struct {
	Key, Value string
}

// ticketProperties turns tickets.properties into a list sorted by key.
func ticketProperties(raw map[string]any) []TicketProperty {
	out := make([]TicketProperty, 0, len(raw))
	for k, v := range raw {
		var val string
		switch x := v.(type) {
		case nil:
		case string:
			val = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				continue
			}
			val = string(b)
		}
		out = append(out, TicketProperty{Key: k, Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// InboxTicketGet returns a ticket with its full history (every conversation, internal notes
// included) for staff. Errors: ErrNotFound.
func (s *Store) InboxTicketGet(ctx context.Context, id int64) (InboxTicket, error) {
	var d InboxTicket
	var props map[string]any
	t := &d.Ticket
	err := s.Pool.QueryRow(ctx, `SELECT t.id, t.subject, t.description, p.name, st.name, t.is_closed,
			t.priority, t.category, t.channel, coalesce(nullif(rc.name, ''), rc.email, ''), coalesce(rc.email, ''),
			coalesce(co.name, ''), coalesce(su.name, ''), t.created_at, t.last_activity_at, t.closed_at,
			t.pipeline_id, t.stage_id, coalesce(t.owner_id, 0), coalesce(t.requester_id, 0), coalesce(t.company_id, 0),
			t.tags, t.properties, coalesce(rc.undeliverable, false)
		FROM tickets t
		JOIN pipelines p ON p.id = t.pipeline_id
		JOIN stages st ON st.id = t.stage_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id
		LEFT JOIN companies co ON co.id = t.company_id
		LEFT JOIN staff_users su ON su.id = t.owner_id
		WHERE t.id = $1`, id).Scan(&t.ID, &t.Subject, &t.Description, &t.PipelineName, &t.StageName, &t.IsClosed,
		&t.Priority, &t.Category, &t.Channel, &t.RequesterName, &d.RequesterEmail, &t.CompanyName, &t.OwnerName,
		&t.CreatedAt, &t.LastActivityAt, &t.ClosedAt, &d.PipelineID, &d.StageID, &d.OwnerID, &d.RequesterID, &d.CompanyID,
		&d.Tags, &props, &d.RequesterUndeliverable)
	if err != nil {
		return d, fmt.Errorf("ticket %d: %w", id, notFound(err))
	}
	d.Properties = ticketProperties(props)
	rows, err := s.Pool.Query(ctx, `SELECT cv.id, i.name, cv.channel, cv.created_at FROM conversations cv
		JOIN inboxes i ON i.id = cv.inbox_id WHERE cv.ticket_id = $1 ORDER BY cv.created_at, cv.id`, id)
	if err != nil {
		return d, err
	}
	d.Conversations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (StaffConversation, error) {
		var c StaffConversation
		err := r.Scan(&c.ID, &c.InboxName, &c.Channel, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return d, err
	}
	idx := map[int64]int{}
	for i, c := range d.Conversations {
		idx[c.ID] = i
	}
	rows, err = s.Pool.Query(ctx, `SELECT m.id, m.conversation_id, coalesce(nullif(c.name, ''), c.email, su.name, ''),
			m.author_contact_id IS NOT NULL, m.kind = 'internal_note', m.body, m.created_at,
			coalesce(m.email_from, ''), m.inbound_mail_id IS NOT NULL
		FROM messages m
		LEFT JOIN contacts c ON c.id = m.author_contact_id
		LEFT JOIN staff_users su ON su.id = m.author_staff_id
		WHERE m.ticket_id = $1 ORDER BY m.created_at, m.id`, id)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var m StaffMessage
		var conv int64
		if err := rows.Scan(&m.ID, &conv, &m.AuthorName, &m.FromCustomer, &m.Internal, &m.Body, &m.CreatedAt, &m.EmailFrom, &m.HasOriginal); err != nil {
			return d, err
		}
		if i, ok := idx[conv]; ok {
			d.Conversations[i].Messages = append(d.Conversations[i].Messages, m)
			ids = append(ids, m.ID)
		}
	}
	if err := rows.Err(); err != nil {
		return d, err
	}
	rows.Close()
	atts, err := attachmentsOf(ctx, s.Pool, ids)
	if err != nil {
		return d, fmt.Errorf("ticket %d attachments: %w", id, err)
	}
	for ci := range d.Conversations {
		for mi := range d.Conversations[ci].Messages {
			m := &d.Conversations[ci].Messages[mi]
			m.Attachments = atts[m.ID]
		}
	}
	return d, nil
}

// InboxMessageCreate adds a staff message to the ticket's oldest conversation (opening a
// portal conversation in the default inbox when there is none): a public reply, which the
// customer sees and which bumps the ticket's last activity, or an internal note (internal =
// true), which no customer path ever returns and which leaves last activity alone. A public
// reply also enqueues the customer's notification mail (MailTicketReply) in the same
// transaction; a note notifies nobody. files (nil = none) are recorded with the message in the
// same transaction (a note's files stay as private as the note: AttachmentGetForViewer only
// serves public messages' files); on error the caller discards them. Errors:
// *ValidationError (body), ErrNotFound.
func (s *Store) InboxMessageCreate(ctx context.Context, staffID, ticketID int64, body string, internal bool, files *UploadBatch) (StaffMessage, error) {
	m := StaffMessage{Body: body, Internal: internal}
	if err := ValidateReplyWithFiles(body, files != nil && len(files.Files) > 0); err != nil {
		return m, err
	}
	kind := "public"
	if internal {
		kind = "internal_note"
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM tickets WHERE id = $1 FOR UPDATE`, ticketID).Scan(&ticketID); err != nil {
			return notFound(err)
		}
		var convID int64
		err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE ticket_id = $1 ORDER BY created_at, id LIMIT 1`, ticketID).Scan(&convID)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel)
				SELECT $1, id, 'portal' FROM inboxes WHERE is_default RETURNING id`, ticketID).Scan(&convID)
		}
		if err != nil {
			return fmt.Errorf("conversation: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_staff_id, body)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`, convID, ticketID, kind, staffID, body).Scan(&m.ID, &m.CreatedAt); err != nil {
			return err
		}
		if m.Attachments, err = insertAttachments(ctx, tx, files, ticketID, m.ID); err != nil {
			return err
		}
		// Internal notes too: webhooks are the admins' own systems; the payload marks them.
		if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.MessageAdded, TicketID: ticketID, MessageID: m.ID}); err != nil {
			return err
		}
		if !internal {
			if _, err := tx.Exec(ctx, `UPDATE tickets SET last_activity_at = $2 WHERE id = $1`, ticketID, m.CreatedAt); err != nil {
				return err
			}
			// An email ticket gets the reply itself as a threaded mail; others a link notice.
			if mailed, err := enqueueEmailReply(ctx, tx, ticketID, m.ID); err != nil {
				return err
			} else if !mailed {
				if err := enqueueReplyNotice(ctx, tx, ticketID, body); err != nil { // notes never notify
					return err
				}
			}
			// Participants get the answer as a link notice, whatever the channel (issue 16.1).
			if err := enqueueParticipantNotices(ctx, tx, ticketID, body); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT name FROM staff_users WHERE id = $1`, staffID).Scan(&m.AuthorName)
	})
	if err != nil {
		return StaffMessage{}, fmt.Errorf("staff message on ticket %d: %w", ticketID, err)
	}
	if files != nil {
		files.done = true // the blobs now belong to attachment rows
	}
	return m, nil
}

// InboxTicketSetStage moves the ticket to stage, one of its own pipeline's, keeping is_closed
// and closed_at consistent: closing sets closed_at (once), reopening clears it. Errors:
// ErrNotFound (ticket or stage), *ValidationError (stage: "StageOtherPipeline") for a stage of
// another pipeline.
//
// Moving a ticket into a stage that asks the customer to confirm (issue 16.5) mails the
// requester a link to answer "Is this solved?".
func (s *Store) InboxTicketSetStage(ctx context.Context, ticketID, stageID int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var wasAwaiting, wasClosed bool
		var fromID int64
		err := tx.QueryRow(ctx, `SELECT st.asks_confirmation AND NOT t.is_closed, t.stage_id, t.is_closed FROM tickets t JOIN stages st ON st.id = t.stage_id
			WHERE t.id = $1 FOR UPDATE OF t`, ticketID).Scan(&wasAwaiting, &fromID, &wasClosed)
		if err != nil {
			return fmt.Errorf("ticket %d stage: %w", ticketID, notFound(err))
		}
		var samePipeline bool
		err = tx.QueryRow(ctx, `SELECT st.pipeline_id = t.pipeline_id FROM stages st, tickets t WHERE st.id = $2 AND t.id = $1`,
			ticketID, stageID).Scan(&samePipeline)
		if err != nil {
			return fmt.Errorf("ticket %d stage %d: %w", ticketID, stageID, notFound(err))
		}
		if !samePipeline {
			return Invalid("stage", "StageOtherPipeline")
		}
		var awaiting, closes bool
		err = tx.QueryRow(ctx, `UPDATE tickets t SET stage_id = st.id, pipeline_id = st.pipeline_id, is_closed = st.is_closed,
				closed_at = CASE WHEN st.is_closed THEN coalesce(t.closed_at, now()) END,
				last_activity_at = now()
			FROM stages st, tickets old WHERE t.id = $1 AND st.id = $2 AND old.id = t.id
			RETURNING st.asks_confirmation AND NOT st.is_closed, st.is_closed AND NOT old.is_closed`, ticketID, stageID).Scan(&awaiting, &closes)
		if err != nil {
			return fmt.Errorf("ticket %d stage %d: %w", ticketID, stageID, notFound(err))
		}
		if err := s.emitStageChange(ctx, tx, ticketID, fromID, wasClosed); err != nil {
			return err
		}
		if closes {
			if err := enqueueRatingRequest(ctx, tx, ticketID); err != nil {
				return err
			}
		}
		if awaiting && !wasAwaiting {
			return enqueueSolvedNotice(ctx, tx, ticketID)
		}
		return nil
	})
}

// InboxTicketAssign sets the ticket's owner (0 = unassigned). Errors: ErrNotFound (ticket or an
// inactive staff user).
func (s *Store) InboxTicketAssign(ctx context.Context, ticketID, ownerID int64) error {
	var owner *int64
	if ownerID != 0 {
		if _, err := s.StaffGet(ctx, ownerID); err != nil {
			return fmt.Errorf("owner %d: %w", ownerID, err)
		}
		owner = &ownerID
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE tickets SET owner_id = $2 WHERE id = $1`, ticketID, owner)
	if err != nil {
		return fmt.Errorf("ticket %d owner: %w", ticketID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("ticket %d: %w", ticketID, ErrNotFound)
	}
	return nil
}

// InboxTicketNew is a ticket an agent opens on a contact's behalf (e.g. from a phone call).
type InboxTicketNew struct {
	ContactEmail string
	Subject      string
	Description  string
	PipelineID   int64
	Priority     string
	OwnerID      int64
}

// MaxSubjectRunes bounds a ticket subject.
const MaxSubjectRunes = 200

// TicketPriorities are the priorities a ticket may carry, "" meaning none, in the order forms
// offer them.
var TicketPriorities = []string{"", "low", "medium", "high", "urgent"}

// requesterByEmail finds the contact a ticket opened on someone's behalf is for (email compared
// case-insensitively, spaces trimmed) and its primary company (0 when none). found is false when
// no contact has the address; err is a database error.
func (s *Store) requesterByEmail(ctx context.Context, email string) (contactID, companyID int64, found bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT id, coalesce(company_id, 0) FROM contacts WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)).Scan(&contactID, &companyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	return contactID, companyID, err == nil, err
}

// InboxTicketCreate creates a phone ticket for the contact with ContactEmail (its company is the
// contact's primary company) in the first open stage of the pipeline, with NO conversation: the
// customer's first portal reply opens one in the default inbox (TicketReplyCreate). A "ticket"
// event goes on the contact's timeline. Errors: *ValidationError (contact, subject, description,
// pipeline, priority).
func (s *Store) InboxTicketCreate(ctx context.Context, staffID int64, n InboxTicketNew) (int64, error) {
	fields := map[string]string{}
	n.Subject = strings.TrimSpace(n.Subject)
	if n.Subject == "" || utf8.RuneCountInString(n.Subject) > MaxSubjectRunes {
		fields["subject"] = "SubjectInvalid"
	}
	if utf8.RuneCountInString(n.Description) > MaxReplyRunes || !utf8.ValidString(n.Description) {
		fields["description"] = "ReplyTooLong"
	}
	if !slices.Contains(TicketPriorities, n.Priority) {
		fields["priority"] = "PriorityInvalid"
	}
	contactID, companyID, found, err := s.requesterByEmail(ctx, n.ContactEmail)
	if err != nil {
		return 0, err
	}
	if !found {
		fields["contact"] = "ContactUnknown"
	}
	var stageID int64
	err = s.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE pipeline_id = $1 AND NOT is_closed ORDER BY position, id LIMIT 1`, n.PipelineID).Scan(&stageID)
	if errors.Is(err, pgx.ErrNoRows) {
		fields["pipeline"] = "PipelineInvalid"
	} else if err != nil {
		return 0, err
	}
	if len(fields) > 0 {
		return 0, &ValidationError{Fields: fields}
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var comp, owner *int64
		if companyID != 0 {
			comp = &companyID
		}
		if n.OwnerID != 0 {
			owner = &n.OwnerID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, channel, requester_id, company_id, owner_id)
			VALUES ($1, $2, $3, $4, $5, 'phone', $6, $7, $8) RETURNING id`,
			n.Subject, n.Description, n.PipelineID, stageID, n.Priority, contactID, comp, owner).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, summary) VALUES ($1, 'ticket', $2, $3)`,
			contactID, id, n.Subject)
		if err != nil {
			return err
		}
		return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.TicketCreated, TicketID: id})
	})
	if err != nil {
		return 0, fmt.Errorf("new ticket: %w", err)
	}
	return id, nil
}
