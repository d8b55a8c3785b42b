package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/crewjam/saml"
	"github.com/golang-jwt/jwt/v5"

	"portico/auth/providers/providertest"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// ssoPair starts two instances of one deployment (one database, one Redis prefix).
func ssoPair(t *testing.T) (*testServer, *testServer) {
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	return newSSOServerWith(t, ssoServerOpts{Pool: pool, Prefix: prefix}), newSSOServerWith(t, ssoServerOpts{Pool: pool, Prefix: prefix})
}

// concurrently sends the n prepared requests at once, request i from its browser's jar to
// instance a (i even) or b (i odd), and returns the statuses.
func concurrently(a, b *testServer, jars []*client, reqs []*http.Request) []int {
	statuses := make([]int, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range reqs {
		ts := a
		if i%2 == 1 {
			ts = b
		}
		for k, v := range jars[i].cookies {
			reqs[i].AddCookie(&http.Cookie{Name: k, Value: v})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := ts.App.Test(reqs[i], 30_000)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// checkOneContact fails unless every sign-in of the round was answered 303 and the address
// has exactly one contact and one identity link.
func checkOneContact(t *testing.T, ts *testServer, what string, statuses []int, email string) {
	t.Helper()
	for i, st := range statuses {
		if st != http.StatusSeeOther {
			t.Errorf("%s: sign-in %d answered %d", what, i, st)
		}
	}
	if c := countRows(t, ts, `SELECT count(*) FROM contacts WHERE email = $1`, email); c != 1 {
		t.Errorf("%s: %d contacts", what, c)
	}
	if c := countRows(t, ts, `SELECT count(*) FROM contact_identities WHERE email = $1`, email); c != 1 {
		t.Errorf("%s: %d identity links", what, c)
	}
}

// TestSSOConcurrentFirstSignIn: eight valid first sign-ins of one new user, posted at once to
// two instances of one deployment, all sign in (never a 5xx) and make exactly one contact,
// one company and one identity link (issue 10, point 2). Each sign-in is the normal flow that
// starts at the portal (JWT state, bound to its browser). Rounds repeat it for new users.
func TestSSOConcurrentFirstSignIn(t *testing.T) {
	a, b := ssoPair(t)
	a.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, TrustOrganization: true,
		Settings: map[string]string{"alg": "HS256", "remote_login_url": "https://app.example/login", "allow_app_initiated": "false"}},
		map[string]string{"jwt_secret": jwtSecret})
	if err := b.Handlers.ProvidersChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for round := range 3 {
		email := fmt.Sprintf("new%d@example.com", round)
		jars := make([]*client, n)
		reqs := make([]*http.Request, n)
		for i := range n {
			browser := a.client()
			state := jwtStart(t, browser, "app", "")
			tok := jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims(email))
			jars[i] = crossSite(browser)
			reqs[i] = newFormRequest("/sso/app/jwt", url.Values{"jwt": {tok}, "state": {state}})
			reqs[i].Header.Set("Sec-Fetch-Site", "cross-site")
		}
		checkOneContact(t, a, fmt.Sprintf("JWT round %d", round), concurrently(a, b, jars, reqs), email)
	}
	if c := countRows(t, a, `SELECT count(*) FROM companies WHERE name = 'Acme JWT'`); c != 1 {
		t.Errorf("%d companies named Acme JWT", c)
	}
}

// TestSSOConcurrentFirstSignInSAML: the same for SAML: eight browsers start at the portal,
// the IdP answers each for one new user, and the eight responses are posted at once, each
// with its browser's flow cookie, to two instances.
func TestSSOConcurrentFirstSignInSAML(t *testing.T) {
	a, b := ssoPair(t)
	idp := newSAMLIdP(t)
	samlProvider(a, idp, "corp", nil)
	if err := b.Handlers.ProvidersChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for round := range 2 {
		email := fmt.Sprintf("saml%d@example.com", round)
		idp.SetUser(saml.Session{NameID: fmt.Sprintf("saml-user-%d", round), UserEmail: email, UserCommonName: "Sam L"})
		jars := make([]*client, n)
		reqs := make([]*http.Request, n)
		for i := range n {
			browser := a.client()
			f := idp.login(browser, "corp", "")
			jars[i] = crossSite(browser)
			reqs[i] = newFormRequest("/sso/corp/acs", url.Values{"SAMLResponse": {f.SAMLResponse}})
			reqs[i].Header.Set("Sec-Fetch-Site", "cross-site")
		}
		checkOneContact(t, a, fmt.Sprintf("SAML round %d", round), concurrently(a, b, jars, reqs), email)
	}
}

// TestSSOConcurrentFirstSignInOIDC: the same for OpenID Connect: eight browsers start at the
// portal and log in at the OP as one new user with a verified address; the eight callbacks
// arrive at once at two instances (each with its own session, which the state is bound to).
func TestSSOConcurrentFirstSignInOIDC(t *testing.T) {
	a, b := ssoPair(t)
	users := []providertest.OIDCUser{
		{ID: "u-new0", Username: "new0", FirstName: "New", LastName: "Zero", Email: "oidc0@example.com", EmailVerified: true},
		{ID: "u-new1", Username: "new1", FirstName: "New", LastName: "One", Email: "oidc1@example.com", EmailVerified: true},
	}
	op := &oidcOP{OIDCOP: providertest.NewOIDCOP(t, "portico", "op-secret", []string{ssoBase + "/sso/acme/callback"}, users...), t: t}
	a.mustProvider(store.IdentityProvider{Slug: "acme", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "portico",
		"discovery_url": op.DiscoveryURL()}}, map[string]string{"client_secret": "op-secret"})
	if err := b.Handlers.ProvidersChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for round, u := range users {
		jars := make([]*client, n)
		reqs := make([]*http.Request, n)
		for i := range n {
			browser := a.client()
			resp, _ := browser.get("/sso/acme/start", false)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("start: %d", resp.StatusCode)
			}
			jars[i] = browser
			reqs[i] = httptest.NewRequest(http.MethodGet, op.login(resp.Header.Get("Location"), u.Username), nil)
		}
		checkOneContact(t, a, fmt.Sprintf("OIDC round %d", round), concurrently(a, b, jars, reqs), u.Email)
	}
}
