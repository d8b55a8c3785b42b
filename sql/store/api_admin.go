package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// Staff-side writes of the JSON API, for admin API keys (issue 17). Like the agent inbox they
// take no Viewer and must never serve a customer path.

// APIChannels are the channels an admin API key may open a ticket on (the "email gateway or
// chat" channels of the product plan).
var APIChannels = []string{"chat", "messenger", "email", "phone", "form", "portal"}

// APITicketNew is a ticket created through an admin API key on a contact's behalf: the contact
// (by email) is the requester and writes the first message.
type APITicketNew struct {
	ContactEmail string
	Subject      string
	Body         string
	Channel      string // one of APIChannels (default "chat")
	Priority     string // "", low, medium, high, urgent
	PipelineID   int64  // 0 = the first pipeline
}

// APITicketCreate creates, in one transaction, the ticket (requester = the contact, company =
// its primary company, the pipeline's first open stage), its conversation on the channel in the
// default inbox and the contact's first public message, plus a "ticket" timeline event. Errors:
// *ValidationError (contact "ContactUnknown", subject "SubjectInvalid", body "ReplyEmpty"/
// "ReplyTooLong", channel "ChannelInvalid", priority "PriorityInvalid", pipeline
// "PipelineInvalid"), ErrNoDefaultInbox.
func (s *Store) APITicketCreate(ctx context.Context, n APITicketNew) (int64, error) {
	fields := map[string]string{}
	n.Subject = strings.TrimSpace(n.Subject)
	if n.Subject == "" || utf8.RuneCountInString(n.Subject) > MaxSubjectRunes || strings.ContainsRune(n.Subject, 0) {
		fields["subject"] = "SubjectInvalid"
	}
	if err := ValidateReply(n.Body); err != nil {
		fields["body"] = err.(*ValidationError).Fields["body"]
	}
	if n.Channel == "" {
		n.Channel = "chat"
	}
	if !slices.Contains(APIChannels, n.Channel) {
		fields["channel"] = "ChannelInvalid"
	}
	if !slices.Contains(TicketPriorities, n.Priority) {
		fields["priority"] = "PriorityInvalid"
	}
	contactID, companyID, found, err := s.requesterByEmail(ctx, n.ContactEmail)
	if err != nil {
		return 0, err
	}
	if !found {
		fields["contact_email"] = "ContactUnknown"
	}
	var stageID int64
	err = s.Pool.QueryRow(ctx, `SELECT st.pipeline_id, st.id FROM stages st JOIN pipelines p ON p.id = st.pipeline_id
		WHERE ($1 = 0 OR p.id = $1) AND NOT st.is_closed ORDER BY p.position, p.id, st.position, st.id LIMIT 1`, n.PipelineID).Scan(&n.PipelineID, &stageID)
	if errors.Is(err, pgx.ErrNoRows) {
		fields["pipeline_id"] = "PipelineInvalid"
	} else if err != nil {
		return 0, err
	}
	if len(fields) > 0 {
		return 0, &ValidationError{Fields: fields}
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var comp *int64
		if companyID != 0 {
			comp = &companyID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, channel, requester_id, company_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			n.Subject, n.Body, n.PipelineID, stageID, n.Priority, n.Channel, contactID, comp).Scan(&id); err != nil {
			return err
		}
		var convID int64
		err := tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel)
			SELECT $1, id, $2 FROM inboxes WHERE is_default RETURNING id`, id, n.Channel).Scan(&convID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoDefaultInbox
		}
		if err != nil {
			return err
		}
		var msgID int64
		if err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body) VALUES ($1, $2, 'public', $3, $4) RETURNING id`,
			convID, id, contactID, n.Body).Scan(&msgID); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, summary) VALUES ($1, 'ticket', $2, $3)`, contactID, id, n.Subject); err != nil {
			return err
		}
		return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.TicketCreated, TicketID: id, MessageID: msgID})
	})
	if err != nil {
		return 0, fmt.Errorf("API ticket: %w", err)
	}
	return id, nil
}

// APIMessageNew is a message added through an admin API key.
type APIMessageNew struct {
	Body string
	// Internal makes it an internal note (never shown on a customer path, notifies nobody).
	Internal bool
	// FromCustomer makes the ticket's requester its author (a customer message arriving through
	// the company's own gateway, e.g. a chat); else it is the support team's public reply,
	// written by StaffID (0 = the support team, no name).
	FromCustomer bool
	StaffID      int64
}

// APIMessageCreate adds a message to the ticket's oldest conversation (opening one in the
// default inbox when there is none). A public message bumps the ticket's last activity; a
// support-team reply also notifies the customer (mail enqueued in the same transaction), as an
// agent's reply does. Errors: *ValidationError (body; "staff_id" → "StaffUnknown"; a customer
// note → "internal" "InternalFromCustomer"), ErrNotFound (ticket; a customer message on a
// ticket without requester).
func (s *Store) APIMessageCreate(ctx context.Context, ticketID int64, n APIMessageNew) (StaffMessage, error) {
	m := StaffMessage{Body: n.Body, Internal: n.Internal, FromCustomer: n.FromCustomer}
	if err := ValidateReply(n.Body); err != nil {
		return m, err
	}
	if n.Internal && n.FromCustomer {
		return m, Invalid("internal", "InternalFromCustomer")
	}
	kind := "public"
	if n.Internal {
		kind = "internal_note"
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var requester *int64
		if err := tx.QueryRow(ctx, `SELECT requester_id FROM tickets WHERE id = $1 FOR UPDATE`, ticketID).Scan(&requester); err != nil {
			return notFound(err)
		}
		var contact, staff *int64
		switch {
		case n.FromCustomer:
			if requester == nil {
				return ErrNotFound
			}
			contact = requester
			if err := tx.QueryRow(ctx, `SELECT coalesce(nullif(name, ''), email) FROM contacts WHERE id = $1`, *requester).Scan(&m.AuthorName); err != nil {
				return err
			}
		case n.StaffID != 0:
			staff = &n.StaffID
			if err := tx.QueryRow(ctx, `SELECT name FROM staff_users WHERE id = $1 AND status = 'active'`, n.StaffID).Scan(&m.AuthorName); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return Invalid("staff_id", "StaffUnknown")
				}
				return err
			}
		}
		var convID int64
		err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE ticket_id = $1 ORDER BY created_at, id LIMIT 1`, ticketID).Scan(&convID)
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
		if err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, author_staff_id, body)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`, convID, ticketID, kind, contact, staff, n.Body).Scan(&m.ID, &m.CreatedAt); err != nil {
			return err
		}
		if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.MessageAdded, TicketID: ticketID, MessageID: m.ID}); err != nil {
			return err
		}
		if n.Internal {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE tickets SET last_activity_at = $2 WHERE id = $1`, ticketID, m.CreatedAt); err != nil {
			return err
		}
		if n.FromCustomer {
			return nil
		}
		if mailed, err := enqueueEmailReply(ctx, tx, ticketID, m.ID); err != nil || mailed {
			return err
		}
		return enqueueReplyNotice(ctx, tx, ticketID, n.Body)
	})
	if err != nil {
		return StaffMessage{}, fmt.Errorf("API message on ticket %d: %w", ticketID, err)
	}
	return m, nil
}

// CompanyEnsureCreated returns the company named name (case-insensitively), creating it when
// missing; created tells which.
func (s *Store) CompanyEnsureCreated(ctx context.Context, name string) (int64, bool, error) {
	var id int64
	err := s.Pool.QueryRow(ctx, `INSERT INTO companies (name) VALUES ($1) ON CONFLICT (lower(name)) DO NOTHING RETURNING id`, name).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("company %q: %w", name, err)
	}
	err = s.Pool.QueryRow(ctx, `SELECT id FROM companies WHERE lower(name) = lower($1)`, name).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("company %q: %w", name, notFound(err))
	}
	return id, false, nil
}
