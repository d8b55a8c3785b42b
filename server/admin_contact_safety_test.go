package server

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestContactIdentityChangesAreAdminOnlyAndEndSessions: an agent cannot move a customer's email
// or company (an account takeover path through "forgot password"); an admin can, and then the
// customer's sessions end, pending links die, and the change is audited.
func TestContactIdentityChangesAreAdminOnlyAndEndSessions(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	path := "/admin/contacts/" + itoa(f.fx.Alice)
	if _, err := ts.Pool.Exec(ctx, `INSERT INTO account_tokens (token_hash, purpose, contact_id, email, expires_at)
		VALUES ('\x01', 'reset', $1, $2, now() + interval '1 hour')`, f.fx.Alice, f.fx.AliceEmail); err != nil {
		t.Fatal(err)
	}
	f.agent.get(path, false)
	resp, _ := f.agent.post(path, url.Values{"email": {"gus@attacker.test"}, "name": {"Alice Archer"}, "company": {"Acme"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("agent changing the email: %d", resp.StatusCode)
	}
	resp, _ = f.agent.post(path, url.Values{"email": {f.fx.AliceEmail}, "name": {"Alice A. Archer"}, "company": {"Acme"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agent changing the name: %d", resp.StatusCode)
	}
	if r, _ := f.alice.get("/tickets", false); r.StatusCode != 200 {
		t.Fatal("a name change ended the customer's session")
	}
	f.admin.get(path, false)
	resp, _ = f.admin.post(path, url.Values{"email": {"alice@new.test"}, "name": {"Alice A. Archer"}, "company": {"Acme"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin changing the email: %d", resp.StatusCode)
	}
	if r, _ := f.alice.get("/tickets", false); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the customer's session survived an email change: %d", r.StatusCode)
	}
	var live, audits int
	ts.Pool.QueryRow(ctx, `SELECT count(*) FROM account_tokens WHERE contact_id = $1 AND used_at IS NULL`, f.fx.Alice).Scan(&live)
	ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1`, "contact:"+itoa(f.fx.Alice)).Scan(&audits)
	if live != 0 || audits != 1 {
		t.Fatalf("pending links %d, audit rows %d", live, audits)
	}
}

// TestStaffSignInRateLimited: failed staff sign-ins are limited per account like customers',
// with the same answer for known and unknown addresses; a customer's failures do not lock staff.
func TestStaffSignInRateLimited(t *testing.T) {
	ts := newTestServer(t, nil)
	newStaffFixture(t, ts)
	shortLimits(ts, 3, time.Minute)
	for _, email := range []string{"ada@portico.test", "nobody@portico.test"} {
		c := ts.client()
		c.get("/admin/login", false)
		for i := 0; i < 3; i++ {
			if resp, _ := c.post("/admin/login", url.Values{"email": {email}, "password": {"wrong guess"}}, false); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: %d", email, i, resp.StatusCode)
			}
		}
		resp, _ := c.post("/admin/login", url.Values{"email": {email}, "password": {"wrong guess"}}, false)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s after the limit: %d", email, resp.StatusCode)
		}
	}
}
