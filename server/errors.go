package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
	"gocloud.dev/gcerrors"

	"portico/handlers"
	"portico/metrics"
	"portico/sql/store"
)

// errorHandler is the one table from error to status: not found → 404 (never 403, no existence
// leak), conflicts → 409, a dependency that failed or did not answer in time (Unavailable) →
// 503 with Retry-After (never a sign-out, never a 500), framework errors keep their code,
// anything else is internal (500), logged once (with the request id, through the request's logger) and never shown to the user.
func errorHandler(h *handlers.Handlers, base *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		log := handlers.LogOr(c, base)
		var fe *fiber.Error
		status := fiber.StatusInternalServerError
		switch {
		case errors.Is(err, handlers.ErrBadForm) || badMultipart(err):
			c.Set("Cache-Control", "no-store")
			return h.BadForm(c)
		case errors.Is(err, store.ErrNotFound):
			status = fiber.StatusNotFound
		case errors.Is(err, store.ErrConflict):
			status = fiber.StatusConflict
		case errors.As(err, &fe):
			status = fe.Code
		case Unavailable(err):
			status = fiber.StatusServiceUnavailable
		}
		c.Set("Cache-Control", "no-store")
		var rerr error
		api := handlers.IsAPIPath(c.Path())
		switch {
		case api && status == fiber.StatusServiceUnavailable && fe == nil:
			dep := DependencyOf(err)
			metrics.DependencyError(dep)
			log.Warn("dependency unavailable", "method", c.Method(), "path", c.Path(), "dependency", dep, "err", err)
			rerr = handlers.APIErrorAnswer(c, status)
		case api:
			if status >= 500 {
				log.Error("internal error", "method", c.Method(), "path", c.Path(), "err", err)
			}
			rerr = handlers.APIErrorAnswer(c, status)
		case status == fiber.StatusServiceUnavailable && fe == nil:
			dep := DependencyOf(err)
			metrics.DependencyError(dep)
			log.Warn("dependency unavailable", "method", c.Method(), "path", c.Path(), "dependency", dep, "err", err)
			rerr = h.Unavailable(c)
		case status >= 500:
			log.Error("internal error", "method", c.Method(), "path", c.Path(), "err", err)
			rerr = h.ErrorPage(c, status)
		default:
			rerr = h.ErrorPage(c, status)
		}
		if rerr != nil {
			log.Error("error page failed", "err", rerr)
			return c.Status(status).SendString(utilsStatus(status))
		}
		return nil
	}
}

func utilsStatus(code int) string { return fiber.NewError(code).Message }

// Unavailable reports whether err means a dependency (PostgreSQL, Redis, the blob store) failed
// or did not answer in time, rather than a bug or bad input: a deadline or cancellation, a
// network error (refused, reset, closed, timed out), a connection PostgreSQL dropped or refused
// (SQLSTATE classes 08 and 53, 57P01–57P03, 57014 query cancelled), a Redis pool timeout, closed
// client or LOADING/READONLY/MASTERDOWN/CLUSTERDOWN/TRYAGAIN reply, a blob-store deadline or
// outage, or local storage that is full, read-only, failing or unreadable (file:// blob store).
func Unavailable(err error) bool {
	return err != nil && DependencyOf(err) != ""
}

// DependencyOf names the kind of dependency failure err is ("postgres", "redis", "blob",
// "timeout", "network"), or "" when it is not one (see Unavailable). The log and metrics use it.
func DependencyOf(err error) string {
	var rc *redisCallError
	if errors.As(err, &rc) { // a failed Redis call (redisErrorHook), whatever the cause
		return "redis"
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"),
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "57014":
			return "postgres"
		}
		return ""
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return "postgres"
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolExhausted) {
		return "redis"
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
			if strings.HasPrefix(rerr.Error(), p) {
				return "redis"
			}
		}
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timeout"
	}
	switch gcerrors.Code(err) {
	case gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted:
		return "blob"
	}
	// A local-disk blob store (file://) that cannot be written or read: full, read-only, failing
	// or unreadable storage is the operator's outage, not the customer's input.
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EACCES) {
		return "blob"
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &netErr) || errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "network"
	}
	return ""
}

// badMultipart reports whether err comes from parsing a malformed multipart body (fasthttp's
// no-boundary error, or mime/multipart's "multipart: …" errors): bad input, a 400.
func badMultipart(err error) bool {
	return errors.Is(err, fasthttp.ErrNoMultipartForm) || strings.HasPrefix(err.Error(), "multipart:") ||
		strings.Contains(err.Error(), "multipart: NextPart")
}
