// Package migrations embeds Portico's numbered, forward-only SQL migrations and applies them
// with goose (github.com/pressly/goose/v3), one transaction per file, under a PostgreSQL
// advisory lock so that several instances starting at once apply each file exactly once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Apply brings the database behind pool up to the newest migration. It returns the names of
// the files applied by this call (empty when the schema was current) or the first error.
// Concurrent callers wait on the advisory lock; the loser finds nothing left to do.
func Apply(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	names, err := apply(ctx, db)
	if err != nil {
		return nil, err
	}
	if _, err := ApplyRiver(ctx, pool); err != nil { // the mail queue's tables (issue 3)
		return nil, err
	}
	return names, nil
}

func apply(ctx context.Context, db *sql.DB) ([]string, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithTableName("schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	names := make([]string, 0, len(res))
	for _, r := range res {
		names = append(names, r.Source.Path)
	}
	return names, nil
}

// ErrPending is wrapped by Check's error when migrations this build needs are not applied yet.
var ErrPending = errors.New("migrations pending")

// Check reports whether the database behind pool is at the version this build expects: no
// Portico migration and no River migration is pending. It takes no lock (a readiness probe
// must never wait on a migrating instance) and returns an error naming what is pending, or
// the error that kept it from reading the versions.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithTableName("schema_migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if current < target {
		return fmt.Errorf("%w: database at version %d, this build expects %d", ErrPending, current, target)
	}
	return CheckRiver(ctx, pool)
}
