package store

import (
	"context"
	"fmt"
	"net/mail"
	"portico/sql/db"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"portico/webhook"
)

// Contact is a customer record.
type Contact struct {
	ID          int64
	Email       string
	Name        string
	CompanyID   int64
	CompanyName string
	Language    string
}

// Account is what sign-in needs about a contact's portal account.
type Account struct {
	Contact      Contact
	PasswordHash string
	Status       string
}

// NormalizeEmail trims and lower-cases an address and checks it is one plain address
// (RFC 5322 addr-spec, no display name). It returns a *ValidationError for field "email".
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", Invalid("email", "EmailInvalid")
	}
	return s, nil
}

// CompanyEnsure returns the id of the company named name (case-insensitive), creating it.
func CompanyEnsure(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	return db.New(tx).CompanyEnsure(ctx, strings.TrimSpace(name))
}

// ContactAdd creates a contact (and its company, when named and new). Errors: *ValidationError
// (email, name), ErrConflict when the email is already a contact.
func (s *Store) ContactAdd(ctx context.Context, email, name, company string) (Contact, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Contact{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 {
		return Contact{}, Invalid("name", "NameInvalid")
	}
	c := Contact{Email: email, Name: name, CompanyName: strings.TrimSpace(company)}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var cid *int64
		if c.CompanyName != "" {
			id, err := CompanyEnsure(ctx, tx, c.CompanyName)
			if err != nil {
				return err
			}
			cid, c.CompanyID = &id, id
		}
		if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name, company_id) VALUES ($1, $2, $3) RETURNING id`,
			email, CleanName(name), cid).Scan(&c.ID); err != nil {
			return err
		}
		return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: c.ID})
	})
	if isUnique(err) {
		return Contact{}, fmt.Errorf("contact %s: %w", email, ErrConflict)
	}
	return c, err
}

// ContactGet returns a contact by id. Errors: ErrNotFound.
func (s *Store) ContactGet(ctx context.Context, id int64) (Contact, error) {
	return s.contactGet(ctx, id, false)
}

// ContactGetSignedIn is ContactGet for the contact a session or guest link acts for: an erased
// contact (ContactErase) is ErrNotFound too, so whatever session outlived the erasure ends on its
// next request, even when ending the sessions in Redis failed at erasure time.
func (s *Store) ContactGetSignedIn(ctx context.Context, id int64) (Contact, error) {
	return s.contactGet(ctx, id, true)
}

func (s *Store) contactGet(ctx context.Context, id int64, liveOnly bool) (Contact, error) {
	var c Contact
	err := s.Pool.QueryRow(ctx, `SELECT c.id, c.email, c.name, coalesce(c.company_id, 0), coalesce(co.name, ''), c.language
		FROM contacts c LEFT JOIN companies co ON co.id = c.company_id WHERE c.id = $1 AND NOT ($2 AND c.erased_at IS NOT NULL)`, id, liveOnly).
		Scan(&c.ID, &c.Email, &c.Name, &c.CompanyID, &c.CompanyName, &c.Language)
	return c, notFound(err)
}

// AccountByEmail returns the contact and portal account for an address. Errors: ErrNotFound
// when there is no such contact or it has no account.
func (s *Store) AccountByEmail(ctx context.Context, email string) (Account, error) {
	var a Account
	c := &a.Contact
	err := s.Pool.QueryRow(ctx, `SELECT c.id, c.email, c.name, coalesce(c.company_id, 0), coalesce(co.name, ''), c.language,
			coalesce(pa.password_hash, ''), pa.status
		FROM contacts c
		JOIN portal_accounts pa ON pa.contact_id = c.id
		LEFT JOIN companies co ON co.id = c.company_id
		WHERE lower(c.email) = lower($1)`, strings.TrimSpace(email)).
		Scan(&c.ID, &c.Email, &c.Name, &c.CompanyID, &c.CompanyName, &c.Language, &a.PasswordHash, &a.Status)
	return a, notFound(err)
}

// AccountSetPassword stores an already-hashed password for the contact with email, creating the
// portal account (active) when missing. Errors: ErrNotFound when no contact has that address.
func (s *Store) AccountSetPassword(ctx context.Context, email, hash string) (Contact, error) {
	var c Contact
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id, email, name FROM contacts WHERE lower(email) = lower($1)`,
			strings.TrimSpace(email)).Scan(&c.ID, &c.Email, &c.Name); err != nil {
			return notFound(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_accounts (contact_id, password_hash, status) VALUES ($1, $2, 'active')
			ON CONFLICT (contact_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()`, c.ID, hash)
		return err
	})
	return c, err
}

// AccountSignedIn records a successful sign-in time.
func (s *Store) AccountSignedIn(ctx context.Context, contactID int64, at time.Time) error {
	_, err := s.Pool.Exec(ctx, `UPDATE portal_accounts SET last_sign_in_at = $2 WHERE contact_id = $1`, contactID, at)
	return err
}
