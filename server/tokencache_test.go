package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// waitLive waits until the instance's contact (and token) cache listener is connected.
func (ts *testServer) waitLive() {
	ts.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ts.contacts.isLive(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.t.Fatal("contact listener not live")
		}
	}
}

// TestAPITokenCacheAcrossInstances: instance b serves a token it has seen from its in-process
// cache (proved by revoking it with the announcing trigger switched off: b still accepts it),
// and every change that ends a token — revocation on instance a, a disabled portal account, an
// expiry moved into the past, an expiry that simply arrives — refuses it on b at once.
func TestAPITokenCacheAcrossInstances(t *testing.T) {
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	a := newTestServerWithPrefix(t, pool, prefix)
	b := newTestServerWithPrefix(t, pool, prefix)
	a.waitLive()
	b.waitLive()
	fx := storetest.MustStandard(t, pool)
	ctx := context.Background()
	revoke, silent, expire, soon := mustToken(t, a.Store, fx.Alice), mustToken(t, a.Store, fx.Alice), mustToken(t, a.Store, fx.Alice), mustToken(t, a.Store, fx.Alice)
	bob := mustToken(t, a.Store, fx.Bob)
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() + interval '2 seconds' WHERE id = (SELECT max(id) FROM api_tokens WHERE contact_id = $1)`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	tokenID := func(tok string) int64 {
		p, err := a.Store.APIAuthenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return p.TokenID
	}
	silentID, revokeID := tokenID(silent), tokenID(revoke)
	for name, tok := range map[string]string{"revoke": revoke, "silent": silent, "expire": expire, "soon": soon, "bob": bob} {
		if r := b.api("GET", "/api/v1/me", tok, ""); r.status != http.StatusOK {
			t.Fatalf("%s before any change: %d %s", name, r.status, r.body)
		}
	}

	// Served from the cache: a revocation nobody announces goes unseen by b.
	if _, err := pool.Exec(ctx, `ALTER TABLE api_tokens DISABLE TRIGGER api_tokens_notify_changed`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, silentID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE api_tokens ENABLE TRIGGER api_tokens_notify_changed`); err != nil {
		t.Fatal(err)
	}
	if r := b.api("GET", "/api/v1/me", silent, ""); r.status != http.StatusOK {
		t.Fatalf("an unannounced revocation was seen: %d — the token was not served from the cache", r.status)
	}

	// Announced changes, made on instance a or straight in the database.
	refusedOnB := func(name, tok string) {
		t.Helper()
		start := time.Now()
		for {
			r := b.api("GET", "/api/v1/me", tok, "")
			if r.status == http.StatusUnauthorized {
				t.Logf("%s: refused on the other instance after %v", name, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s: still %d on the other instance after 3 s", name, r.status)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := a.Store.APITokenRevokeForContact(ctx, fx.Alice, revokeID); err != nil {
		t.Fatal(err)
	}
	refusedOnB("revoked on instance a", revoke)
	if _, err := pool.Exec(ctx, `UPDATE portal_accounts SET status = 'disabled' WHERE contact_id = $1`, fx.Bob); err != nil {
		t.Fatal(err)
	}
	refusedOnB("account disabled", bob)
	if _, err := pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, tokenID(expire)); err != nil {
		t.Fatal(err)
	}
	refusedOnB("expiry moved into the past", expire)
	time.Sleep(2100 * time.Millisecond) // past the 2-second expiry set above
	if r := b.api("GET", "/api/v1/me", soon, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("a cached token past its expiry: %d, want 401", r.status)
	}
}
