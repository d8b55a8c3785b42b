package server

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// A customer whose session a JWT app opened is sent on to the app's remote logout URL after
// our session is destroyed; other sessions sign out to our own sign-in page.
func TestSSOJWTRemoteLogout(t *testing.T) {
	ts := newSSOServer(t)
	ts.mustProvider(store.IdentityProvider{Slug: "app", Name: "Our App", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256",
		"remote_logout_url": "https://app.example/logout?from=portal"}}, map[string]string{"jwt_secret": jwtSecret})
	ts.mustProvider(store.IdentityProvider{Slug: "plain", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256"}},
		map[string]string{"jwt_secret": jwtSecret})

	signIn := func(slug, email string) *client {
		t.Helper()
		c := ts.client()
		resp, _ := postJWT(c, slug, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims(email)), "")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("jwt sign-in at %s: %d", slug, resp.StatusCode)
		}
		if resp, _ := c.get("/tickets", false); resp.StatusCode != http.StatusOK {
			t.Fatalf("/tickets after sign-in at %s: %d", slug, resp.StatusCode)
		}
		return c
	}
	signedOut := func(c *client) {
		t.Helper()
		if resp, _ := c.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("/tickets after sign-out: %d, want the sign-in redirect", resp.StatusCode)
		}
	}

	// Through the app with a remote logout URL: our session ends, then the app's URL.
	c := signIn("app", "jay@example.com")
	resp, doc := c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Refresh") != "0; url=https://app.example/logout?from=portal" {
		t.Fatalf("sign-out: %d, Refresh %q", resp.StatusCode, resp.Header.Get("Refresh"))
	}
	if href, _ := doc.Find("#sso-remote-logout").Attr("href"); href != "https://app.example/logout?from=portal" {
		t.Fatalf("continue link %q", href)
	}
	if resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatal("sign-out without Clear-Site-Data")
	}
	signedOut(c)

	// The same from htmx: HX-Redirect to the app.
	c = signIn("app", "jay@example.com")
	resp, _ = c.post("/logout", nil, true)
	if resp.Header.Get("HX-Redirect") != "https://app.example/logout?from=portal" {
		t.Fatalf("htmx sign-out: %d HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	signedOut(c)

	// An app without a remote logout URL, and a password session: our own signed-out page.
	c = signIn("plain", "kay@example.com")
	resp, _ = c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign-out of a session without remote logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	signedOut(c)
	storetest.MustContact(t, ts.Pool, "pw@example.com", "Pw", 0, "a long enough password 1")
	c = ts.client()
	c.signIn("pw@example.com", "a long enough password 1")
	resp, _ = c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign-out of a password session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Once the app is disabled, its sessions sign out locally.
	c = signIn("app", "jay@example.com")
	row, err := ts.Store.IdentityProviderBySlug(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.IdentityProviderSetEnabled(t.Context(), store.CLIEditor, row.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := ts.Handlers.ProvidersChanged(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, _ = c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign-out after the app was disabled: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The staff navigation links to the sign-in providers for admins only.
func TestSSOAdminNavigationLink(t *testing.T) {
	ts := newSSOServer(t)
	mustStaff(t, ts.Pool, "admin@example.com", "Ada", "admin")
	mustStaff(t, ts.Pool, "agent@example.com", "Agent", "agent")
	a := ts.client()
	a.staffSignIn("admin@example.com")
	_, doc := a.get("/admin/inbox", false)
	if href, _ := doc.Find("#nav-providers").Attr("href"); href != "/admin/providers" || doc.Find("#nav-providers").Text() != "Sign-in providers" {
		t.Fatalf("admin navigation: providers link %q %q", href, doc.Find("#nav-providers").Text())
	}
	g := ts.client()
	g.staffSignIn("agent@example.com")
	_, doc = g.get("/admin/inbox", false)
	if doc.Find("#nav-inbox").Length() != 1 || doc.Find("#nav-providers").Length() != 0 {
		t.Fatal("agent navigation: want the inbox link and no providers link")
	}
}
