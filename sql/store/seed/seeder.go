// Package seed is Portico's data tooling: the CSV ticket import, the demo data set with its
// sign-ins, and the benchmark data. It writes to the database directly (bulk statements, its own
// transactions) and is called by the command line (cli/), never by a request.
package seed

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Seeder runs the import and seed tools over one PostgreSQL pool whose schema is migrated.
type Seeder struct {
	// Pool is the database the tools write to.
	Pool *pgxpool.Pool
}

// New returns a Seeder over pool (migrated by the caller).
func New(pool *pgxpool.Pool) *Seeder { return &Seeder{Pool: pool} }

// tx runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
func (s *Seeder) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}
