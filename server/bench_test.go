package server

// Handler and store benchmarks over the bench-seed data set (1,000,000 tickets): `just bench`.
// They run only when PORTICO_BENCH_DATABASE_URL names a database seeded by `portico bench-seed`
// and go through the real stack: POST /login (argon2id), Redis sessions, CSRF, the settings
// cache, the templates. Every iteration checks the status, so a broken path cannot report a
// fast number. Two contacts: "typical" (company 2, ~100 company tickets) and "large" (company
// 1, ~50,000 company tickets, ~12,500 of them requested by the contact).
//
// The benchmarks change the setting ticket_permissions (restored afterwards) and give the two
// contacts the password benchPassword; the reply benchmark deletes its messages and restores
// the tickets' last activity when it ends.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"portico/auth"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

const benchPassword = "bench-password-1234"

// benchContact is a seeded contact the benchmarks sign in as.
type benchContact struct {
	label, email string
}

var benchContacts = []benchContact{
	{"company=typical", "bench-5@company-2.bench"},
	{"company=large", "bench-1@company-1.bench"},
}

// benchEnv is a real Server over the bench database with one signed-in contact.
type benchEnv struct {
	srv       *Server
	pool      *pgxpool.Pool
	contactID int64
	companyID int64
	c         *benchClient
}

var benchHash struct {
	once sync.Once
	hash string
	err  error
}

// benchDB returns a pool on PORTICO_BENCH_DATABASE_URL, or skips the benchmark.
func benchDB(b *testing.B) *pgxpool.Pool {
	b.Helper()
	u := os.Getenv("PORTICO_BENCH_DATABASE_URL")
	if u == "" {
		b.Skip("PORTICO_BENCH_DATABASE_URL is not set: run `just bench` (seeds portico_bench, then benchmarks)")
	}
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE email LIKE 'bench-%@company-%.bench'`).Scan(&n); err != nil || n == 0 {
		b.Fatalf("%s holds no bench data (run `portico bench-seed`): %d contacts, %v", u, n, err)
	}
	return pool
}

// setPermissions sets ticket_permissions for the benchmark and restores the stored value after.
func setPermissions(b *testing.B, pool *pgxpool.Pool, mode string) {
	b.Helper()
	ctx := context.Background()
	var old []byte
	err := pool.QueryRow(ctx, `SELECT value FROM portal_settings WHERE key = 'ticket_permissions'`).Scan(&old)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		b.Fatal(err)
	}
	if err := store.New(pool).SettingSet(ctx, "ticket_permissions", mode); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if old == nil {
			_, _ = pool.Exec(context.Background(), `DELETE FROM portal_settings WHERE key = 'ticket_permissions'`)
		} else {
			_, _ = pool.Exec(context.Background(), `UPDATE portal_settings SET value = $1 WHERE key = 'ticket_permissions'`, json.RawMessage(old))
		}
	})
}

// newBenchEnv starts a server over the bench database in the given permission mode and signs
// in as ct through POST /login.
func newBenchEnv(b *testing.B, ct benchContact, mode string) *benchEnv {
	b.Helper()
	pool := benchDB(b)
	ctx := context.Background()
	setPermissions(b, pool, mode)

	benchHash.once.Do(func() { benchHash.hash, benchHash.err = auth.HashPassword(benchPassword) })
	if benchHash.err != nil {
		b.Fatal(benchHash.err)
	}
	e := &benchEnv{pool: pool}
	err := pool.QueryRow(ctx, `UPDATE portal_accounts a SET password_hash = $2, status = 'active'
		FROM contacts c WHERE c.id = a.contact_id AND lower(c.email) = lower($1)
		RETURNING c.id, coalesce(c.company_id, 0)`, ct.email, benchHash.hash).Scan(&e.contactID, &e.companyID)
	if err != nil {
		b.Fatalf("set the password of %s: %v", ct.email, err)
	}

	rdb := newRedis(b)
	prefix := "portico-bench:" + storetest.RandHex(6) + ":"
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	// SettingsTTL 0: the production default (1 s), so settings cost what they cost in production.
	e.srv, err = New(ctx, testConfig(b), Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	e.c = &benchClient{tb: b, srv: e.srv, cookies: map[string]string{}}
	e.c.signIn(ct.email, benchPassword)
	return e
}

// benchClient is helpers_test.go's client for testing.TB: a cookie jar over app.Test.
type benchClient struct {
	tb      testing.TB
	srv     *Server
	cookies map[string]string
	csrf    string
}

func (c *benchClient) do(req *http.Request) *http.Response {
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.srv.App.Test(req, -1)
	if err != nil {
		c.tb.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return resp
}

func newGet(path string, hx bool) *http.Request {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	return req
}

// fetch runs one request and returns the status and the body; it fails the benchmark on an
// htmx redirect (a signed-out htmx request answers 200 with HX-Redirect).
func (c *benchClient) fetch(req *http.Request) (int, []byte) {
	resp := c.do(req)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.tb.Fatal(err)
	}
	if loc := resp.Header.Get("HX-Redirect"); loc != "" {
		c.tb.Fatalf("%s %s: HX-Redirect to %s", req.Method, req.URL, loc)
	}
	return resp.StatusCode, body
}

// page fetches path, requires 200, remembers the CSRF token and returns the parsed document.
func (c *benchClient) page(path string, hx bool) *goquery.Document {
	c.tb.Helper()
	status, body := c.fetch(newGet(path, hx))
	if status != http.StatusOK {
		c.tb.Fatalf("GET %s: status %d", path, status)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	if v, ok := doc.Find(`input[name=_csrf]`).First().Attr("value"); ok && v != "" {
		c.csrf = v
	}
	return doc
}

func (c *benchClient) signIn(email, password string) {
	c.tb.Helper()
	c.page("/login", false)
	form := url.Values{"email": {email}, "password": {password}, "_csrf": {c.csrf}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		c.tb.Fatalf("sign-in as %s: status %d location %q", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	c.page("/tickets", false) // the signed-in session's CSRF token
}

// benchGet benchmarks GET path, after checking once that it lists at least one ticket.
func benchGet(b *testing.B, e *benchEnv, path string, hx bool, minRows int) {
	b.Helper()
	doc := e.c.page(path, hx)
	if n := doc.Find("#tickets-table tbody tr").Length(); n < minRows {
		b.Fatalf("GET %s lists %d tickets, want at least %d", path, n, minRows)
	}
	var bytesOut int
	for b.Loop() {
		status, body := e.c.fetch(newGet(path, hx))
		if status != http.StatusOK {
			b.Fatalf("GET %s: status %d", path, status)
		}
		bytesOut = len(body)
	}
	b.ReportMetric(float64(bytesOut), "B/resp")
}

func forContacts(b *testing.B, fn func(b *testing.B, ct benchContact)) {
	for _, ct := range benchContacts {
		b.Run(ct.label, func(b *testing.B) { fn(b, ct) })
	}
}

// BenchmarkTicketListFragmentMine: the htmx list fragment, own-tickets mode.
func BenchmarkTicketListFragmentMine(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsOwn)
		benchGet(b, e, "/tickets", true, 20)
	})
}

// BenchmarkTicketListFragmentOrg: the htmx list fragment of the organization view.
func BenchmarkTicketListFragmentOrg(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		benchGet(b, e, "/tickets?view=org", true, 25)
	})
}

// BenchmarkTicketListPage: the full list page (layout around the fragment) of the org view.
func BenchmarkTicketListPage(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		benchGet(b, e, "/tickets?view=org", false, 25)
	})
}

// BenchmarkTicketListSearch searches subjects and public message bodies in the org view for a
// term of each kind: "printer" (in about 1 ticket of 50), "login" (in every ticket: the
// common-term plan) and "zzzz" (in none: the worst case of walking the company).
func BenchmarkTicketListSearch(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		for _, q := range []struct {
			term    string
			minRows int
		}{{"printer", 1}, {"login", 25}, {"zzzz", 0}} {
			b.Run("q="+q.term, func(b *testing.B) {
				benchGet(b, e, "/tickets?view=org&q="+q.term, true, q.minRows)
			})
		}
	})
}

// BenchmarkTicketListLastPage follows rel=next to the last page of the org view once, then
// benchmarks that page: with keyset paging it must cost what page 1 costs.
func BenchmarkTicketListLastPage(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		path, pages := "/tickets?view=org", 1
		start := time.Now()
		for {
			next, ok := e.c.page(path, true).Find(`a[rel=next]`).Attr("href")
			if !ok {
				break
			}
			path = next
			pages++
		}
		b.Logf("%s: last page is page %d (walked in %s): %s", ct.label, pages, time.Since(start).Round(time.Millisecond), path)
		benchGet(b, e, path, true, 1)
	})
}

// benchTicket returns a ticket of the viewer's company requested by someone else when there
// is one (reached through the company branch of the scope), else the newest ticket of the contact.
func benchTicket(b *testing.B, e *benchEnv) int64 {
	var id int64
	err := e.pool.QueryRow(context.Background(), `SELECT id FROM tickets
		WHERE company_id = $2 OR requester_id = $1
		ORDER BY requester_id = $1, last_activity_at DESC, id DESC LIMIT 1`, e.contactID, e.companyID).Scan(&id)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkTicketPage: the full ticket page (GET /tickets/{id}), company mode.
func BenchmarkTicketPage(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		path := ticketPath(benchTicket(b, e))
		if n := e.c.page(path, false).Find("article.message").Length(); n == 0 {
			b.Fatalf("GET %s shows no message", path)
		}
		var bytesOut int
		for b.Loop() {
			status, body := e.c.fetch(newGet(path, false))
			if status != http.StatusOK {
				b.Fatalf("GET %s: status %d", path, status)
			}
			bytesOut = len(body)
		}
		b.ReportMetric(float64(bytesOut), "B/resp")
	})
}

// BenchmarkTicketReply: POST /tickets/{id}/replies as htmx (X-CSRF-Token header), rotating over
// up to 50 open tickets of the contact so that no conversation grows long. The messages and
// timeline events it adds are deleted, and the tickets' last activity restored, when it ends.
func BenchmarkTicketReply(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsOwn)
		ctx := context.Background()
		rows, err := e.pool.Query(ctx, `SELECT id, last_activity_at FROM tickets
			WHERE requester_id = $1 AND NOT is_closed ORDER BY last_activity_at DESC, id DESC LIMIT 50`, e.contactID)
		if err != nil {
			b.Fatal(err)
		}
		type saved struct {
			id int64
			at time.Time
		}
		var ids []int64
		var keep []saved
		for rows.Next() {
			var s saved
			if err := rows.Scan(&s.id, &s.at); err != nil {
				b.Fatal(err)
			}
			keep, ids = append(keep, s), append(ids, s.id)
		}
		if rows.Err() != nil || len(ids) == 0 {
			b.Fatalf("no open ticket of %s: %v", ct.email, rows.Err())
		}
		var maxMsg, maxEvent int64
		if err := e.pool.QueryRow(ctx, `SELECT coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM timeline_events), 0)`).Scan(&maxMsg, &maxEvent); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx := context.Background()
			_, _ = e.pool.Exec(ctx, `DELETE FROM timeline_events WHERE id > $1 AND contact_id = $2`, maxEvent, e.contactID)
			_, _ = e.pool.Exec(ctx, `DELETE FROM messages WHERE id > $1 AND ticket_id = ANY($2)`, maxMsg, ids)
			for _, s := range keep {
				_, _ = e.pool.Exec(ctx, `UPDATE tickets SET last_activity_at = $2 WHERE id = $1`, s.id, s.at)
			}
		})
		form := url.Values{"body": {"Thanks, the benchmark says hello."}}.Encode()
		current := "http://example.com" + ticketPath(ids[0])
		i := 0
		for b.Loop() {
			id := ids[i%len(ids)]
			i++
			req := httptest.NewRequest(http.MethodPost, ticketPath(id)+"/replies", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("HX-Request", "true")
			req.Header.Set("HX-Current-URL", current)
			req.Header.Set("X-CSRF-Token", e.c.csrf)
			status, body := e.c.fetch(req)
			if status != http.StatusOK {
				b.Fatalf("POST reply to %d: status %d: %.300s", id, status, body)
			}
		}
		b.ReportMetric(float64(len(ids)), "tickets")
	})
}

// BenchmarkStoreTicketListOrg: page 1 of the org view straight from the store (no HTTP, no
// template), to split query cost from render cost.
func BenchmarkStoreTicketListOrg(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		v := store.Viewer{ContactID: e.contactID, CompanyID: e.companyID, Permissions: store.PermissionsCompany, View: store.ViewOrg}
		ctx := context.Background()
		for b.Loop() {
			p, err := e.srv.Store.TicketListForViewer(ctx, v, store.TicketListParams{})
			if err != nil || len(p.Rows) != 25 {
				b.Fatalf("list: %d rows, %v", len(p.Rows), err)
			}
		}
	})
}

// BenchmarkStoreTicketGet: one ticket with its public messages straight from the store.
func BenchmarkStoreTicketGet(b *testing.B) {
	forContacts(b, func(b *testing.B, ct benchContact) {
		e := newBenchEnv(b, ct, store.PermissionsCompany)
		v := store.Viewer{ContactID: e.contactID, CompanyID: e.companyID, Permissions: store.PermissionsCompany, View: store.ViewOrg}
		id := benchTicket(b, e)
		ctx := context.Background()
		for b.Loop() {
			d, err := e.srv.Store.TicketGetForViewer(ctx, v, id)
			if err != nil || len(d.Messages) == 0 {
				b.Fatalf("ticket %d: %d messages, %v", id, len(d.Messages), err)
			}
		}
	})
}

// BenchmarkAPITicketList: the JSON API's customer list (GET /api/v1/tickets with a personal
// access token, issue 17) next to the HTML fragment above, for the same contacts and views:
// token lookup (PostgreSQL), the per-token rate limit (Redis, limit raised so it never refuses),
// the same Viewer query, JSON and the ETag.
func BenchmarkAPITicketList(b *testing.B) {
	for _, v := range []struct{ name, mode, path string }{
		{"mine", store.PermissionsOwn, "/api/v1/tickets"},
		{"org", store.PermissionsCompany, "/api/v1/tickets?view=org"},
	} {
		b.Run(v.name, func(b *testing.B) {
			forContacts(b, func(b *testing.B, ct benchContact) {
				e := newBenchEnv(b, ct, v.mode)
				e.srv.Handlers.Limits.APIToken.Max = 1 << 30
				ctx := context.Background()
				tok, err := store.New(e.pool).APITokenCreateForContact(ctx, e.contactID, "bench", 0)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					_, _ = e.pool.Exec(context.Background(), `DELETE FROM api_tokens WHERE contact_id = $1 AND name = 'bench'`, e.contactID)
				})
				get := func() (int, []byte) {
					req := httptest.NewRequest(http.MethodGet, v.path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := e.srv.App.Test(req, -1)
					if err != nil {
						b.Fatal(err)
					}
					defer resp.Body.Close()
					body, err := io.ReadAll(resp.Body)
					if err != nil {
						b.Fatal(err)
					}
					return resp.StatusCode, body
				}
				status, body := get()
				if status != http.StatusOK || !bytes.Contains(body, []byte(`"id":`)) {
					b.Fatalf("GET %s: status %d, body %.200s", v.path, status, body)
				}
				var bytesOut int
				for b.Loop() {
					status, body := get()
					if status != http.StatusOK {
						b.Fatalf("GET %s: status %d", v.path, status)
					}
					bytesOut = len(body)
				}
				b.ReportMetric(float64(bytesOut), "B/resp")
			})
		})
	}
}
