package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Staff roles.
const (
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// Staff is an agent or admin. Staff are not contacts: they never pass a customer guard.
type Staff struct {
	ID     int64
	Email  string
	Name   string
	Role   string
	Status string
}

// IsAdmin reports whether the staff user may configure the portal.
func (s *Staff) IsAdmin() bool { return s != nil && s.Role == RoleAdmin }

// StaffAdd creates an active staff user with an already-hashed password. Errors:
// *ValidationError (email, name, role), ErrConflict when the email is taken.
func (s *Store) StaffAdd(ctx context.Context, email, name, role, hash string) (Staff, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Staff{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 {
		return Staff{}, Invalid("name", "NameInvalid")
	}
	if role != RoleAdmin && role != RoleAgent {
		return Staff{}, Invalid("role", "RoleInvalid")
	}
	st := Staff{Email: email, Name: name, Role: role, Status: "active"}
	err = s.Pool.QueryRow(ctx, `INSERT INTO staff_users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
		email, CleanName(name), role, hash).Scan(&st.ID)
	if isUnique(err) {
		return Staff{}, fmt.Errorf("staff %s: %w", email, ErrConflict)
	}
	return st, err
}

// StaffGet returns an active staff user by id. Errors: ErrNotFound (unknown or disabled).
func (s *Store) StaffGet(ctx context.Context, id int64) (Staff, error) {
	var st Staff
	err := s.Pool.QueryRow(ctx, `SELECT id, email, name, role, status FROM staff_users WHERE id = $1 AND status = 'active'`, id).
		Scan(&st.ID, &st.Email, &st.Name, &st.Role, &st.Status)
	return st, notFound(err)
}

// StaffByEmail returns the staff user with email and the password hash, for sign-in. Errors:
// ErrNotFound.
func (s *Store) StaffByEmail(ctx context.Context, email string) (Staff, string, error) {
	var st Staff
	var hash string
	err := s.Pool.QueryRow(ctx, `SELECT id, email, name, role, status, coalesce(password_hash, '') FROM staff_users
		WHERE lower(email) = lower($1)`, strings.TrimSpace(email)).Scan(&st.ID, &st.Email, &st.Name, &st.Role, &st.Status, &hash)
	return st, hash, notFound(err)
}

// StaffList returns every active staff user by name (owner choices in the inbox).
func (s *Store) StaffList(ctx context.Context) ([]Staff, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, email, name, role, status FROM staff_users WHERE status = 'active' ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("staff list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Staff, error) {
		var st Staff
		err := r.Scan(&st.ID, &st.Email, &st.Name, &st.Role, &st.Status)
		return st, err
	})
}
