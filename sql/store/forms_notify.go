package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// MailTicketReply is the mail that tells a customer an agent answered their ticket (issue 6,
// timeline and notification): it names the ticket, carries the public answer (never a note) and
// links to the ticket, which opens behind sign-in in the Viewer's scope (issue 15).
const MailTicketReply = "ticket_reply"

// enqueueReplyNotice enqueues MailTicketReply for the ticket's requester in tx, so the mail is
// sent exactly when the reply commits; answer is the agent's public message. A ticket without a
// requester notifies nobody.
func enqueueReplyNotice(ctx context.Context, tx pgx.Tx, ticketID int64, answer string) error {
	var email, name, lang, subject string
	var contactID, companyID int64
	err := tx.QueryRow(ctx, `SELECT c.id, coalesce(c.company_id, 0), c.email, c.name, coalesce(nullif(c.language, ''), t.language), t.subject
		FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = $1`, ticketID).Scan(&contactID, &companyID, &email, &name, &lang, &subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	// A ticket the admin's filters hide from the customer gets no notice: its link would be a 404.
	st, err := settingsIn(ctx, tx)
	if err != nil {
		return err
	}
	v := NewViewer(contactID, companyID, st, "")
	args := []any{ticketID}
	scope := v.detailScope(&args)
	var visible bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil {
		return err
	}
	if !visible {
		return nil
	}
	return EnqueueMail(ctx, tx, MailJob{Template: MailTicketReply, To: email, Name: name, Lang: lang,
		Path: "/tickets/" + strconv.FormatInt(ticketID, 10), Ticket: subject, Quote: answer, Guest: &GuestRef{TicketID: ticketID, ContactID: contactID}})
}
