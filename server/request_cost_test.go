package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// requestCost counts the Redis round trips (one command or one pipeline each) and PostgreSQL
// round trips (a query, or a batch of them) made with a request's context (one carrying its request id), so that background
// work (the settings subscriber, the contact listener, the job queue) is not counted.
type requestCost struct{ redis, pg atomic.Int64 }

func inRequest(ctx context.Context) bool { _, ok := ctx.Value(requestIDKey{}).(string); return ok }

func (rc *requestCost) DialHook(next redis.DialHook) redis.DialHook { return next }

func (rc *requestCost) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if inRequest(ctx) {
			rc.redis.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (rc *requestCost) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if inRequest(ctx) {
			rc.redis.Add(1)
		}
		return next(ctx, cmds)
	}
}

func (rc *requestCost) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if inRequest(ctx) {
		rc.pg.Add(1)
	}
	return ctx
}

func (rc *requestCost) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A batch is one round trip, counted once.
func (rc *requestCost) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	if inRequest(ctx) {
		rc.pg.Add(1)
	}
	return ctx
}

func (rc *requestCost) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (rc *requestCost) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestSignedInRequestCost: once the settings and the contact are cached, a signed-in customer's
// list fragment, full list page, search and ticket page make exactly one Redis round trip (the
// session read and its idle-timeout slide, pipelined) and ask PostgreSQL only about tickets
// (the page, and for the View menu whether any is shared with the viewer): never who the viewer
// is. Another company's ticket is still refused.
func TestSignedInRequestCost(t *testing.T) {
	base := storetest.NewDB(t)
	fx := storetest.MustStandard(t, base)
	cost := &requestCost{}
	cfg := base.Config()
	cfg.ConnConfig.Tracer = cost
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := store.New(pool).SettingSet(context.Background(), "ticket_permissions", store.PermissionsCompany); err != nil {
		t.Fatal(err)
	}
	rdb := newRedis(t)
	rdb.AddHook(cost)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() { storetest.DeleteRedisPrefix(t, rdb, prefix); rdb.Close() })
	// The production settings cache (1 s, here an hour so that the test cannot straddle a re-read).
	s, err := New(context.Background(), testConfig(t), Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ts := &testServer{Server: s, t: t, prefix: prefix}
	for deadline := time.Now().Add(10 * time.Second); !s.contacts.isLive(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("contact listener not live")
		}
	}
	c := ts.client()
	c.signIn(fx.BobEmail, fx.Password)
	own := storetest.MustTicket(t, base, storetest.TicketSpec{Subject: "Cost probe", Body: "hello", RequesterID: fx.Bob, CompanyID: fx.Acme})
	other := storetest.MustTicket(t, base, storetest.TicketSpec{Subject: "Globex only", Body: "hi", RequesterID: fx.Carol, CompanyID: fx.Globex})
	for _, tc := range []struct {
		path   string
		hx     bool
		status int
		pg     int64 // most PostgreSQL round trips
	}{
		// The page of tickets and whether any ticket is shared with the viewer (the View menu), in one batch.
		{"/tickets?view=org", true, 200, 1},
		{"/tickets?view=mine", true, 200, 1},
		{"/tickets?view=org", false, 200, 1},
		{"/tickets?view=org&q=printer", true, 200, 1},             // a walk that examines the whole small scope
		{"/tickets/" + strconv.FormatInt(own, 10), false, 200, 1}, // ticket, fields, messages, attachments and participants in one batch
		{"/tickets/" + strconv.FormatInt(other, 10), false, 404, 1},
	} {
		c.get(tc.path, tc.hx) // warm: settings and contact caches
		cost.redis.Store(0)
		cost.pg.Store(0)
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.hx {
			req.Header.Set("HX-Request", "true")
		}
		resp := c.do(req)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		r, q := cost.redis.Load(), cost.pg.Load()
		t.Logf("GET %s (htmx %v): %d Redis round trips, %d PostgreSQL round trips", tc.path, tc.hx, r, q)
		if r != 1 {
			t.Errorf("GET %s: %d Redis round trips, want 1 (session + idle timeout, pipelined)", tc.path, r)
		}
		if q > tc.pg {
			t.Errorf("GET %s: %d PostgreSQL round trips, want at most %d", tc.path, q, tc.pg)
		}
	}
}
