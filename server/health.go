package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/migrations"
)

// ReadyTimeout bounds each dependency check of /readyz: a frozen dependency makes the probe
// answer 503 within it, never hang.
const ReadyTimeout = 3 * time.Second

// migrationsRecheck is how long a passed migrations check is trusted by /readyz.
const migrationsRecheck = time.Minute

// Readiness is the body of /readyz: "ok" or "unavailable" overall, and per check ("postgres",
// "redis", "migrations", "blob") "ok" or a short reason that names what failed without
// addresses or credentials (the full error goes to the log).
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// healthz is the liveness probe: the process answers. It touches no dependency (a PostgreSQL
// or Redis outage must not make an orchestrator restart every instance), so it is routed
// before the settings and session middleware.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.SendString("ok")
}

// readyz is the readiness probe: 200 when PostgreSQL and Redis answer, the schema is at the
// version this build expects (Portico's and River's migrations) and the blob store is
// reachable; otherwise 503 naming each failed check. The checks run concurrently, each
// within ReadyTimeout; a draining instance (SIGTERM received) answers 503 "draining".
func (s *Server) readyz(c *fiber.Ctx) error {
	r := s.Ready(c.UserContext())
	status := fiber.StatusOK
	if r.Status != "ok" {
		status = fiber.StatusServiceUnavailable
	}
	return c.Status(status).JSON(r)
}

// Ready runs the readiness checks (see readyz) and logs each failure once, with its error.
func (s *Server) Ready(ctx context.Context) Readiness {
	checks := map[string]func(context.Context) error{
		"postgres": func(ctx context.Context) error { return s.Pool.Ping(ctx) },
		"redis":    func(ctx context.Context) error { return s.Redis.Ping(ctx).Err() },
		"migrations": func(ctx context.Context) error {
			// Migrations only move forward: a check that passed stays true for a while, so
			// frequent probes cost a ping, not a schema read.
			if last := s.migrationsOK.Load(); last != 0 && time.Since(time.Unix(0, last)) < migrationsRecheck {
				return nil
			}
			err := migrations.Check(ctx, s.Pool)
			if err == nil {
				s.migrationsOK.Store(time.Now().UnixNano())
			}
			return err
		},
		"blob": func(ctx context.Context) error {
			ok, err := s.Store.Blobs.IsAccessible(ctx)
			if err == nil && !ok {
				err = errors.New("bucket not found")
			}
			return err
		},
	}
	r := Readiness{Status: "ok", Checks: make(map[string]string, len(checks)+1)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
			defer cancel()
			err := check(cctx)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				r.Checks[name] = "ok"
				return
			}
			r.Status = "unavailable"
			r.Checks[name] = readyReason(err, cctx)
			s.Log.Warn("not ready", "check", name, "err", err)
		})
	}
	wg.Wait()
	if s.draining.Load() {
		r.Status, r.Checks["instance"] = "unavailable", "draining"
	}
	return r
}

// readyReason is the public reason of a failed check: "timeout", "pending" (migrations) or
// "unavailable".
func readyReason(err error, ctx context.Context) string {
	switch {
	case errors.Is(err, migrations.ErrPending):
		return "pending"
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "unavailable"
}
