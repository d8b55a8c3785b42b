package server

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"portico/handlers"
	"portico/sql/store"
)

// errorHandler is the one table from error to status: not found → 404 (never 403, no existence
// leak), conflicts → 409, framework errors keep their code, anything else is internal (500),
// logged once with the request id and never shown to the user.
func errorHandler(h *handlers.Handlers, log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		status := fiber.StatusInternalServerError
		switch {
		case errors.Is(err, store.ErrNotFound):
			status = fiber.StatusNotFound
		case errors.Is(err, store.ErrConflict):
			status = fiber.StatusConflict
		case errors.As(err, &fe):
			status = fe.Code
		}
		if status >= 500 {
			log.Error("internal error", "request_id", handlers.RequestIDOf(c), "method", c.Method(), "path", c.Path(), "err", err)
		}
		c.Set("Cache-Control", "no-store")
		if rerr := h.ErrorPage(c, status); rerr != nil {
			log.Error("error page failed", "request_id", handlers.RequestIDOf(c), "err", rerr)
			return c.Status(status).SendString(utilsStatus(status))
		}
		return nil
	}
}

func utilsStatus(code int) string { return fiber.NewError(code).Message }
