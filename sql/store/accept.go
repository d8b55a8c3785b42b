package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
)

// Accept or reopen (issue 16.5): a stage with asks_confirmation means "solved, waiting for the
// customer". The customer who holds the ticket answers "Is this solved?": yes closes it
// (TicketAcceptForViewer), a reply reopens it (TicketReplyCreate moves it back to the first
// open stage).

// MailTicketSolved asks the requester to confirm that their ticket is solved (keys MailTicketSolved…).
const MailTicketSolved = "ticket_solved"

// StageSetConfirmation sets whether a stage asks the customer to confirm the solution, audited
// as "stage:<id>". Errors: ErrNotFound.
func (s *Store) StageSetConfirmation(ctx context.Context, editor Staff, id int64, asks bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var before bool
		if err := tx.QueryRow(ctx, `SELECT asks_confirmation FROM stages WHERE id = $1 FOR UPDATE`, id).Scan(&before); err != nil {
			return fmt.Errorf("stage %d: %w", id, notFound(err))
		}
		if before == asks {
			return nil
		}
		if _, err := db.New(tx).StageSetConfirmation(ctx, db.StageSetConfirmationParams{ID: id, AsksConfirmation: asks}); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, "stage:"+strconv.FormatInt(id, 10), "asks_confirmation="+strconv.FormatBool(before), "asks_confirmation="+strconv.FormatBool(asks))
	})
}

// TicketAcceptForViewer confirms that a ticket waiting for the customer's confirmation is
// solved ("Yes"): it moves to its pipeline's closed stage, like TicketCloseForViewer, whatever
// allow_close_from_portal says. Errors: ErrNotFound (outside the viewer's manage scope: a
// participant cannot accept), ErrConflict (the ticket is not waiting for confirmation, or the
// pipeline has no closed stage).
func (s *Store) TicketAcceptForViewer(ctx context.Context, v Viewer, ticketID int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.manageScope(&args)
		var awaiting bool
		if err := tx.QueryRow(ctx, `SELECT st.asks_confirmation AND NOT t.is_closed FROM tickets t JOIN stages st ON st.id = t.stage_id
			WHERE t.id = $1 AND `+scope+` FOR UPDATE OF t`, args...).Scan(&awaiting); err != nil {
			return fmt.Errorf("accept ticket %d: %w", ticketID, notFound(err))
		}
		if !awaiting {
			return fmt.Errorf("accept ticket %d: not waiting for confirmation: %w", ticketID, ErrConflict)
		}
		return s.closeTicket(ctx, tx, ticketID)
	})
}

// closeTicket moves the ticket to its pipeline's closed stage (pipelines.closed_stage_id, else
// the first closed stage) and stamps closed_at; the caller holds the ticket's row lock.
// Errors: ErrConflict (no closed stage).
func (s *Store) closeTicket(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	var stageID, fromID int64
	var wasClosed bool
	err := tx.QueryRow(ctx, `SELECT coalesce(p.closed_stage_id,
			(SELECT id FROM stages WHERE pipeline_id = p.id AND is_closed ORDER BY position, id LIMIT 1)), t.stage_id, t.is_closed
		FROM pipelines p JOIN tickets t ON t.pipeline_id = p.id WHERE t.id = $1`, ticketID).Scan(&stageID, &fromID, &wasClosed)
	if err != nil || stageID == 0 {
		return fmt.Errorf("close ticket %d: pipeline has no closed stage: %w", ticketID, ErrConflict)
	}
	if _, err = tx.Exec(ctx, `UPDATE tickets SET stage_id = $2, is_closed = true, closed_at = now(), last_activity_at = now() WHERE id = $1`, ticketID, stageID); err != nil {
		return err
	}
	if err := s.emitStageChange(ctx, tx, ticketID, fromID, wasClosed); err != nil {
		return err
	}
	return enqueueRatingRequest(ctx, tx, ticketID)
}

// enqueueSolvedNotice mails the requester (when they may see the ticket) that an agent marked
// it solved, with a link to confirm or reopen it.
func enqueueSolvedNotice(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	var email, name, lang, subject string
	var contactID, companyID int64
	err := tx.QueryRow(ctx, `SELECT c.id, coalesce(c.company_id, 0), c.email, c.name, coalesce(nullif(c.language, ''), t.language), t.subject
		FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = $1 AND NOT c.undeliverable`, ticketID).
		Scan(&contactID, &companyID, &email, &name, &lang, &subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := settingsIn(ctx, tx)
	if err != nil {
		return err
	}
	v := NewViewer(contactID, companyID, st, "")
	args := []any{ticketID}
	scope := v.detailScope(&args)
	var visible bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil || !visible {
		return err
	}
	return EnqueueMail(ctx, tx, MailJob{Template: MailTicketSolved, To: email, Name: name, Lang: lang,
		Path: "/tickets/" + strconv.FormatInt(ticketID, 10), Ticket: subject, Guest: &GuestRef{TicketID: ticketID, ContactID: contactID}})
}
