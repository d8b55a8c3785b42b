package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// MailTicketReply is the mail that tells a customer an agent answered their ticket (issue 6,
// timeline and notification): a link to the ticket, no message text (the customer reads it
// behind sign-in, in the Viewer's scope).
const MailTicketReply = "ticket_reply"

// enqueueReplyNotice enqueues MailTicketReply for the ticket's requester in tx, so the mail is
// sent exactly when the reply commits. A ticket without a requester notifies nobody.
func enqueueReplyNotice(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	var email, name, lang string
	err := tx.QueryRow(ctx, `SELECT c.email, c.name, coalesce(nullif(c.language, ''), t.language)
		FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = $1`, ticketID).Scan(&email, &name, &lang)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return EnqueueMail(ctx, tx, MailJob{Template: MailTicketReply, To: email, Name: name, Lang: lang,
		Path: "/tickets/" + strconv.FormatInt(ticketID, 10)})
}
