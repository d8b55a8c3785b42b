package migrations

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverLockKey is the advisory lock that serialises River's migrations between instances.
const riverLockKey = 7263002

// ApplyRiver brings the job queue's own tables (github.com/riverqueue/river, used for outbound
// mail) up to the version this build needs, under a session-level advisory lock, so that instances starting together apply each step once. It returns the
// versions applied by this call.
func ApplyRiver(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, fmt.Errorf("migrations: river: %w", err)
	}
	// A session-level lock: River applies each version in its own
	// transaction (some versions add enum values, which cannot share one transaction).
	// The lock's connection is outside the pool, so that waiting instances hold no pool
	// connection the winner needs.
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("migrations: river: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, riverLockKey); err != nil {
		return nil, fmt.Errorf("migrations: river: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverLockKey)
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrations: river: %w", err)
	}
	var versions []int
	for _, v := range res.Versions {
		versions = append(versions, v.Version)
	}
	return versions, nil
}

// CheckRiver reports whether the job queue's tables are at the version this build needs
// (nil), or names the River migrations that are missing.
func CheckRiver(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("%w: river: %s", ErrPending, strings.Join(res.Messages, "; "))
	}
	return nil
}
