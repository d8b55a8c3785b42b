package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSSOAdminConsoleAndTestMode(t *testing.T) {
	ts := newSSOServer(t)
	mustStaff(t, ts.Pool, "admin@example.com", "Ada", "admin")
	c := ts.client()
	c.staffSignIn("admin@example.com")

	// Validation: a weak JWT secret is refused with the field's message, nothing stored.
	resp, doc := c.post("/admin/providers", url.Values{"kind": {"jwt"}, "name": {"Our app"}, "slug": {"app"}, "alg": {"HS256"},
		"jwt_secret": {"short"}, "audience": {"all"}, "allow_create": {"true"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(doc.Find("#e-jwt_secret").Text(), "at least 32 characters") {
		t.Fatalf("weak secret: %d %q", resp.StatusCode, doc.Find(".field-error").Text())
	}
	resp, _ = c.post("/admin/providers", url.Values{"kind": {"jwt"}, "name": {"Our app"}, "slug": {"app"}, "alg": {"HS256"},
		"jwt_secret": {jwtSecret}, "audience": {"all"}, "allow_create": {"true"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/admin/providers/"), "?flash=created")
	// Secrets are sealed at rest: the stored bytes do not contain the secret.
	var blob []byte
	_ = ts.Pool.QueryRow(context.Background(), `SELECT secrets FROM identity_providers WHERE slug = 'app'`).Scan(&blob)
	if len(blob) == 0 || strings.Contains(string(blob), jwtSecret) {
		t.Fatalf("secret not sealed: %q", blob)
	}
	// Created disabled: not on the sign-in page, start refused; the test mode still works.
	if resp, _ := ts.client().get("/sso/app/start", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("disabled provider start: %d", resp.StatusCode)
	}
	_, doc = c.get("/admin/providers/"+id+"/test", false)
	if doc.Find("#sso-test-token").Length() != 1 {
		t.Fatal("no token form in JWT test mode")
	}
	expired := jwt.MapClaims{"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-58 * time.Minute).Unix(), "jti": "j1",
		"email": "t@example.com", "name": "T"}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, expired).SignedString([]byte(jwtSecret))
	resp, doc = c.post("/admin/providers/"+id+"/test", url.Values{"jwt": {tok}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(doc.Find("#sso-test-detail").Text(), "token is expired") ||
		!strings.Contains(doc.Find("#sso-test-claims").Text(), "t@example.com") {
		t.Fatalf("test mode: %d %q", resp.StatusCode, doc.Find("#sso-test-result").Text())
	}
	var contacts int
	_ = ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE email = 't@example.com'`).Scan(&contacts)
	if contacts != 0 {
		t.Fatal("test mode created a contact")
	}
	// Enable, then it appears on the sign-in page and the registry (reloaded) accepts it.
	if resp, _ := c.post("/admin/providers/"+id+"/enable", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	if p, ok := ts.Handlers.SSO.Get("app"); !ok || !p.Info().Enabled {
		t.Fatal("registry not reloaded after enable")
	}
	_, doc = c.get("/admin/providers", false)
	if doc.Find("#provider-app").Length() != 1 {
		t.Fatal("provider not listed")
	}
	if resp, _ := c.post("/admin/providers/"+id+"/delete", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, ok := ts.Handlers.SSO.Get("app"); ok {
		t.Fatal("deleted provider still registered")
	}
	// Agents may not manage providers.
	mustStaff(t, ts.Pool, "agent@example.com", "Agent", "agent")
	a := ts.client()
	a.staffSignIn("agent@example.com")
	if resp, _ := a.get("/admin/providers", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent: %d", resp.StatusCode)
	}
}
