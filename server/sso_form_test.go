package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/auth/providers/providertest"
)

// closedPortURL returns an http URL on a loopback port nothing listens on (the listener is
// opened and closed again), so that a connection is refused for real.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/.well-known/openid-configuration"
}

// fieldErrors returns the form's inline field errors by field name, checking that each control
// points at its error with aria-describedby and is marked aria-invalid.
func fieldErrors(t *testing.T, doc *goquery.Document) map[string]string {
	t.Helper()
	out := map[string]string{}
	doc.Find("small.field-error").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		name := strings.TrimPrefix(id, "e-")
		out[name] = strings.TrimSpace(s.Text())
		ctl := doc.Find("#f-" + name)
		if d, _ := ctl.Attr("aria-describedby"); !strings.Contains(d, id) {
			t.Errorf("#f-%s aria-describedby %q does not name %s", name, d, id)
		}
		if name != "audience" {
			if v, _ := ctl.Attr("aria-invalid"); v != "true" {
				t.Errorf("#f-%s is not aria-invalid", name)
			}
		}
	})
	return out
}

// TestSSOProviderFormShowsEveryError (issue 15): the identity-provider form validates every
// field at once and shows each error next to its field (aria-describedby) and in a summary
// linking to the fields, keeping what the admin typed (never a secret).
func TestSSOProviderFormShowsEveryError(t *testing.T) {
	ts := newSSOServer(t)
	mustStaff(t, ts.Pool, "admin@example.com", "Ada", "admin")
	c := ts.client()
	c.staffSignIn("admin@example.com")
	c.get("/admin/providers/new?kind=oidc", false)
	resp, doc := c.post("/admin/providers", url.Values{"kind": {"oidc"}, "name": {""}, "slug": {"Bad Slug!"}, "client_id": {""},
		"client_secret": {""}, "discovery_url": {"ftp://idp.example/.well-known/openid-configuration"}, "clock_skew": {"999"},
		"authoritative_domains": {"not a domain"}, "audience": {"groups"}, "groups": {""}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	errs := fieldErrors(t, doc)
	for _, f := range []string{"name", "slug", "client_id", "client_secret", "discovery_url", "clock_skew", "authoritative_domains", "groups"} {
		if errs[f] == "" {
			t.Errorf("no error next to %s (errors: %v)", f, errs)
		}
	}
	if n := doc.Find("#provider-errors li").Length(); n != len(errs) {
		t.Errorf("summary lists %d errors, the fields show %d", n, len(errs))
	}
	if href, _ := doc.Find("#provider-errors li a").First().Attr("href"); href != "#f-name" {
		t.Errorf("summary starts with %q, want the first field #f-name", href)
	}
	if v, _ := doc.Find("#f-discovery_url").Attr("value"); v != "ftp://idp.example/.well-known/openid-configuration" {
		t.Errorf("typed discovery URL not kept: %q", v)
	}
	if v, _ := doc.Find("#f-slug").Attr("value"); v != "bad slug!" {
		t.Errorf("typed slug not kept: %q", v)
	}
	if v, _ := doc.Find("#f-clock_skew").Attr("value"); v != "999" {
		t.Errorf("typed clock skew not kept: %q", v)
	}
	var n int
	_ = ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM identity_providers`).Scan(&n)
	if n != 0 {
		t.Fatal("an invalid provider was stored")
	}
	// A secret typed into a form that is refused is not sent back.
	_, doc = c.post("/admin/providers", url.Values{"kind": {"oidc"}, "name": {""}, "slug": {"ok"}, "client_id": {"x"},
		"client_secret": {"typed-secret-value"}, "discovery_url": {"https://idp.example/"}, "audience": {"all"}}, false)
	if v, _ := doc.Find("#f-client_secret").Attr("value"); v != "" || strings.Contains(doc.Text(), "typed-secret-value") {
		t.Fatalf("secret echoed: %q", v)
	}
}

// TestSSOProviderEnableChecksDiscovery (issue 15): an OpenID Connect provider whose discovery
// document cannot be fetched (a closed port) or is not one (an in-process server answering
// other JSON) is not enabled: its form comes back with the reason next to the discovery field,
// in the admin's language. With a real OpenID Provider's discovery document it is enabled and
// its sign-in starts; saving an enabled provider with an unreachable URL is refused too.
func TestSSOProviderEnableChecksDiscovery(t *testing.T) {
	ts := newSSOServer(t)
	mustStaff(t, ts.Pool, "admin@example.com", "Ada", "admin")
	c := ts.client()
	c.staffSignIn("admin@example.com")
	ctx := context.Background()
	closed := closedPortURL(t)
	form := func(discovery string) url.Values {
		return url.Values{"kind": {"oidc"}, "name": {"Corporate IdP"}, "slug": {"corp"}, "client_id": {"portico"},
			"client_secret": {"op-secret"}, "discovery_url": {discovery}, "audience": {"all"}, "allow_create": {"true"}}
	}
	c.get("/admin/providers/new?kind=oidc", false)
	resp, _ := c.post("/admin/providers", form(closed), false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create (disabled) with an unreachable URL: %d", resp.StatusCode)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/admin/providers/"), "?flash=created")
	enabled := func() bool {
		var on bool
		if err := ts.Pool.QueryRow(ctx, `SELECT enabled FROM identity_providers WHERE slug = 'corp'`).Scan(&on); err != nil {
			t.Fatal(err)
		}
		return on
	}
	enable := func() (*http.Response, *goquery.Document) {
		c.get("/admin/providers", false)
		return c.post("/admin/providers/"+id+"/enable", nil, false)
	}

	// Unreachable: refused, the reason next to the field, the provider stays off.
	resp, doc := enable()
	errs := fieldErrors(t, doc)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(errs["discovery_url"], "cannot fetch the discovery document") ||
		!strings.Contains(errs["discovery_url"], "connection refused") || doc.Find("#provider-notice").Length() != 1 {
		t.Fatalf("unreachable: %d %v notice %q", resp.StatusCode, errs, doc.Find("#provider-notice").Text())
	}
	if v, _ := doc.Find("#f-discovery_url").Attr("value"); v != closed {
		t.Fatalf("the form lost the URL: %q", v)
	}
	if enabled() {
		t.Fatal("a provider with an unreachable discovery URL was enabled")
	}
	if resp, _ := ts.client().get("/sso/corp/start", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("customers can start the disabled provider: %d", resp.StatusCode)
	}
	// The same refusal in German.
	c.lang = "de"
	_, doc = enable()
	if e := fieldErrors(t, doc)["discovery_url"]; !strings.Contains(e, "Discovery-Dokument") {
		t.Fatalf("German: %q", e)
	}
	c.lang = ""

	// Something answers, but not a discovery document.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer": "http://example.test"}`))
	}))
	t.Cleanup(other.Close)
	c.get("/admin/providers/"+id, false)
	if resp, _ := c.post("/admin/providers/"+id, form(other.URL+"/.well-known/openid-configuration"), false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save a disabled provider: %d", resp.StatusCode)
	}
	resp, doc = enable()
	if e := fieldErrors(t, doc)["discovery_url"]; resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(e, "does not serve an OpenID Connect discovery document") || !strings.Contains(e, "authorization_endpoint") || enabled() {
		t.Fatalf("invalid document: %d %q", resp.StatusCode, e)
	}

	// A real OpenID Provider: enabled, and customers' sign-in starts at it.
	op := providertest.NewOIDCOP(t, "portico", "op-secret", []string{ssoBase + "/sso/corp/callback"})
	c.get("/admin/providers/"+id, false)
	if resp, _ := c.post("/admin/providers/"+id, form(op.DiscoveryURL()), false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	if resp, _ := enable(); resp.StatusCode != http.StatusSeeOther || !enabled() {
		t.Fatalf("enable with a real discovery document: %d", resp.StatusCode)
	}
	resp, _ = ts.client().get("/sso/corp/start", false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, op.URL()) {
		t.Fatalf("sign-in start: %d %q", resp.StatusCode, loc)
	}

	// An enabled provider cannot be saved with an unreachable URL: the stored one stays.
	c.get("/admin/providers/"+id, false)
	resp, doc = c.post("/admin/providers/"+id, form(closed), false)
	if e := fieldErrors(t, doc)["discovery_url"]; resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(e, "connection refused") {
		t.Fatalf("save enabled with unreachable URL: %d %q", resp.StatusCode, e)
	}
	var stored string
	_ = ts.Pool.QueryRow(ctx, `SELECT settings->>'discovery_url' FROM identity_providers WHERE slug = 'corp'`).Scan(&stored)
	if stored != op.DiscoveryURL() || !enabled() {
		t.Fatalf("stored %q enabled %t", stored, enabled())
	}
}
