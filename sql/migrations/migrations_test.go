package migrations_test

import (
	"context"
	"sync"
	"testing"

	"portico/sql/migrations"
	"portico/sql/store/storetest"
)

// Two instances starting at once: both Apply calls succeed and each file is applied once.
func TestApplyConcurrentlyIsSafe(t *testing.T) {
	pool := storetest.NewDB(t) // already migrated from the template: drop the schema first
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]string, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.Apply(ctx, pool)
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		total += len(results[i])
	}
	var files int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version_id > 0`).Scan(&files); err != nil {
		t.Fatal(err)
	}
	if total != files || files == 0 {
		t.Fatalf("applied %d times across instances for %d files", total, files)
	}
	var inboxes int
	pool.QueryRow(ctx, `SELECT count(*) FROM inboxes WHERE is_default`).Scan(&inboxes)
	if inboxes != 1 {
		t.Fatalf("default inboxes = %d", inboxes)
	}
	// A later start finds nothing to do.
	again, err := migrations.Apply(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("re-apply: %v %v", again, err)
	}
}
