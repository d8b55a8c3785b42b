package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ContactErasureRequest records that the contact asks to be deleted (GDPR art. 17); asking
// again keeps the first time. Admins see open requests in the console (ErasureRequestList).
// Errors: ErrNotFound (no such contact, or erased), database errors.
func (s *Store) ContactErasureRequest(ctx context.Context, contactID int64) error {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO contact_erasure_requests (contact_id)
		SELECT id FROM contacts WHERE id = $1 AND erased_at IS NULL ON CONFLICT (contact_id) DO NOTHING`, contactID)
	if err != nil {
		return fmt.Errorf("contact %d erasure request: %w", contactID, err)
	}
	if tag.RowsAffected() == 0 {
		if at, err := s.ContactErasureRequested(ctx, contactID); err != nil || at == nil {
			return fmt.Errorf("contact %d erasure request: %w", contactID, ErrNotFound)
		}
	}
	return nil
}

// ContactErasureWithdraw removes the contact's open deletion request (none: nil).
func (s *Store) ContactErasureWithdraw(ctx context.Context, contactID int64) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM contact_erasure_requests WHERE contact_id = $1`, contactID)
	return err
}

// ContactErasureRequested returns when the contact asked to be deleted (nil = no open request).
func (s *Store) ContactErasureRequested(ctx context.Context, contactID int64) (*time.Time, error) {
	var at time.Time
	err := s.Pool.QueryRow(ctx, `SELECT requested_at FROM contact_erasure_requests WHERE contact_id = $1`, contactID).Scan(&at)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contact %d erasure request: %w", contactID, err)
	}
	return &at, nil
}

// ErasureRequest is one open deletion request, for the admins' list.
type ErasureRequest struct {
	ContactID   int64
	Name, Email string
	RequestedAt time.Time
}

// ErasureRequestList returns the open deletion requests, oldest first (at most 500).
func (s *Store) ErasureRequestList(ctx context.Context) ([]ErasureRequest, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.name, c.email, r.requested_at FROM contact_erasure_requests r
		JOIN contacts c ON c.id = r.contact_id ORDER BY r.requested_at, c.id LIMIT 500`)
	if err != nil {
		return nil, fmt.Errorf("erasure requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ErasureRequest])
	if err != nil {
		return nil, fmt.Errorf("erasure requests: %w", err)
	}
	return out, nil
}
