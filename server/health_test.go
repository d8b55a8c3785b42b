package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"portico/sql/store/storetest"
)

// probe asks path of ts and returns the status and the decoded /readyz body (empty for /healthz).
func probe(t *testing.T, ts *testServer, path string) (int, string, Readiness) {
	t.Helper()
	resp, err := ts.App.Test(httptest.NewRequest(http.MethodGet, path, nil), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r Readiness
	if path == "/readyz" {
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("%s: %v in %q", path, err, body)
		}
	}
	return resp.StatusCode, string(body), r
}

// A healthy instance is live and ready, and says which checks it ran.
func TestProbesHealthy(t *testing.T) {
	ts := newTestServer(t, nil)
	if code, body, _ := probe(t, ts, "/healthz"); code != 200 || body != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, _, r := probe(t, ts, "/readyz")
	if code != 200 || r.Status != "ok" {
		t.Fatalf("/readyz: %d %+v", code, r)
	}
	for _, name := range []string{"postgres", "redis", "migrations", "blob"} {
		if r.Checks[name] != "ok" {
			t.Errorf("check %s: %q", name, r.Checks[name])
		}
	}
}

// With PostgreSQL and Redis both gone, /healthz still answers 200 (it touches neither), and
// /readyz answers 503 naming both.
func TestProbesDependenciesDown(t *testing.T) {
	base := storetest.NewDB(t)
	pool, err := pgxpool.NewWithConfig(context.Background(), base.Config())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, pool)
	pool.Close()
	ts.Redis.Close()
	if code, body, _ := probe(t, ts, "/healthz"); code != 200 || body != "ok" {
		t.Fatalf("/healthz with dependencies down: %d %q", code, body)
	}
	code, _, r := probe(t, ts, "/readyz")
	if code != 503 || r.Status != "unavailable" || r.Checks["postgres"] != "unavailable" ||
		r.Checks["redis"] != "unavailable" || r.Checks["blob"] != "ok" {
		t.Fatalf("/readyz: %d %+v", code, r)
	}
}

// A database behind this build's migrations, or a blob store that is gone, is not ready.
func TestReadyzMigrationsAndBlob(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	var version int64
	if err := ts.Pool.QueryRow(ctx, `DELETE FROM schema_migrations WHERE version_id = (SELECT max(version_id)
		FROM schema_migrations) RETURNING version_id`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	code, _, r := probe(t, ts, "/readyz")
	if code != 503 || r.Checks["migrations"] != "pending" || r.Checks["postgres"] != "ok" {
		t.Fatalf("/readyz with a pending migration: %d %+v", code, r)
	}
	if _, err := ts.Pool.Exec(ctx, `INSERT INTO schema_migrations (version_id, is_applied) VALUES ($1, true)`, version); err != nil {
		t.Fatal(err)
	}
	if code, _, r := probe(t, ts, "/readyz"); code != 200 {
		t.Fatalf("/readyz after migrating: %d %+v", code, r)
	}
	// The blob store: an S3 API (in-process) that answers, then goes away.
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	if err := backend.CreateBucket("portico-ready"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	b, err := blob.OpenBucket(ctx, "s3://portico-ready?region=us-east-1&use_path_style=true&endpoint="+srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	old := ts.Store.Blobs
	ts.Store.Blobs = b
	t.Cleanup(func() { old.Close() })
	if code, _, r := probe(t, ts, "/readyz"); code != 200 {
		t.Fatalf("/readyz on S3: %d %+v", code, r)
	}
	srv.Close()
	if code, _, r := probe(t, ts, "/readyz"); code != 503 || r.Checks["blob"] == "ok" || r.Checks["postgres"] != "ok" {
		t.Fatalf("/readyz with the blob store gone: %d %+v", code, r)
	}
}
