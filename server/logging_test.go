package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// newLoggedServer is newTestServer with its log written as JSON into the returned buffer.
func newLoggedServer(t *testing.T) (*testServer, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	pool := storetest.NewDB(t)
	rdb := newRedis(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	s, err := New(context.Background(), testConfig(t), Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &testServer{Server: s, t: t, prefix: prefix}, buf
}

// Every line a request logs, the handler's own ("signed in") and the access log alike, carries
// the request id the response names in X-Request-ID, once; errors use the key "err", never
// "error"; the password never appears.
func TestRequestLoggerCarriesRequestID(t *testing.T) {
	ts, buf := newLoggedServer(t)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.get("/login", false)
	form := url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}, "_csrf": {c.csrf}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.do(req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Request-ID")
	if id == "" {
		t.Fatal("no X-Request-ID")
	}
	var signedIn, access bool
	for _, l := range buf.lines(t) {
		if _, bad := l["error"]; bad {
			t.Errorf("log key \"error\" in %v", l)
		}
		if strings.Contains(mustJSON(l), fx.Password) {
			t.Errorf("password logged: %v", l)
		}
		if l["request_id"] != id {
			continue
		}
		switch {
		case l["msg"] == "signed in":
			signedIn = true
		case l["msg"] == "request" && l["path"] == "/login" && l["method"] == "POST":
			access = true
		}
	}
	if !signedIn || !access {
		t.Fatalf("request %s: handler line %v, access line %v in\n%v", id, signedIn, access, buf.lines(t))
	}
}

// Code below the handlers that logs with the request's context gets the request id too, and a
// logger that already names its request does not get it twice.
func TestContextLoggerAddsRequestID(t *testing.T) {
	buf := &syncBuffer{}
	log := requestScoped(slog.New(slog.NewJSONHandler(buf, nil)))
	ctx := withRequestID(context.Background(), "abc123")
	log.InfoContext(ctx, "from the store")
	log.With("request_id", "abc123").InfoContext(ctx, "already scoped")
	log.With("component", "jobs").InfoContext(ctx, "derived")
	log.Info("no request")
	lines := buf.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, want := range []any{"abc123", "abc123", "abc123", nil} {
		if lines[i]["request_id"] != want {
			t.Errorf("line %d: request_id %v, want %v", i, lines[i]["request_id"], want)
		}
	}
	if n := strings.Count(mustJSONRaw(buf), `"request_id"`); n != 3 {
		t.Errorf("request_id written %d times, want 3 (once per request line)", n)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mustJSONRaw(b *syncBuffer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
