package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	"github.com/golang-jwt/jwt/v5"

	"portico/auth/providers/providertest"
	"portico/handlers"
	"portico/server"
	"portico/sql/store"
)

// ssoPortal starts a portal whose identity providers may use http URLs on loopback hosts (the
// in-process IdPs).
func ssoPortal(t *testing.T) *portal {
	t.Helper()
	return startPortal(t, func(o *server.Options) { o.SSOInsecureURLs = true })
}

// addProvider stores and enables a provider the way the admin console does, and reloads the
// registry.
func (p *portal) addProvider(t *testing.T, row store.IdentityProvider, secrets map[string]string) {
	t.Helper()
	row.Enabled, row.AllowCreate = true, true
	if err := handlers.ApplyProvider(&row, secrets, p.Handlers.SSODeps.Sealer, true); err != nil {
		t.Fatalf("provider %s: %v", row.Slug, err)
	}
	if _, err := p.Store.IdentityProviderCreate(context.Background(), store.CLIEditor, row); err != nil {
		t.Fatal(err)
	}
	if err := p.Handlers.ProvidersChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// signedInAs asserts the browser landed on /tickets as the customer who owns ownTicket and
// sees the organization's tickets, not another company's.
func signedInAs(b *browser, ownTicket string) {
	b.t.Helper()
	b.visible("#tickets-table")
	if loc := b.location(); loc != "/tickets" {
		b.t.Fatalf("after single sign-on the browser is on %q, want /tickets", loc)
	}
	rows := b.rowSubjects()
	if !contains(rows, ownTicket) {
		b.t.Fatalf("after single sign-on the ticket list shows %q, want the customer's own %q", rows, ownTicket)
	}
	if contains(rows, "Globex payroll export") {
		b.t.Fatalf("after single sign-on the ticket list shows another company's ticket: %q", rows)
	}
	if !b.present("#sign-out") {
		b.t.Fatal("after single sign-on there is no sign-out button")
	}
}

// TestSSOSAMLInBrowser: a customer clicks the SAML provider's button on the sign-in page, the
// browser carries the AuthnRequest to crewjam's IdP (on another site: localhost vs 127.0.0.1),
// whose response form posts itself back to the ACS, and the customer lands on their tickets.
func TestSSOSAMLInBrowser(t *testing.T) {
	p := ssoPortal(t)
	idp := providertest.NewSAMLIdPOn(t, "localhost")
	// The IdP vouches for the standard Alice (same email: linked, her tickets visible).
	idp.SetUser(saml.Session{NameID: "alice-saml", UserEmail: p.Std.AliceEmail, UserCommonName: "Alice Archer",
		UserGivenName: "Alice", UserSurname: "Archer"})
	p.addProvider(t, store.IdentityProvider{Slug: "corp", Name: "Corp SSO", Kind: store.KindSAML,
		Settings: map[string]string{"idp_metadata_xml": idp.MetadataXML()}}, nil)
	md := idp.TrustSPMetadataURL(p.URL + "/sso/corp/metadata")
	if md.EntityID != p.URL+"/sso/corp/metadata" {
		t.Fatalf("SP entity id %q", md.EntityID)
	}

	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	b.visible("#sso-corp")
	if got := b.text("#sso-corp"); !strings.Contains(got, "Corp SSO") {
		t.Fatalf("the SAML button reads %q, want it to name Corp SSO", got)
	}
	// One click: start → IdP (Redirect binding) → auto-posted response → ACS → /tickets.
	b.follow("click Sign in with Corp SSO", chromedp.Click(chromedp.CSS("#sso-corp")))
	signedInAs(b, "Printer on fire")

	// The IdP's subject is now linked to the existing contact.
	var sub string
	if err := p.Pool.QueryRow(context.Background(), `SELECT i.subject FROM contact_identities i WHERE i.contact_id = $1`, p.Std.Alice).Scan(&sub); err != nil || sub != "alice-saml" {
		t.Fatalf("identity link of Alice: %q %v", sub, err)
	}

	// Signing out and in again goes through the IdP once more and lands on the same list.
	b.follow("click Sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.visible("#sso-corp")
	b.follow("click Sign in with Corp SSO again", chromedp.Click(chromedp.CSS("#sso-corp")))
	signedInAs(b, "Printer on fire")
}

// TestSSOOIDCInBrowser: a customer clicks the OpenID Connect provider's button, signs in on the
// OP's own login form (zitadel/oidc), comes back through the callback and lands on their tickets.
func TestSSOOIDCInBrowser(t *testing.T) {
	p := ssoPortal(t)
	op := providertest.NewOIDCOP(t, "portico", "op-secret", []string{p.URL + "/sso/acme-id/callback"},
		providertest.OIDCUser{ID: "u-bob", Username: "bob", FirstName: "Bob", LastName: "Baker", Email: p.Std.BobEmail, EmailVerified: true})
	p.addProvider(t, store.IdentityProvider{Slug: "acme-id", Name: "Acme ID", Kind: store.KindOIDC,
		Settings: map[string]string{"client_id": "portico", "discovery_url": op.DiscoveryURL()}}, map[string]string{"client_secret": "op-secret"})

	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/tickets")
	b.visible("#sso-acme-id")
	b.follow("click Sign in with Acme ID", chromedp.Click(chromedp.CSS("#sso-acme-id")))

	// The OP's login form, on the OP's origin.
	b.visible("#username")
	if loc := run(b, "read the location", chromedp.Location()); !strings.HasPrefix(loc, op.URL()+"/") {
		t.Fatalf("the sign-in button led to %q, want the OP at %s", loc, op.URL())
	}
	b.do("type bob's credentials at the OP",
		chromedp.SendKeys(chromedp.CSS("#username"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#password"), providertest.OIDCPassword),
	)
	b.follow("click Login at the OP", chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	signedInAs(b, "VPN keeps dropping")

	var sub string
	if err := p.Pool.QueryRow(context.Background(), `SELECT i.subject FROM contact_identities i WHERE i.contact_id = $1`, p.Std.Bob).Scan(&sub); err != nil || sub != "u-bob" {
		t.Fatalf("identity link of Bob: %q %v", sub, err)
	}
}

// TestSSOJWTRemoteLogoutInBrowser: a token the app sends on its own (app-initiated, allowed)
// first shows "Continue as …?" (accessible, fits 360 px and 1280 px, screenshots logged) and
// signs in only after Continue; then the customer signs out and the browser ends up on the
// app's remote logout URL (another origin: our CSP's form-action 'self' would block a plain
// redirect there, so this checks the way the portal sends them on).
func TestSSOJWTRemoteLogoutInBrowser(t *testing.T) {
	p := ssoPortal(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><title>App</title><h1 id="app-signed-out">Signed out of the app</h1>`)
	}))
	t.Cleanup(app.Close)
	const secret = "0123456789abcdef0123456789abcdef-e2e-app"
	p.addProvider(t, store.IdentityProvider{Slug: "app", Name: "Our App", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256",
		"remote_logout_url": app.URL + "/logout", "allow_app_initiated": "true"}}, map[string]string{"jwt_secret": secret})
	token := func() string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": fmt.Sprint(now.UnixNano()), "email": p.Std.AliceEmail, "name": "Alice Archer"}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	b := newBrowser(t, p.URL, browserOptions{})
	for _, w := range []int64{360, 1280} {
		b.do("resize", chromedp.EmulateViewport(w, 900))
		b.navigate("/sso/app/jwt?jwt=" + url.QueryEscape(token()))
		b.visible("#sso-continue-submit")
		if h := b.text("h1"); !strings.Contains(h, strings.ToLower(p.Std.AliceEmail)) {
			t.Fatalf("the Continue page asks %q, want it to name %s", h, p.Std.AliceEmail)
		}
		axeCheck(b, "/sso/app/jwt (Continue as …?)")
		fits := run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
		b.screenshot(fmt.Sprintf("continue-%dpx", w))
		if !fits {
			t.Errorf("the Continue page scrolls sideways at %d px", w)
		}
	}
	// Not signed in before Continue.
	b.navigate("/tickets")
	b.visible("#email")
	b.navigate("/sso/app/jwt?jwt=" + url.QueryEscape(token()))
	b.follow("click Continue", chromedp.Click(chromedp.CSS("#sso-continue-submit")))
	signedInAs(b, "Printer on fire")
	b.do("click Sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.visible("#app-signed-out")
	if loc := run(b, "read the location", chromedp.Location()); loc != app.URL+"/logout" {
		t.Fatalf("after sign-out the browser is on %q, want the app's remote logout URL", loc)
	}
	// Our session is gone.
	b.navigate("/tickets")
	b.visible("#email")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("/tickets after sign-out shows %q, want the sign-in page", loc)
	}
}
