package handlers

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestHTMXHeadersTyped: HTMXOf reads the request headers, HTMXResponse.Apply writes only the
// set ones, and Navigate answers 303 to a plain request and HX-Redirect with the given status
// to htmx.
func TestHTMXHeadersTyped(t *testing.T) {
	app := fiber.New()
	var got HTMX
	app.Get("/read", func(c *fiber.Ctx) error {
		got = HTMXOf(c)
		HTMXResponse{Trigger: "ticket-changed", Retarget: "#x"}.Apply(c)
		return nil
	})
	app.Get("/go", func(c *fiber.Ctx) error { return Navigate(c, "/login?expired=1", fiber.StatusUnauthorized) })

	req := httptest.NewRequest(http.MethodGet, "/read", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Boosted", "true")
	req.Header.Set("HX-Current-URL", "http://x/tickets?page=2")
	req.Header.Set("HX-Target", "tickets-table")
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := (HTMX{Request: true, Boosted: true, CurrentURL: "http://x/tickets?page=2", Target: "tickets-table"}); got != want || got.Fragment() {
		t.Fatalf("HTMXOf = %+v (fragment %v), want %+v", got, got.Fragment(), want)
	}
	if resp.Header.Get("HX-Trigger") != "ticket-changed" || resp.Header.Get("HX-Retarget") != "#x" || resp.Header.Get("HX-Redirect") != "" || resp.Header.Get("HX-Refresh") != "" {
		t.Fatalf("response headers %v", resp.Header)
	}
	if resp, _ := app.Test(httptest.NewRequest(http.MethodGet, "/read", nil)); got != (HTMX{}) || resp.Header.Get("HX-Trigger") != "ticket-changed" {
		t.Fatalf("plain request read as %+v", got)
	}

	resp, _ = app.Test(httptest.NewRequest(http.MethodGet, "/go", nil))
	if resp.StatusCode != fiber.StatusSeeOther || resp.Header.Get("Location") != "/login?expired=1" || resp.Header.Get("HX-Redirect") != "" {
		t.Fatalf("plain navigate: %d %v", resp.StatusCode, resp.Header)
	}
	req = httptest.NewRequest(http.MethodGet, "/go", nil)
	req.Header.Set("HX-Request", "true")
	resp, _ = app.Test(req)
	if resp.StatusCode != fiber.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/login?expired=1" || resp.Header.Get("Location") != "" {
		t.Fatalf("htmx navigate: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestHXHeadersOnlyInHTMXFile: no handler reads or writes an HX-* header by name; they go
// through htmx.go (a hand-written c.Set("HX-Redirect", …) elsewhere fails here).
func TestHXHeadersOnlyInHTMXFile(t *testing.T) {
	named := regexp.MustCompile(`"HX-[A-Za-z-]+"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if f == "htmx.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := named.Find(b); m != nil {
			t.Errorf("%s names htmx header %s; use HTMXOf / HTMXResponse in htmx.go", f, m)
		}
	}
}
