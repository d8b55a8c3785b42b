package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"portico/config"
	"portico/sql/store/storetest"
)

// testServer is a real Server on a fresh database and a private Redis key prefix.
type testServer struct {
	*Server
	t      *testing.T
	prefix string
}

func testConfig(t testing.TB) *config.Config {
	blobs := "file://" + t.TempDir() + "?no_tmp_dir=1"
	cfg, err := config.LoadFrom(func(k string) string {
		switch k {
		case "PORTICO_BLOB_URL":
			return blobs
		case "PORTICO_SECRET_KEY":
			return strings.Repeat("ab", 32)
		case "PORTICO_LOG_LEVEL":
			return "error"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newRedis(t testing.TB) redis.UniversalClient {
	opt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (start it with `just services`)", storetest.RedisURL(), err)
	}
	return rdb
}

// testConfigHook, when set by a test (never in parallel), adjusts the configuration of the
// servers that test starts.
var testConfigHook func(*config.Config)

// newTestServer starts an instance over pool (a fresh database when nil).
func newTestServer(t *testing.T, pool *pgxpool.Pool) *testServer {
	t.Helper()
	return newTestServerWithPrefix(t, pool, "portico-test:"+storetest.RandHex(6)+":")
}

// newTestServerWithPrefix starts an instance with a given Redis key prefix: two instances with
// the same prefix and pool behave as two processes of one deployment.
func newTestServerWithPrefix(t *testing.T, pool *pgxpool.Pool, prefix string) *testServer {
	t.Helper()
	return newTestServerOn(t, pool, prefix, newRedis(t))
}

// newTestServerOn is newTestServerWithPrefix on a given Redis client (closed at the end).
func newTestServerOn(t *testing.T, pool *pgxpool.Pool, prefix string, rdb redis.UniversalClient) *testServer {
	t.Helper()
	if pool == nil {
		pool = storetest.NewDB(t)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	cfg := testConfig(t)
	if testConfigHook != nil {
		testConfigHook(cfg)
	}
	s, err := New(context.Background(), cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &testServer{Server: s, t: t, prefix: prefix}
}

// client is a browser-like cookie jar over app.Test.
type client struct {
	ts      *testServer
	cookies map[string]string
	csrf    string
	lang    string
}

func (ts *testServer) client() *client { return &client{ts: ts, cookies: map[string]string{}} }

func (c *client) do(req *http.Request) *http.Response {
	c.ts.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.ts.App.Test(req, 10_000)
	if err != nil {
		c.ts.t.Fatal(err)
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

func (c *client) get(path string, hx bool) (*http.Response, *goquery.Document) {
	c.ts.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	resp := c.do(req)
	doc := parse(c.ts.t, resp)
	if v, ok := doc.Find(`input[name=_csrf]`).First().Attr("value"); ok && v != "" {
		c.csrf = v
	}
	return resp, doc
}

func (c *client) post(path string, form url.Values, hx bool) (*http.Response, *goquery.Document) {
	c.ts.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok && c.csrf != "" {
		form.Set("_csrf", c.csrf)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	resp := c.do(req)
	return resp, parse(c.ts.t, resp)
}

func parse(t *testing.T, resp *http.Response) *goquery.Document {
	t.Helper()
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// signIn signs the client in and fails the test unless it lands on the ticket list.
func (c *client) signIn(email, password string) {
	c.ts.t.Helper()
	c.get("/login", false)
	resp, _ := c.post("/login", url.Values{"email": {email}, "password": {password}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		c.ts.t.Fatalf("sign-in as %s: status %d location %q", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	c.get("/tickets", false) // pick up the new session's CSRF token
}

func texts(doc *goquery.Document, sel string) []string {
	var out []string
	doc.Find(sel).Each(func(_ int, s *goquery.Selection) { out = append(out, strings.TrimSpace(s.Text())) })
	return out
}
