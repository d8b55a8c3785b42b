package store

import (
	"context"
	"fmt"
)

// TicketChanges is what changed on a ticket since a message id, as a viewer may see it.
type TicketChanges struct {
	Ticket Ticket
	// Messages are the public messages newer than the given id, oldest first.
	Messages []Message
}

// TicketChangesForViewer returns the ticket's current properties and the public messages of its
// shown conversation newer than afterID, for live updates. Errors: ErrNotFound (outside scope).
func (s *Store) TicketChangesForViewer(ctx context.Context, v Viewer, ticketID, afterID int64) (TicketChanges, error) {
	d, err := s.TicketGetForViewer(ctx, v, ticketID)
	if err != nil {
		return TicketChanges{}, err
	}
	out := TicketChanges{Ticket: d.Ticket}
	for _, m := range d.Messages {
		if m.ID > afterID {
			out.Messages = append(out.Messages, m)
		}
	}
	return out, nil
}

// TicketVisible reports whether the ticket is in the viewer's scope. Errors: ErrNotFound.
func (s *Store) TicketVisible(ctx context.Context, v Viewer, ticketID int64) error {
	args := []any{ticketID}
	scope := v.detailScope(&args)
	var one int
	if err := s.Pool.QueryRow(ctx, `SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope, args...).Scan(&one); err != nil {
		return fmt.Errorf("ticket %d: %w", ticketID, notFound(err))
	}
	return nil
}
