package handlers

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// OpenAPIDocument is the API's OpenAPI 3.1 description, served at /api/v1/openapi.json; the
// tests validate real answers against it (server/api_openapi_test.go), so it stays true.
//
//go:embed apidoc/openapi.json
var OpenAPIDocument []byte

// APIOpenAPI serves the OpenAPI document (GET /api/v1/openapi.json, no token needed).
func (h *Handlers) APIOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/openapi+json")
	c.Set("Cache-Control", "public, max-age=300")
	return c.Send(OpenAPIDocument)
}
