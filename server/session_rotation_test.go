package server

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"portico/sql/store"
)

// sessionBefore returns the client's current session id (failing when it has none).
func sessionBefore(t *testing.T, c *client) string {
	t.Helper()
	id := c.cookies["portico_session"]
	if id == "" {
		t.Fatal("no session before sign-in")
	}
	return id
}

// checkRotated fails unless the client's session id changed from before and the old session
// is gone from Redis (fixation defence: the id is rotated at sign-in).
func checkRotated(t *testing.T, ts *testServer, c *client, before, how string) {
	t.Helper()
	after := c.cookies["portico_session"]
	if after == "" || after == before {
		t.Errorf("%s: session id not rotated (before %q, after %q)", how, before, after)
	}
	if n, _ := ts.Redis.Exists(context.Background(), ts.prefix+"s:"+before).Result(); n != 0 {
		t.Errorf("%s: the pre-sign-in session survives", how)
	}
}

// TestStaffSignInRotatesSession: /admin/login gives a new session id.
func TestStaffSignInRotatesSession(t *testing.T) {
	ts := newTestServer(t, nil)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	c := ts.client()
	c.get("/admin/login", false)
	pre := sessionBefore(t, c)
	resp, _ := c.post("/admin/login", url.Values{"email": {"ada@portico.test"}, "password": {staffPassword}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff sign-in: %d", resp.StatusCode)
	}
	checkRotated(t, ts, c, pre, "/admin/login")
}
