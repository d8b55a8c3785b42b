package cli

import (
	"archive/zip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/auth"
	"portico/server"
	"portico/sql/store/storetest"
)

// TestCLIContactExportAndErase: `portico contacts export` writes the contact's zip (their
// tickets, not another company's; owner-readable only); `portico contacts erase` without --yes
// only tells what it would do, with --yes erases the contact, writes the audit row and ends the
// contact's sessions in Redis.
func TestCLIContactExportAndErase(t *testing.T) {
	pool := storetest.NewDB(t)
	fx := storetest.MustStandard(t, pool)
	ctx := context.Background()
	dbURL := pool.Config().ConnString()
	t.Setenv("REDIS_URL", storetest.RedisURL())
	t.Setenv("PORTICO_BLOB_URL", "file://"+t.TempDir()+"?no_tmp_dir=1")
	var carolSubject string
	pool.QueryRow(ctx, `SELECT subject FROM tickets WHERE id = $1`, fx.CarolT).Scan(&carolSubject)

	out := filepath.Join(t.TempDir(), "alice.zip")
	stdout, _, err := runCLI(t, dbURL, "", "contacts", "export", "--email", strings.ToUpper(fx.AliceEmail), "--out", out)
	if err != nil || !strings.Contains(stdout, "written to "+out) {
		t.Fatalf("export: %v %q", err, stdout)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", st, err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		all.Write(b)
	}
	zr.Close()
	if !names["manifest.json"] || !names["tickets/"+strconv.FormatInt(fx.AliceOpen, 10)+"/ticket.json"] || names["tickets/"+strconv.FormatInt(fx.CarolT, 10)+"/ticket.json"] {
		t.Errorf("zip files: %v", names)
	}
	if strings.Contains(all.String(), fx.CarolEmail) || strings.Contains(all.String(), carolSubject) {
		t.Error("Alice's export holds Carol's data")
	}
	if _, _, err := runCLI(t, dbURL, "", "contacts", "export", "--email", "nobody@example.test", "--out", out); err == nil || !strings.Contains(err.Error(), "no contact") {
		t.Errorf("unknown contact: %v", err)
	}

	// A session of Alice's, as the server keeps it.
	rdb, err := server.OpenRedis(ctx, storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	sessions := auth.NewSessions(rdb, server.DefaultRedisPrefix, time.Hour)
	sess, err := sessions.Create(ctx, auth.KindContact, fx.Alice, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.RevokeAll(context.Background(), auth.KindContact, fx.Alice) })

	stdout, _, err = runCLI(t, dbURL, "", "contacts", "erase", "--email", fx.AliceEmail)
	if err == nil || !strings.Contains(err.Error(), "--yes") || !strings.Contains(stdout, "would erase Alice Archer") {
		t.Fatalf("erase without --yes: %v %q", err, stdout)
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email = $1`, fx.AliceEmail).Scan(&n)
	if n != 1 {
		t.Fatal("erase without --yes changed the contact")
	}
	stdout, _, err = runCLI(t, dbURL, "", "contacts", "erase", "--email", fx.AliceEmail, "--yes")
	if err != nil || !strings.Contains(stdout, "erased") || !strings.Contains(stdout, "1 sessions ended") {
		t.Fatalf("erase: %v %q", err, stdout)
	}
	pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email = $1 OR name = 'Alice Archer'`, fx.AliceEmail).Scan(&n)
	if n != 0 {
		t.Error("the contact still has her address or name")
	}
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1 AND staff_name = 'cli' AND before = $2`, "contact:"+strconv.FormatInt(fx.Alice, 10), "erased "+fx.AliceEmail).Scan(&n)
	if n != 1 {
		t.Errorf("audit rows: %d", n)
	}
	if got, err := sessions.Load(ctx, sess.ID, time.Hour); err == nil && got != nil {
		t.Error("Alice's session survived the erasure")
	}
	if _, _, err := runCLI(t, dbURL, "", "contacts", "erase", "--email", fx.AliceEmail, "--yes"); err == nil {
		t.Error("erasing an erased contact succeeded")
	}
}
