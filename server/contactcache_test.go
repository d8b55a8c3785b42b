package server

import (
	"context"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two instances of one deployment serve the signed-in contact from their in-process caches, and
// a change made anywhere (here: SQL on the shared database, as an admin page or an import would)
// reaches both at once through LISTEN/NOTIFY: renames, company moves and company renames; a lost
// listener connection empties and bypasses the cache until it is back.
func TestContactCacheCoherentAcrossInstances(t *testing.T) {
	a := newTestServer(t, nil)
	fx := storetest.MustStandard(t, a.Pool)
	b := newTestServerWithPrefix(t, a.Pool, a.prefix)
	ctx := context.Background()
	waitFor(t, "both listeners", func() bool { return a.contacts.isLive() && b.contacts.isLive() })

	ca := a.client()
	ca.signIn(fx.AliceEmail, fx.Password)
	cb := b.client()
	cb.cookies = ca.cookies // the same browser, its requests balanced over both instances
	name := func(c *client) string {
		_, doc := c.get("/tickets", false)
		return doc.Find("#account-link").Text()
	}
	for _, c := range []*client{ca, cb} {
		if got := name(c); got != "Alice Archer" {
			t.Fatalf("account link %q", got)
		}
	}
	for _, ts := range []*testServer{a, b} {
		if ct, ok, _ := ts.contacts.get(fx.Alice); !ok || ct.CompanyID != fx.Acme {
			t.Fatalf("contact not cached after a request: %+v %v", ct, ok)
		}
	}

	if _, err := a.Pool.Exec(ctx, `UPDATE contacts SET name = 'Alice Renamed' WHERE id = $1`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rename on instance A", func() bool { return name(ca) == "Alice Renamed" })
	waitFor(t, "the rename on instance B", func() bool { return name(cb) == "Alice Renamed" })

	// A company move changes what the viewer may see: no instance may keep the old company.
	if _, err := a.Pool.Exec(ctx, `UPDATE contacts SET company_id = $2 WHERE id = $1`, fx.Alice, fx.Globex); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []*testServer{a, b} {
		waitFor(t, "the company move", func() bool { _, ok, _ := ts.contacts.get(fx.Alice); return !ok })
	}
	name(ca)
	if ct, ok, _ := a.contacts.get(fx.Alice); !ok || ct.CompanyID != fx.Globex {
		t.Fatalf("after the move: %+v %v", ct, ok)
	}

	// A company rename drops every cached contact (company names are part of them).
	name(cb)
	if _, err := a.Pool.Exec(ctx, `UPDATE companies SET name = 'Globex Renamed' WHERE id = $1`, fx.Globex); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []*testServer{a, b} {
		waitFor(t, "the company rename", func() bool { _, ok, _ := ts.contacts.get(fx.Alice); return !ok })
	}

	// The listener's connection dies: the cache is emptied and bypassed, then comes back.
	name(ca)
	if _, err := a.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, contactListenerName); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pool.Exec(ctx, `UPDATE contacts SET name = 'Alice Again' WHERE id = $1`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rename after the listener died", func() bool { return name(ca) == "Alice Again" && name(cb) == "Alice Again" })
	waitFor(t, "the listeners to come back", func() bool { return a.contacts.isLive() && b.contacts.isLive() })
}

// A read that raced with an invalidation is not stored: it may hold the old row.
func TestContactCacheDropsRacingRead(t *testing.T) {
	var cc contactCache
	cc.m = map[int64]store.Contact{}
	cc.setLive(true)
	_, _, gen := cc.get(7)
	cc.invalidate("7")
	cc.put(store.Contact{ID: 7}, gen)
	if _, ok, _ := cc.get(7); ok {
		t.Fatal("a read older than the invalidation was stored")
	}
	_, _, gen = cc.get(7)
	cc.put(store.Contact{ID: 7}, gen)
	if _, ok, _ := cc.get(7); !ok {
		t.Fatal("a current read was not stored")
	}
	cc.setLive(false)
	if _, ok, _ := cc.get(7); ok {
		t.Fatal("served while the listener is down")
	}
}
