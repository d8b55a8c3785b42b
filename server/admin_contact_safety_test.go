package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
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

// TestAdminResendsRegistrationLink: in access-group mode an admin resends a member's
// registration link from the contact page (a new mail job; the old link voided); agents cannot.
func TestAdminResendsRegistrationLink(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	mia := storetest.MustContact(t, ts.Pool, "mia@members.test", "Mia Member", 0, "")
	g, err := ts.Store.GroupCreate(ctx, "Members")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.GroupAddMembers(ctx, g.ID, []string{"mia@members.test"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "signin_method", "access_groups"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "access_groups", "Members"); err != nil {
		t.Fatal(err)
	}
	jobs := func() int {
		return countRows(t, ts, `SELECT count(*) FROM river_job WHERE kind = 'portico_mail' AND args->>'template' = 'invite'`)
	}
	before := jobs()
	path := "/admin/contacts/" + itoa(mia)
	f.agent.get(path, false)
	if resp, _ := f.agent.post(path+"/invite", nil, false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent resend: %d", resp.StatusCode)
	}
	_, doc := f.admin.get(path, false)
	if doc.Find("#invite-resend").Length() != 1 {
		t.Fatal("no resend button for the admin")
	}
	resp, _ := f.admin.post(path+"/invite", nil, false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "invite=sent") {
		t.Fatalf("admin resend: %d %q", resp.StatusCode, loc)
	}
	if after := jobs(); after != before+1 {
		t.Fatalf("invite jobs %d → %d, want one more", before, after)
	}
	// A contact with an account gets nothing.
	resp, _ = f.admin.post("/admin/contacts/"+itoa(f.fx.Alice)+"/invite", nil, false)
	if !strings.Contains(resp.Header.Get("Location"), "invite=none") {
		t.Fatalf("resend to a contact with an account: %q", resp.Header.Get("Location"))
	}
}
