package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// Fault tests (issue 11): Portico runs against the real PostgreSQL and Redis through Shopify's
// toxiproxy, in process, and each dependency is taken down, slowed past the deadline, or has
// its connections reset. The shared servers are never touched.

// faultDBTimeout and faultRedisTimeout are the deadlines the fault tests run with (short, so the
// suite stays quick; production defaults are 5 s and 2 s).
const (
	faultDBTimeout    = 1 * time.Second
	faultRedisTimeout = 300 * time.Millisecond
)

// faultRig is an instance whose PostgreSQL and Redis connections pass through toxiproxy.
type faultRig struct {
	ts        *testServer
	direct    *pgxpool.Pool // fixtures and checks, around the proxy
	rdb       redis.UniversalClient
	pg, redis *toxiproxy.Proxy
	std       storetest.Standard
}

// newProxy starts a toxiproxy proxy on a random loopback port in front of upstream.
func newProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	r := &faultRig{direct: storetest.NewDB(t)}
	r.std = storetest.MustStandard(t, r.direct)
	cc := r.direct.Config().ConnConfig
	r.pg = newProxy(t, "postgres", fmt.Sprintf("%s:%d", cc.Host, cc.Port))
	ropt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	r.redis = newProxy(t, "redis", ropt.Addr)

	ctx := context.Background()
	pgURL := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cc.User, r.pg.Listen, cc.Database)
	pool, err := store.OpenTimeout(ctx, pgURL, faultDBTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opt, err := RedisOptions(storetest.RedisURL(), faultRedisTimeout)
	if err != nil {
		t.Fatal(err)
	}
	opt.Addr = r.redis.Listen
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	r.rdb = newRedis(t) // direct, for checks and clean-up

	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := r.rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			r.rdb.Del(ctx, iter.Val())
		}
	})
	cfg := testConfig(t)
	cfg.DBTimeout, cfg.RedisTimeout = faultDBTimeout, faultRedisTimeout
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = os.Stderr
	}
	s, err := New(ctx, cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(logw, nil)), SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	r.ts = &testServer{Server: s, t: t, prefix: prefix}
	return r
}

// toxic adds a toxic to proxy p (toxiproxy's JSON form) and returns a function removing it.
func toxic(t *testing.T, p *toxiproxy.Proxy, typ string, attrs string) func() {
	t.Helper()
	name := typ + "_" + storetest.RandHex(3)
	_, err := p.Toxics.AddToxicJson(strings.NewReader(`{"name":"` + name + `","type":"` + typ + `","stream":"downstream","attributes":` + attrs + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
}

// down stops proxy p (connections closed, new ones refused) and returns the restart.
func down(t *testing.T, p *toxiproxy.Proxy) func() {
	t.Helper()
	p.Stop()
	return func() {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
}

// timed runs do and returns the response and how long it took.
func timed(do func() *http.Response) (*http.Response, time.Duration) {
	start := time.Now()
	resp := do()
	return resp, time.Since(start)
}

func TestDependencyFaults(t *testing.T) {
	// The slowest path: a Redis call (two tries of faultRedisTimeout) and the PostgreSQL deadline.
	limit := faultDBTimeout + 2*faultRedisTimeout + time.Second // the request budget, and slack for a busy machine
	faults := []struct {
		name  string
		apply func(r *faultRig) func()
	}{
		{"redis down", func(r *faultRig) func() { return down(t, r.redis) }},
		{"redis slow", func(r *faultRig) func() {
			return toxic(t, r.redis, "latency", fmt.Sprintf(`{"latency":%d}`, (3*faultRedisTimeout).Milliseconds()))
		}},
		{"redis reset", func(r *faultRig) func() { return toxic(t, r.redis, "reset_peer", `{"timeout":0}`) }},
		{"postgres down", func(r *faultRig) func() { return down(t, r.pg) }},
		{"postgres slow", func(r *faultRig) func() {
			return toxic(t, r.pg, "latency", fmt.Sprintf(`{"latency":%d}`, (2*faultDBTimeout).Milliseconds()))
		}},
		{"postgres frozen", func(r *faultRig) func() { return toxic(t, r.pg, "timeout", `{"timeout":0}`) }},
		{"postgres reset", func(r *faultRig) func() { return toxic(t, r.pg, "reset_peer", `{"timeout":0}`) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			r := newFaultRig(t)
			c := r.ts.client()
			c.signIn(r.std.AliceEmail, r.std.Password)
			ticket := fmt.Sprintf("/tickets/%d", r.std.AliceOpen)
			c.get(ticket, false) // the reply form's CSRF token
			sessionKey := r.ts.prefix + "s:" + c.cookies[r.ts.Handlers.SessionCookieName()]
			var before int
			if err := r.direct.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE ticket_id = $1`, r.std.AliceOpen).Scan(&before); err != nil {
				t.Fatal(err)
			}

			restore := f.apply(r)

			// A page: 503 within the deadline, Retry-After, translated text.
			resp, took := timed(func() *http.Response {
				return c.do(httptest.NewRequest(http.MethodGet, "/tickets", nil))
			})
			doc := parse(t, resp)
			t.Logf("%s: GET /tickets → %d in %v", f.name, resp.StatusCode, took.Round(time.Millisecond))
			if resp.StatusCode != http.StatusServiceUnavailable || took > limit {
				t.Fatalf("GET /tickets: status %d after %v, want 503 within %v", resp.StatusCode, took, limit)
			}
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(doc.Find("#error").Text(), "still signed in") {
				t.Fatalf("503 page: Retry-After %q, text %q", resp.Header.Get("Retry-After"), doc.Find("#error").Text())
			}

			// An htmx reply: 503 beside the form, no redirect to the sign-in page.
			typed := "Typed while " + f.name
			resp, took = timed(func() *http.Response {
				resp, _ := c.post(ticket+"/replies", url.Values{"body": {typed + " (htmx)"}}, true)
				return resp
			})
			t.Logf("%s: htmx reply → %d in %v", f.name, resp.StatusCode, took.Round(time.Millisecond))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("HX-Redirect") != "" || took > limit {
				t.Fatalf("htmx reply: status %d HX-Redirect %q after %v", resp.StatusCode, resp.Header.Get("HX-Redirect"), took)
			}

			// A plain-form reply: 503 with the typed text in a form that sends it again.
			resp, doc = c.post(ticket+"/replies", url.Values{"body": {typed + " (plain)"}}, false)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("plain reply: status %d", resp.StatusCode)
			}
			if got := doc.Find(`#kept-form textarea[name=body]`).Text(); got != typed+" (plain)" {
				t.Fatalf("plain reply: kept text %q", got)
			}
			if a, _ := doc.Find("#kept-form").Attr("action"); a != ticket+"/replies" {
				t.Fatalf("kept form action %q", a)
			}

			// Public pages serve what they can: the knowledge base never answers 500.
			resp, _ = c.get("/kb", false)
			if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /kb: %d", resp.StatusCode)
			}
			if strings.HasPrefix(f.name, "redis") && resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /kb with Redis away: %d, want 200", resp.StatusCode)
			}

			restore()

			// The session survived, and service returns without a restart.
			if n, err := r.rdb.Exists(context.Background(), sessionKey).Result(); err != nil || n != 1 {
				t.Fatalf("session key after the fault: %d %v", n, err)
			}
			var status int
			back := time.Now()
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
				resp, _ := c.get("/tickets", false)
				if status = resp.StatusCode; status == http.StatusOK {
					break
				}
				if status != http.StatusServiceUnavailable {
					t.Fatalf("during recovery: %d", status)
				}
			}
			if status != http.StatusOK {
				t.Fatalf("not back 20 s after the fault ended: %d", status)
			}
			t.Logf("%s: service back %v after the fault ended, same session", f.name, time.Since(back).Round(time.Millisecond))
			// Nothing typed during the outage was stored (and none was shown as sent).
			var after int
			if err := r.direct.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE ticket_id = $1`, r.std.AliceOpen).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("messages %d → %d: a reply was stored during the outage", before, after)
			}
			// Sending the kept text again now works, with the same session.
			resp, _ = c.post(ticket+"/replies", url.Values{"body": {typed}}, false)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("reply after recovery: %d", resp.StatusCode)
			}
		})
	}
}

// TestGuestReplyKeptThroughOutage: a reply sent through a guest link while PostgreSQL is down
// gets the 503 page in the guest layout (no portal navigation) with the typed text in a form that
// carries the guest session's own CSRF token, so sending it again after the outage works.
func TestGuestReplyKeptThroughOutage(t *testing.T) {
	r := newFaultRig(t)
	ctx := context.Background()
	if err := r.ts.Store.SettingSet(ctx, "guest_links_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the rig's settings cache lives a nanosecond
	link, _ := mintGuest(t, r.ts, r.std.AliceOpen, r.std.Alice)
	g := r.ts.client()
	doc := openGuest(t, g, link, r.std.AliceOpen)
	token, _ := doc.Find(`#reply-form input[name=_csrf]`).Attr("value")
	if token == "" {
		t.Fatal("the guest page's reply form has no CSRF token")
	}
	restore := down(t, r.pg)
	typed := "Typed by a guest while PostgreSQL was down"
	resp, doc := g.post(guestPath(r.std.AliceOpen)+"/replies", url.Values{"body": {typed}, "_csrf": {token}}, false)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("guest reply during the outage: %d, want 503", resp.StatusCode)
	}
	if got := doc.Find(`#kept-form textarea[name=body]`).Text(); got != typed {
		t.Fatalf("kept text %q", got)
	}
	if kept, _ := doc.Find(`#kept-form input[name=_csrf]`).Attr("value"); kept != token {
		t.Fatalf("the kept form carries CSRF token %q, want the guest session's", kept)
	}
	if doc.Find(`a[href="/tickets"], a[href="/account"]`).Length() != 0 {
		t.Fatal("the guest's 503 page shows the portal's navigation")
	}
	restore()
	action, _ := doc.Find("#kept-form").Attr("action")
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, _ = g.post(action, url.Values{"body": {typed}, "_csrf": {token}}, false)
		if resp.StatusCode == http.StatusSeeOther {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 20*time.Second {
			t.Fatalf("sending the kept reply again: %d", resp.StatusCode)
		}
	}
}
