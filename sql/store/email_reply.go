package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// ReplyMailJob sends an agent's public reply on an email ticket to the requester as a threaded
// mail (River kind "portico_mail_reply"): From the inbox address, Reply-To the signed reply
// address, the message's stored Message-ID, In-Reply-To/References to the conversation's
// earlier mails.
type ReplyMailJob struct {
	MessageID int64 `json:"message_id"`
}

// Kind is River's job kind.
func (ReplyMailJob) Kind() string { return "portico_mail_reply" }

// enqueueEmailReply enqueues ReplyMailJob for a public staff message when its ticket's channel
// is email and the ticket's email conversation belongs to an inbox with an address: it gives
// the message its Message-ID now (stable across retries) and reports true, so the caller sends
// no link notice besides. A requester outside the ticket's scope (admin filters) or with an
// undeliverable address gets nothing (true: handled, agents see the address flagged).
func enqueueEmailReply(ctx context.Context, tx pgx.Tx, ticketID, messageID int64) (bool, error) {
	var channel, address string
	var undeliverable bool
	var contactID, companyID int64
	err := tx.QueryRow(ctx, `SELECT t.channel, e.address, coalesce(c.undeliverable, false), coalesce(c.id, 0), coalesce(c.company_id, 0)
		FROM tickets t
		JOIN conversations cv ON cv.ticket_id = t.id AND cv.channel = 'email'
		JOIN inbox_email e ON e.inbox_id = cv.inbox_id
		LEFT JOIN contacts c ON c.id = t.requester_id
		WHERE t.id = $1 ORDER BY cv.created_at, cv.id LIMIT 1`, ticketID).Scan(&channel, &address, &undeliverable, &contactID, &companyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if channel != "email" {
		return false, nil
	}
	if contactID == 0 || undeliverable {
		return true, nil
	}
	st, err := settingsIn(ctx, tx)
	if err != nil {
		return false, err
	}
	v := NewViewer(contactID, companyID, st, "")
	args := []any{ticketID}
	scope := v.detailScope(&args)
	var visible bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil {
		return false, err
	}
	if !visible {
		return true, nil
	}
	_, domain, _ := strings.Cut(address, "@")
	mid := "portico-" + randomKey() + "@" + domain
	if _, err := tx.Exec(ctx, `UPDATE messages SET email_message_id = $2 WHERE id = $1`, messageID, mid); err != nil {
		return false, err
	}
	c, err := inserter()
	if err != nil {
		return false, err
	}
	if _, err := c.InsertTx(ctx, tx, ReplyMailJob{MessageID: messageID}, &river.InsertOpts{MaxAttempts: MailMaxAttempts}); err != nil {
		return false, fmt.Errorf("enqueue reply mail: %w", err)
	}
	return true, nil
}

// ReplyMail is what the reply-mail worker needs to send one agent message as email.
type ReplyMail struct {
	TicketID int64
	// To is the requester's address, ToName their name, Lang their language.
	To, ToName, Lang string
	// From is the inbox address, FromName its display name (else the inbox name).
	From, FromName string
	Subject        string
	Body           string
	// MessageID is the message's own Message-ID; InReplyTo the newest earlier email message of
	// the ticket; References the earlier ones, oldest first (at most 20).
	MessageID, InReplyTo string
	References           []string
}

// ReplyMailGet returns the mail for a staff message queued by enqueueEmailReply. Errors:
// ErrNotFound (message gone, no longer an email ticket, or no Message-ID).
func (s *Store) ReplyMailGet(ctx context.Context, messageID int64) (ReplyMail, error) {
	var r ReplyMail
	var fromName, inboxName string
	err := s.Pool.QueryRow(ctx, `SELECT t.id, c.email, c.name, coalesce(nullif(c.language, ''), t.language), e.address, e.display_name, i.name,
			t.subject, m.body, m.email_message_id
		FROM messages m
		JOIN tickets t ON t.id = m.ticket_id
		JOIN contacts c ON c.id = t.requester_id
		JOIN conversations cv ON cv.ticket_id = t.id AND cv.channel = 'email'
		JOIN inbox_email e ON e.inbox_id = cv.inbox_id
		JOIN inboxes i ON i.id = e.inbox_id
		WHERE m.id = $1 AND m.kind = 'public' AND m.email_message_id IS NOT NULL
		ORDER BY cv.created_at, cv.id LIMIT 1`, messageID).
		Scan(&r.TicketID, &r.To, &r.ToName, &r.Lang, &r.From, &fromName, &inboxName, &r.Subject, &r.Body, &r.MessageID)
	if err != nil {
		return r, fmt.Errorf("reply mail %d: %w", messageID, notFound(err))
	}
	r.FromName = fromName
	if r.FromName == "" {
		r.FromName = inboxName
	}
	rows, err := s.Pool.Query(ctx, `SELECT email_message_id FROM messages
		WHERE ticket_id = $1 AND id < $2 AND kind = 'public' AND email_message_id IS NOT NULL ORDER BY id DESC LIMIT 20`, r.TicketID, messageID)
	if err != nil {
		return r, err
	}
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return r, err
	}
	if len(refs) > 0 {
		r.InReplyTo = refs[0]
	}
	for i := len(refs) - 1; i >= 0; i-- {
		r.References = append(r.References, refs[i])
	}
	return r, nil
}
