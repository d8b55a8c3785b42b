package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// StaffTOTP is a staff user's TOTP second factor (RFC 6238) as stored: the sealed shared
// secret (never the secret itself: handlers seal and open it), when it was enabled (zero: off)
// and the last accepted time step (replay protection: a code is accepted once).
type StaffTOTP struct {
	Sealed    []byte
	EnabledAt time.Time
	LastStep  int64
}

// Enabled reports whether sign-in needs a TOTP code.
func (t StaffTOTP) Enabled() bool { return !t.EnabledAt.IsZero() && len(t.Sealed) > 0 }

// StaffTOTPGet returns the TOTP state of the active staff user id. Errors: ErrNotFound.
func (s *Store) StaffTOTPGet(ctx context.Context, id int64) (StaffTOTP, error) {
	var t StaffTOTP
	var enabled *time.Time
	var step *int64
	err := s.Pool.QueryRow(ctx, `SELECT totp_secret, totp_enabled_at, totp_last_step FROM staff_users
		WHERE id = $1 AND status = 'active'`, id).Scan(&t.Sealed, &enabled, &step)
	if err != nil {
		return StaffTOTP{}, notFound(err)
	}
	if enabled != nil {
		t.EnabledAt = *enabled
	}
	if step != nil {
		t.LastStep = *step
	}
	return t, nil
}

// StaffTOTPEnable turns TOTP on for staff user id with the sealed secret; step is the time
// step of the code that confirmed it (used up, so that the same code cannot sign in). An audit
// entry "staff:<id>:totp" records the change (never the secret). Errors: ErrConflict when TOTP
// is already on, ErrNotFound.
func (s *Store) StaffTOTPEnable(ctx context.Context, editor Staff, id int64, sealed []byte, step int64) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit: a no-op
	tag, err := tx.Exec(ctx, `UPDATE staff_users SET totp_secret = $2, totp_enabled_at = now(), totp_last_step = $3
		WHERE id = $1 AND status = 'active' AND totp_enabled_at IS NULL`, id, sealed, step)
	if err != nil {
		return fmt.Errorf("staff totp enable: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("staff %d totp: %w", id, ErrConflict)
	}
	if err := auditTx(ctx, tx, editor, "staff:"+strconv.FormatInt(id, 10)+":totp", "off", "on"); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// StaffTOTPDisable turns TOTP off for staff user id and forgets the secret (audited as
// StaffTOTPEnable). Turning off what is off is a no-op.
func (s *Store) StaffTOTPDisable(ctx context.Context, editor Staff, id int64) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit: a no-op
	tag, err := tx.Exec(ctx, `UPDATE staff_users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL
		WHERE id = $1 AND totp_enabled_at IS NOT NULL`, id)
	if err != nil {
		return fmt.Errorf("staff totp disable: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if err := auditTx(ctx, tx, editor, "staff:"+strconv.FormatInt(id, 10)+":totp", "on", "off"); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// StaffTOTPUseStep records step as staff user id's last accepted time step, atomically and only
// when it is later than the one stored. It reports false when it is not (the code was already
// used, or an older one: a replay) or TOTP is off.
func (s *Store) StaffTOTPUseStep(ctx context.Context, id, step int64) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE staff_users SET totp_last_step = $2
		WHERE id = $1 AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)`, id, step)
	if err != nil {
		return false, fmt.Errorf("staff totp step: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
