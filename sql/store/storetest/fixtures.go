package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MustCompany creates a company and returns its id.
func MustCompany(t testing.TB, pool *pgxpool.Pool, name string) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO companies (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
		t.Fatalf("MustCompany(%q): %v", name, err)
	}
	return id
}

// MustContact creates a contact (companyID 0 = none); with a non-empty password it also creates an
// active portal account with that password (argon2id, cheap test parameters).
func MustContact(t testing.TB, pool *pgxpool.Pool, email, name string, companyID int64, password string) int64 {
	t.Helper()
	ctx := context.Background()
	var cid *int64
	if companyID != 0 {
		cid = &companyID
	}
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO contacts (email, name, company_id) VALUES ($1, $2, $3) RETURNING id`, email, name, cid).Scan(&id); err != nil {
		t.Fatalf("MustContact(%q): %v", email, err)
	}
	if password != "" {
		hash, err := argon2id.CreateHash(password, &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO portal_accounts (contact_id, password_hash) VALUES ($1, $2)`, id, hash); err != nil {
			t.Fatalf("MustContact(%q) account: %v", email, err)
		}
	}
	return id
}

// MustStaff creates a staff user (role "admin" or "agent") and returns its id; with a non-empty
// password it gets that password (argon2id, cheap test parameters), else none.
func MustStaff(t testing.TB, pool *pgxpool.Pool, email, name, role, password string) int64 {
	t.Helper()
	var hash *string
	if password != "" {
		h, err := argon2id.CreateHash(password, &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		hash = &h
	}
	var id int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO staff_users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
		email, name, role, hash).Scan(&id); err != nil {
		t.Fatalf("MustStaff(%s): %v", email, err)
	}
	return id
}

// TicketSpec describes a fixture ticket.
type TicketSpec struct {
	Subject     string
	Body        string // the customer's first public message ("" = none)
	Answer      string // an agent's public reply ("" = none)
	Note        string // an internal note ("" = none)
	RequesterID int64
	CompanyID   int64
	Closed      bool
	Activity    time.Time // last activity (zero = now)
}

// MustTicket creates a ticket in the Support pipeline with an email conversation in the default
// inbox holding the spec's messages, and returns its id.
func MustTicket(t testing.TB, pool *pgxpool.Pool, s TicketSpec) int64 {
	t.Helper()
	ctx := context.Background()
	if s.Activity.IsZero() {
		s.Activity = time.Now()
	}
	var id, conv int64
	var req, comp *int64
	if s.RequesterID != 0 {
		req = &s.RequesterID
	}
	if s.CompanyID != 0 {
		comp = &s.CompanyID
	}
	err := pool.QueryRow(ctx, `INSERT INTO tickets (subject, description, pipeline_id, stage_id, requester_id, company_id, is_closed, created_at, last_activity_at, closed_at)
		SELECT $1, $2, p.id, st.id, $3, $4, st.is_closed, $5, $5, CASE WHEN st.is_closed THEN $5::timestamptz END
		FROM pipelines p JOIN stages st ON st.pipeline_id = p.id
		WHERE p.name = 'Support' AND st.is_closed = $6 ORDER BY st.position LIMIT 1
		RETURNING id`, s.Subject, s.Body, req, comp, s.Activity, s.Closed).Scan(&id)
	if err != nil {
		t.Fatalf("MustTicket(%q): %v", s.Subject, err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
		SELECT $1, id, 'email', $2 FROM inboxes WHERE is_default RETURNING id`, id, s.Activity.Add(-time.Hour)).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	add := func(kind, body string, contact *int64, at time.Time) {
		if body == "" {
			return
		}
		if _, err := pool.Exec(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			conv, id, kind, contact, body, at); err != nil {
			t.Fatal(err)
		}
	}
	add("public", s.Body, req, s.Activity.Add(-time.Hour))
	add("internal_note", s.Note, nil, s.Activity.Add(-30*time.Minute))
	add("public", s.Answer, nil, s.Activity)
	return id
}

// Standard is the shared fixture set for permission tests: two companies, three contacts with
// passwords ("Alice" and "Bob" at Acme, "Carol" at Globex), and their tickets.
type Standard struct {
	Acme, Globex                     int64
	Alice, Bob, Carol                int64
	AliceOpen, AliceClosed, BobT     int64
	CarolT                           int64
	Password                         string
	AliceEmail, BobEmail, CarolEmail string
}

// MustStandard creates the standard fixture set.
func MustStandard(t testing.TB, pool *pgxpool.Pool) Standard {
	t.Helper()
	s := Standard{Password: "correct horse battery", AliceEmail: "alice@acme.test", BobEmail: "bob@acme.test", CarolEmail: "carol@globex.test"}
	s.Acme = MustCompany(t, pool, "Acme")
	s.Globex = MustCompany(t, pool, "Globex")
	s.Alice = MustContact(t, pool, s.AliceEmail, "Alice Archer", s.Acme, s.Password)
	s.Bob = MustContact(t, pool, s.BobEmail, "Bob Baker", s.Acme, s.Password)
	s.Carol = MustContact(t, pool, s.CarolEmail, "Carol Cruz", s.Globex, s.Password)
	now := time.Now()
	s.AliceOpen = MustTicket(t, pool, TicketSpec{Subject: "Printer on fire", Body: "The printer is on fire.", Answer: "Please unplug it.", Note: "SECRET-NOTE customer is grumpy", RequesterID: s.Alice, CompanyID: s.Acme, Activity: now.Add(-1 * time.Hour)})
	s.AliceClosed = MustTicket(t, pool, TicketSpec{Subject: "Invoice copy", Body: "Please send invoice 42.", Answer: "Sent.", RequesterID: s.Alice, CompanyID: s.Acme, Closed: true, Activity: now.Add(-48 * time.Hour)})
	s.BobT = MustTicket(t, pool, TicketSpec{Subject: "VPN keeps dropping", Body: "Since Monday the VPN drops.", RequesterID: s.Bob, CompanyID: s.Acme, Activity: now.Add(-2 * time.Hour)})
	s.CarolT = MustTicket(t, pool, TicketSpec{Subject: "Globex payroll export", Body: "Payroll export fails with zebra error.", RequesterID: s.Carol, CompanyID: s.Globex, Activity: now.Add(-3 * time.Hour)})
	return s
}
