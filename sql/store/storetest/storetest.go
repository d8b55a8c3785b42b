// Package storetest gives tests a real, migrated PostgreSQL database of their own and the
// Must… fixtures. Each call to NewDB creates a database from a migrated template
// (CREATE DATABASE … TEMPLATE portico_test_template) and drops it when the test ends.
//
// PORTICO_TEST_DATABASE_URL points at a server's maintenance database (default
// postgres://postgres@127.0.0.1:5432/postgres); PORTICO_TEST_REDIS_URL at Redis.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"portico/sql/migrations"
	"portico/sql/store"
)

// templateDB is the migrated template; PORTICO_TEST_TEMPLATE renames it, so that two checkouts
// with different migrations can test side by side.
var templateDB = func() string {
	if n := os.Getenv("PORTICO_TEST_TEMPLATE"); n != "" {
		return n
	}
	return "portico_test_template"
}()

var (
	templateOnce sync.Once
	templateErr  error
)

// AdminURL returns the maintenance-database URL used to create test databases.
func AdminURL() string {
	if u := os.Getenv("PORTICO_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL returns the Redis URL for tests.
func RedisURL() string {
	if u := os.Getenv("PORTICO_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func withDB(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("storetest: cannot reach PostgreSQL at %s (start it with `just services`): %w", AdminURL(), err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// buildTemplate (re)creates the migrated template database once per test process. A lock keeps
// two test processes from building it at the same time.
func buildTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("storetest: cannot reach PostgreSQL at %s (start it with `just services`): %w", AdminURL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7263001)`); err != nil {
		return err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(7263001)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, templateDB).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+templateDB); err != nil {
			return err
		}
	}
	migrate := func() error {
		pool, err := pgxpool.New(ctx, withDB(AdminURL(), templateDB))
		if err != nil {
			return err
		}
		defer pool.Close()
		_, err = migrations.Apply(ctx, pool)
		return err
	}
	if err := migrate(); err != nil {
		// A template left by an older checkout (say, a migration renumbered): build it afresh.
		if _, derr := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+templateDB+` WITH (FORCE)`); derr != nil {
			return fmt.Errorf("%w (and dropping the template: %v)", err, derr)
		}
		if _, cerr := conn.Exec(ctx, `CREATE DATABASE `+templateDB); cerr != nil {
			return cerr
		}
		return migrate()
	}
	return nil
}

// NewDB returns a pool on a fresh migrated database that is dropped when t ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	templateOnce.Do(func() { templateErr = buildTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("test database: %v", templateErr)
	}
	name := "portico_t_" + randHex(6)
	// CREATE DATABASE … TEMPLATE fails while another session is connected to the template
	// (another test process building it): retry for a while.
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; {
		err = adminExec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+templateDB)
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	pool, err := pgxpool.New(ctx, withDB(AdminURL(), name))
	if err != nil {
		t.Fatalf("connect test database: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = adminExec(c, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return pool
}

// NewStore is NewDB wrapped in a *store.Store.
func NewStore(t testing.TB) *store.Store { return store.New(NewDB(t)) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandHex returns 2n random hex characters, for unique names and prefixes in tests.
func RandHex(n int) string { return randHex(n) }

// NewRedis connects to the test Redis (RedisURL) and fails the test when it does not answer a
// PING. The client is closed when the test ends; keys are the caller's to clean (use a random
// prefix, see RandHex).
func NewRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (start it with `just services`)", RedisURL(), err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// DeleteRedisPrefix removes every key under prefix when the test ends (after the servers
// using them have closed: cleanups run last-registered first, so call it before starting them).
func DeleteRedisPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
}
