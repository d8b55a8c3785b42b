package server

import (
	"context"
	"net/http"
	"testing"
)

// TestPortalSwitchIsARouteRule: with the portal off, every customer-facing route answers
// "portal unavailable" (the switch is attached to them in routes.go), while staff pages, the
// knowledge base, branding and the probes stay open.
func TestPortalSwitchIsARouteRule(t *testing.T) {
	ts := newTestServer(t, nil)
	if err := ts.Store.SettingSet(context.Background(), "portal_enabled", "false"); err != nil {
		t.Fatal(err)
	}
	closed := []string{"/", "/login", "/login/link", "/register", "/register/invite", "/password/forgot",
		"/sso/confirm", "/sso/x/start", "/tickets", "/tickets/1", "/tickets/new", "/account", "/attachments/1"}
	for _, p := range closed {
		if resp, _ := ts.client().get(p, false); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s with the portal off: %d, want 503", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/kb", "/admin/login", "/branding.css", "/healthz"} {
		if resp, _ := ts.client().get(p, false); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the portal off: %d, want 200", p, resp.StatusCode)
		}
	}
}
