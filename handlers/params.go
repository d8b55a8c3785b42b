package handlers

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// Request input helpers shared by every handler: route parameters and text checks.

// errBadText is returned when a streamed form field holds text PostgreSQL cannot store.
var errBadText = fiber.NewError(fiber.StatusBadRequest, "text")

// CleanText reports whether s can be stored as text: valid UTF-8 without NUL bytes.
func CleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// pathID is the positive integer :id of a route; anything else is ErrNotFound (a 404 like any
// record that does not exist).
func pathID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.ErrNotFound
	}
	return id, nil
}
