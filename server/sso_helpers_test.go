package server

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/crewjam/saml"

	"portico/auth/providers/providertest"
	"portico/handlers"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// ssoBase is the portal's public URL in SSO tests (requests still go through app.Test).
const ssoBase = "http://portico.test"

// newSSOServer starts an instance whose BaseURL is ssoBase and whose providers may use http
// URLs on 127.0.0.1 (the in-process IdPs).
func newSSOServer(t *testing.T) *testServer {
	t.Helper()
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	rdb := newRedis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	cfg := testConfig(t)
	cfg.BaseURL = ssoBase
	s, err := New(context.Background(), cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond, SSOInsecureURLs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &testServer{Server: s, t: t, prefix: prefix}
}

// mustProvider stores and enables a provider through the same path as the admin console and
// reloads the registry.
func (ts *testServer) mustProvider(row store.IdentityProvider, secrets map[string]string) store.IdentityProvider {
	ts.t.Helper()
	row.Enabled, row.AllowCreate = true, true
	// The tests post most JWTs as the customer's app does on its own (no state of a sign-in
	// started here), which needs allow_app_initiated and the "Continue as …?" step (postJWT).
	if row.Kind == store.KindJWT && row.Settings["allow_app_initiated"] == "" {
		row.Settings["allow_app_initiated"] = "true"
	}
	if row.Name == "" {
		row.Name = strings.ToUpper(row.Slug)
	}
	if err := handlers.ApplyProvider(&row, secrets, ts.Handlers.SSODeps.Sealer, true); err != nil {
		ts.t.Fatalf("provider %s: %v", row.Slug, err)
	}
	row, err := ts.Store.IdentityProviderCreate(context.Background(), store.CLIEditor, row)
	if err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.Handlers.ProvidersChanged(context.Background()); err != nil {
		ts.t.Fatal(err)
	}
	return row
}

// portalPath turns a redirect to the portal into a path for app.Test.
func portalPath(t *testing.T, loc string) string {
	t.Helper()
	if !strings.HasPrefix(loc, ssoBase+"/") {
		t.Fatalf("expected a redirect to the portal, got %q", loc)
	}
	return strings.TrimPrefix(loc, ssoBase)
}

// ---- SAML: crewjam's IdentityProvider signing real assertions (providertest) ----

type samlIdP struct {
	*providertest.SAMLIdP
	t   *testing.T
	idp *saml.IdentityProvider
}

func selfSigned(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	return providertest.SelfSigned(t, cn)
}

// newSAMLIdP starts a crewjam IdP on 127.0.0.1 whose user is alice@example.com.
func newSAMLIdP(t *testing.T) *samlIdP {
	p := providertest.NewSAMLIdP(t)
	return &samlIdP{SAMLIdP: p, t: t, idp: p.IdP}
}

// metadataXML is the IdP's metadata, to paste into the provider.
func (s *samlIdP) metadataXML() string { return s.MetadataXML() }

// trust loads the SP metadata of provider slug from the portal into the IdP.
func (s *samlIdP) trust(ts *testServer, slug string) *saml.EntityDescriptor {
	s.t.Helper()
	resp := ts.client().do(httptest.NewRequest(http.MethodGet, "/sso/"+slug+"/metadata", nil))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("SP metadata: %d %s", resp.StatusCode, b)
	}
	return s.TrustSPMetadataXML(b)
}

// trustPlain is trust without the SP's encryption key: the IdP then sends plaintext (signed)
// assertions, which the tampering tests edit.
func (s *samlIdP) trustPlain(ts *testServer, slug string) *saml.EntityDescriptor {
	md := s.trust(ts, slug)
	s.WithoutEncryption(md.EntityID)
	return md
}

// samlForm is the IdP's auto-submitted response form.
type samlForm = providertest.SAMLForm

// samlLogin starts an SP-initiated sign-in from c and returns the IdP's signed response form.
func (s *samlIdP) login(c *client, slug, returnTo string) samlForm {
	s.t.Helper()
	path := "/sso/" + slug + "/start"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, _ := c.get(path, false)
	if resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("start: status %d", resp.StatusCode)
	}
	return s.Respond(resp.Header.Get("Location"))
}

// unsolicited returns an IdP-initiated response for the SP entity id with relayState.
func (s *samlIdP) unsolicited(entityID, relayState string) samlForm {
	s.t.Helper()
	return s.Unsolicited(entityID, relayState)
}

// crossSite returns the cookie jar a browser sends on a cross-site POST (the IdP's or app's
// auto-submitted form): c's SameSite=None SSO flow cookie only, never the Lax session cookie.
func crossSite(c *client) *client {
	x := c.ts.client()
	for _, name := range []string{"portico_sso", "__Host-portico_sso"} {
		if v, ok := c.cookies[name]; ok {
			x.cookies[name] = v
		}
	}
	return x
}

// continueAs presses "Continue" on the "Continue as …?" page doc shown to c (its CSRF token and
// flow id), returning the portal's answer. It fails the test when doc is not that page.
func continueAs(t *testing.T, c *client, doc *goquery.Document) (*http.Response, *goquery.Document) {
	t.Helper()
	flow, ok := doc.Find(`#sso-continue-form input[name=flow]`).Attr("value")
	csrf, _ := doc.Find(`#sso-continue-form input[name=_csrf]`).Attr("value")
	if !ok || flow == "" || csrf == "" {
		t.Fatalf("not the Continue page: %q", doc.Find("main").Text())
	}
	return c.post("/sso/continue", url.Values{"flow": {flow}, "_csrf": {csrf}}, false)
}

// postACS posts a SAML response form to the portal's ACS with no cookies (the browser sends
// none on this cross-site POST) from a fresh client c2, returning the response.
func postACS(c *client, slug string, f samlForm) (*http.Response, *goquery.Document) {
	form := url.Values{"SAMLResponse": {f.SAMLResponse}}
	if f.RelayState != "" {
		form.Set("RelayState", f.RelayState)
	}
	form.Set("_csrf", "")
	req := httptest.NewRequest(http.MethodPost, "/sso/"+slug+"/acs", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp := c.do(req)
	return resp, parse(c.ts.t, resp)
}

// ---- OIDC: a real OpenID Provider (zitadel/oidc op, its example storage; providertest) ----

type oidcOP struct {
	*providertest.OIDCOP
	t   *testing.T
	srv *httptest.Server
}

// newOIDCOP starts an OpenID Provider with client (id, secret) redirecting to each slug's
// callback, and users bob (verified email) and mallory (unverified email).
func newOIDCOP(t *testing.T, clientID, secret string, slugs ...string) *oidcOP {
	var redirects []string
	for _, s := range slugs {
		redirects = append(redirects, ssoBase+"/sso/"+s+"/callback")
	}
	op := providertest.NewOIDCOP(t, clientID, secret, redirects)
	return &oidcOP{OIDCOP: op, t: t, srv: op.Server}
}

// login drives the OP's login form as user and returns the portal callback path.
func (o *oidcOP) login(authURL, user string) string {
	o.t.Helper()
	return portalPath(o.t, o.Login(authURL, user, ssoBase))
}
