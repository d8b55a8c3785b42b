package server

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"
)

const staffPassword = "staff password 123"

// mustStaff creates an active staff user with staffPassword (cheap argon2id) and returns its id.
func mustStaff(t *testing.T, pool *pgxpool.Pool, email, name, role string) int64 {
	t.Helper()
	hash, err := argon2id.CreateHash(staffPassword, &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO staff_users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
		email, name, role, hash).Scan(&id); err != nil {
		t.Fatalf("mustStaff(%s): %v", email, err)
	}
	return id
}

// staffSignIn signs the client in at /admin/login and fails unless it lands on the inbox.
func (c *client) staffSignIn(email string) {
	c.ts.t.Helper()
	c.get("/admin/login", false)
	resp, _ := c.post("/admin/login", url.Values{"email": {email}, "password": {staffPassword}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/inbox" {
		c.ts.t.Fatalf("staff sign-in as %s: status %d location %q", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	c.get("/admin/inbox", false) // the staff session's CSRF token
}
