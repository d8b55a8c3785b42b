package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"portico/sql/store/storetest"
)

// With tracing on, one request yields an HTTP server span named by its route pattern (in the
// trace the caller's traceparent names), and below it SQL spans (otelpgx) and Redis spans
// (redisotel), none carrying a Redis command's arguments (session ids). The pool and the Redis
// client are the ones New opens, as in production.
func TestTracingHTTPSQLRedis(t *testing.T) {
	base := storetest.NewDB(t)
	fx := storetest.MustStandard(t, base)
	cfg := testConfig(t)
	cfg.DatabaseURL = base.Config().ConnString()
	cfg.RedisURL = storetest.RedisURL()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	rdb := newRedis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	s, err := New(context.Background(), cfg, Options{RedisPrefix: prefix, TracerProvider: tp,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ts := &testServer{Server: s, t: t, prefix: prefix}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodGet, ticketPath(fx.AliceOpen), nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if resp := c.do(req); resp.StatusCode != http.StatusOK {
		t.Fatalf("ticket page: %d", resp.StatusCode)
	}
	// A one-time token in the query string never reaches a span (guest, sign-in, reset links).
	const secret = "SECRETtokenSECRETtokenSECRETtokenSECRETtok"
	c.get("/login/link/confirm?token="+secret, false)
	c.get("/guest?token="+secret, false)
	for _, sp := range rec.Ended() {
		for _, a := range sp.Attributes() {
			if strings.Contains(a.Value.Emit(), secret) {
				t.Errorf("span %q attribute %s carries the token: %s", sp.Name(), a.Key, a.Value.Emit())
			}
		}
	}
	var server trace.SpanID
	inTrace := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID().String() != traceID {
			continue
		}
		inTrace[sp.SpanContext().SpanID()] = sp
		if sp.SpanKind() == trace.SpanKindServer {
			if sp.Name() != "/tickets/:id" {
				t.Errorf("server span named %q, want the route pattern", sp.Name())
			}
			server = sp.SpanContext().SpanID()
		}
	}
	if !server.IsValid() {
		t.Fatalf("no HTTP server span in trace %s (%d spans recorded)", traceID, len(rec.Ended()))
	}
	// under reports whether span descends from the server span.
	under := func(sp sdktrace.ReadOnlySpan) bool {
		for p := sp.Parent().SpanID(); p.IsValid(); {
			if p == server {
				return true
			}
			parent, ok := inTrace[p]
			if !ok {
				return false
			}
			p = parent.Parent().SpanID()
		}
		return false
	}
	system := func(sp sdktrace.ReadOnlySpan) string {
		for _, a := range sp.Attributes() {
			if a.Key == attribute.Key("db.system") || a.Key == attribute.Key("db.system.name") {
				return a.Value.AsString()
			}
		}
		return ""
	}
	var sql, redisSpans int
	for _, sp := range inTrace {
		switch system(sp) {
		case "postgresql":
			if under(sp) {
				sql++
			}
		case "redis":
			if under(sp) {
				redisSpans++
			}
			for _, a := range sp.Attributes() {
				if a.Key == "db.statement" || a.Key == "db.query.text" {
					t.Errorf("redis span %q carries its statement %q", sp.Name(), a.Value.Emit())
				}
			}
		}
	}
	if sql == 0 || redisSpans == 0 {
		names := []string{}
		for _, sp := range inTrace {
			names = append(names, sp.Name()+"/"+system(sp))
		}
		t.Fatalf("below the HTTP span: %d SQL spans, %d Redis spans; trace: %v", sql, redisSpans, names)
	}
	t.Logf("one ticket page: 1 HTTP span, %d SQL spans, %d Redis spans", sql, redisSpans)
}
