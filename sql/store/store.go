// Package store is the only code that talks SQL to PostgreSQL. Every method takes ctx first and
// returns (T, error) with the sentinels ErrNotFound, ErrConflict and *ValidationError wrapped
// with %w. Methods that return tickets, conversations, messages or attachments take a Viewer
// and apply its one scope predicate (see viewer.go).
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"gocloud.dev/blob"
)

// Sentinel errors returned (wrapped) by store methods.
var (
	// ErrNotFound: the record does not exist or is outside the caller's scope.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint or state rule refused the change.
	ErrConflict = errors.New("conflict")
)

// ValidationError carries per-field problems as message IDs of the translation catalogue.
type ValidationError struct {
	// Fields maps a form field name to a catalogue message ID.
	Fields map[string]string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// Invalid returns a *ValidationError for one field.
func Invalid(field, messageID string) error {
	return &ValidationError{Fields: map[string]string{field: messageID}}
}

// Store wraps the PostgreSQL pool and the attachment blob store.
type Store struct {
	Pool *pgxpool.Pool
	// Blobs holds attachment bytes (gocloud.dev/blob: local files or S3); nil disables uploads.
	Blobs *blob.Bucket
	// webhookGate keeps which events have subscribers (webhook_gate.go).
	webhookGate *webhookGate
}

// cryptoRand fills b from crypto/rand.
func cryptoRand(b []byte) (int, error) { return rand.Read(b) }

// New returns a Store over pool.
func New(pool *pgxpool.Pool) *Store { return &Store{Pool: pool, webhookGate: &webhookGate{}} }

// DefaultConnectTimeout bounds opening one PostgreSQL connection when Open is given no timeout.
const DefaultConnectTimeout = 5 * time.Second

// Open connects to PostgreSQL at url and pings it, with DefaultConnectTimeout. Errors name the
// failing step.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return OpenTimeout(ctx, url, DefaultConnectTimeout)
}

// OpenTimeout is Open with a deadline for opening each connection (the pool's ConnectTimeout,
// also when it reconnects after an outage): a PostgreSQL that does not answer fails the dial
// within timeout instead of hanging. Queries are bounded by their context (server: one
// deadline per request, PORTICO_DB_TIMEOUT).
func OpenTimeout(ctx context.Context, url string, timeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(url, timeout)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, timeout)
}

// OpenConfig opens a pool from cfg (PoolConfig, possibly adjusted: a query tracer) and pings
// it within timeout.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, timeout time.Duration) (*pgxpool.Pool, error) {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}

// PoolConfig parses url (DATABASE_URL) into a pool configuration whose connections are opened
// within timeout (0 = DefaultConnectTimeout).
func PoolConfig(url string, timeout time.Duration) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	return cfg, nil
}

// tx runs fn in a transaction, committing when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}

// isUnique reports whether err is a unique-violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// notFound maps pgx.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// IsEmpty reports whether the portal has no tickets and no contacts (a fresh install, where a
// demo seed is welcome). Errors: database errors.
func (s *Store) IsEmpty(ctx context.Context) (bool, error) {
	var empty bool
	err := s.Pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM tickets) AND NOT EXISTS (SELECT 1 FROM contacts)`).Scan(&empty)
	return empty, err
}

// isForeignKey reports whether err is a foreign-key violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
