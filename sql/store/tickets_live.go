package store

import (
	"context"
	"fmt"
)

// TicketChangesForViewer returns the ticket's current properties with only the public messages
// of its shown conversation(s) newer than afterID, for live updates. Errors: ErrNotFound
// (outside scope).
func (s *Store) TicketChangesForViewer(ctx context.Context, v Viewer, ticketID, afterID int64) (TicketDetail, error) {
	return s.ticketForViewer(ctx, v, ticketID, afterID, false)
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
