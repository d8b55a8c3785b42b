package handlers

import (
	"log/slog"

	"github.com/gofiber/fiber/v2"
)

// localLogger is the Locals key of the request-scoped logger.
const localLogger = "portico.log"

// SetLogger stores the request-scoped logger (the server's access-log middleware sets one that
// carries the request id).
func SetLogger(c *fiber.Ctx, l *slog.Logger) { c.Locals(localLogger, l) }

// Log returns the request's logger: every line it writes carries the request id (request_id),
// so no handler adds it by hand. Errors go under the key "err". Outside a request that passed
// the middleware (unit tests calling a handler directly) it is slog.Default().
func Log(c *fiber.Ctx) *slog.Logger { return LogOr(c, slog.Default()) }

// LogOr is Log with fallback for requests that never reached the middleware (errors Fiber
// answers before routing).
func LogOr(c *fiber.Ctx, fallback *slog.Logger) *slog.Logger {
	if l, ok := c.Locals(localLogger).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}
