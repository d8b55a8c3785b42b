// Package servertest starts a real Portico server for tests outside package server (the CLI,
// e2e helpers): a fresh PostgreSQL database (storetest.NewDB), the test Redis under a private key
// prefix, and a browser-like Client that keeps cookies and the CSRF token and drives the Fiber
// app in-process (app.Test, no listening socket).
package servertest

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

	"portico/config"
	"portico/server"
	"portico/sql/store/storetest"
)

// Config is a development configuration for tests: attachments in a temporary folder, a fixed
// secret key and error-level logging.
func Config(t testing.TB) *config.Config {
	t.Helper()
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

// Server is a running server.Server on its own database and Redis key prefix.
type Server struct {
	*server.Server
	t testing.TB
}

// New starts a server over pool (a fresh database when nil); it is closed, and its Redis keys
// deleted, when the test ends.
func New(t testing.TB, pool *pgxpool.Pool) *Server {
	t.Helper()
	if pool == nil {
		pool = storetest.NewDB(t)
	}
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	rdb := storetest.NewRedis(t)
	storetest.DeleteRedisPrefix(t, rdb, prefix)
	s, err := server.New(context.Background(), Config(t), server.Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &Server{Server: s, t: t}
}

// Client is a browser-like cookie jar over the server's app.Test.
type Client struct {
	s       *Server
	cookies map[string]string
	csrf    string
}

// Client returns a new client without cookies.
func (s *Server) Client() *Client { return &Client{s: s, cookies: map[string]string{}} }

// Do sends req with the client's cookies and keeps the cookies the response sets or clears.
func (c *Client) Do(req *http.Request) *http.Response {
	c.s.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.s.App.Test(req, 10_000)
	if err != nil {
		c.s.t.Fatal(err)
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

// Get requests path (as htmx when hx) and parses the page; a CSRF field on it is kept for Post.
func (c *Client) Get(path string, hx bool) (*http.Response, *goquery.Document) {
	c.s.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	resp := c.Do(req)
	doc := Parse(c.s.t, resp)
	if v, ok := doc.Find(`input[name=_csrf]`).First().Attr("value"); ok && v != "" {
		c.csrf = v
	}
	return resp, doc
}

// Post submits form to path (as htmx when hx), adding the kept CSRF token unless form has one.
func (c *Client) Post(path string, form url.Values, hx bool) (*http.Response, *goquery.Document) {
	c.s.t.Helper()
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
	resp := c.Do(req)
	return resp, Parse(c.s.t, resp)
}

// SignIn signs a customer in at /login and fails the test unless it lands on /tickets.
func (c *Client) SignIn(email, password string) {
	c.s.t.Helper()
	c.Get("/login", false)
	resp, _ := c.Post("/login", url.Values{"email": {email}, "password": {password}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		c.s.t.Fatalf("sign-in as %s: status %d location %q", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	c.Get("/tickets", false) // pick up the new session's CSRF token
}

// Parse reads resp's body as HTML and closes it.
func Parse(t testing.TB, resp *http.Response) *goquery.Document {
	t.Helper()
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
