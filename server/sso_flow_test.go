package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	"github.com/golang-jwt/jwt/v5"

	"portico/auth"
	"portico/sql/store"
)

// jwtStart starts a JWT sign-in at the portal from browser c (the app's button) and returns
// the state the portal sent to the app's remote login URL.
func jwtStart(t *testing.T, c *client, slug, returnTo string) string {
	t.Helper()
	path := "/sso/" + slug + "/start"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, _ := c.get(path, false)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("JWT start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("state")
}

// postToken posts a token (and state, when not "") from jar c as the app's auto-submitted
// form, without following anything.
func postToken(c *client, slug, token, state string) (*http.Response, *goqueryDoc) {
	form := url.Values{"jwt": {token}}
	if state != "" {
		form.Set("state", state)
	}
	req := newFormRequest("/sso/"+slug+"/jwt", form)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp := c.do(req)
	return resp, parse(c.ts.t, resp)
}

// signedIn reports whether c's session is a customer's (the ticket list answers 200).
func signedIn(c *client) bool {
	resp, _ := c.get("/tickets", false)
	return resp.StatusCode == http.StatusOK
}

// flowCookie is the SSO flow cookie c holds ("" for none).
func flowCookie(c *client) string { return c.cookies["portico_sso"] }

// TestSSOSAMLBoundToBrowser (issue 10 point 7, login CSRF): a SAML response to a request the
// portal issued signs in only the browser that started it (its SSO flow cookie), in one go; an
// attacker's own valid response auto-posted into a victim's browser signs nobody in, whether
// the victim has a flow cookie of their own or none; an IdP-initiated response (enabled) shows
// "Continue as …?" and opens a session only after the person's CSRF-checked POST from that
// same browser.
func TestSSOSAMLBoundToBrowser(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	samlProvider(ts, idp, "corp", map[string]string{"allow_idp_initiated": "true"})
	idp.SetUser(saml.Session{NameID: "mallory-1", UserEmail: "mallory@example.com", UserCommonName: "Mallory"})

	// The flow cookie: SameSite=None (the IdP's cross-site POST carries it), Secure, HttpOnly.
	attacker := ts.client()
	resp, _ := attacker.get("/sso/corp/start", false)
	var flow *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "portico_sso" {
			flow = ck
		}
	}
	if flow == nil || flow.SameSite != http.SameSiteNoneMode || !flow.Secure || !flow.HttpOnly || flow.MaxAge <= 0 || flow.MaxAge > 600 || len(flow.Value) < 32 {
		t.Fatalf("SSO flow cookie: %+v", flow)
	}

	// The attacker's own response (to the attacker's request), auto-posted into the victim's
	// browser: the victim has no flow cookie, or one of their own pending sign-in.
	victim := ts.client()
	form := idp.Respond(resp.Header.Get("Location"))
	resp, doc := postACS(crossSite(victim), "corp", form)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
		t.Fatalf("attacker's response in a browser without flow cookie: %d %q", resp.StatusCode, r)
	}
	victim.get("/sso/corp/start", false) // the victim's own sign-in, pending at the IdP
	if flowCookie(victim) == "" || flowCookie(victim) == flowCookie(attacker) {
		t.Fatal("the victim's browser got no flow cookie of its own")
	}
	form = idp.login(attacker, "corp", "")
	resp, doc = postACS(crossSite(victim), "corp", form)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
		t.Fatalf("attacker's response in the victim's browser with its own flow cookie: %d %q", resp.StatusCode, r)
	}
	if signedIn(victim) {
		t.Fatal("the victim's browser was signed in by the attacker's response")
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contacts WHERE email = 'mallory@example.com'`); n != 0 {
		t.Fatalf("a refused response created %d contacts", n)
	}

	// The normal flow, in the browser that started it: one go, no question.
	form = idp.login(attacker, "corp", "/tickets?view=org")
	acs := crossSite(attacker)
	resp, doc = postACS(acs, "corp", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?view=org" {
		t.Fatalf("SP-initiated sign-in in its own browser: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
	}
	if !signedIn(acs) {
		t.Fatal("SP-initiated sign-in opened no session")
	}

	// IdP-initiated (enabled): the cross-site post of someone's assertion asks first.
	victim = ts.client()
	md := idp.trust(ts, "corp")
	resp, doc = postACS(victim, "corp", idp.unsolicited(md.EntityID, "/tickets?status=closed"))
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-continue").Length() != 1 {
		t.Fatalf("IdP-initiated response: %d %s", resp.StatusCode, doc.Find("main").Text())
	}
	if h := doc.Find("h1").Text(); !strings.Contains(h, "mallory@example.com") {
		t.Fatalf("the Continue page names %q, want the address", h)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Continue page Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if signedIn(victim) {
		t.Fatal("an IdP-initiated response signed in before Continue")
	}
	// Another browser cannot press Continue for it (the flow is bound to the victim's session),
	// nor can a POST without the CSRF token.
	flowID, _ := doc.Find(`input[name=flow]`).Attr("value")
	other := ts.client()
	other.get("/login", false)
	if resp, doc := other.post("/sso/continue", url.Values{"flow": {flowID}}, false); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow || signedIn(other) {
		t.Fatalf("Continue from another browser: %d", resp.StatusCode)
	}
	if resp, _ := victim.post("/sso/continue", url.Values{"flow": {flowID}, "_csrf": {"forged"}}, false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Continue without the CSRF token: %d", resp.StatusCode)
	}
	resp, doc = continueAs(t, victim, doc)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?status=closed" || !signedIn(victim) {
		t.Fatalf("Continue: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
	}
	// The flow is single use.
	victim2 := ts.client()
	victim2.get("/login", false)
	if resp, doc := victim2.post("/sso/continue", url.Values{"flow": {flowID}}, false); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow {
		t.Fatalf("Continue again: %d", resp.StatusCode)
	}
}

// TestSSOJWTBoundToBrowser: a JWT sign-in started at the portal carries a state bound to the
// starting browser's flow cookie: the token with that state signs that browser in at once,
// and the state (with a valid token) signs in no other browser; a token without state is
// refused where app-initiated sign-in is off, and asks "Continue as …?" (translated) where
// it is on.
func TestSSOJWTBoundToBrowser(t *testing.T) {
	ts := newSSOServer(t)
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256",
		"remote_login_url": "https://app.example/login", "allow_app_initiated": "false"}}, map[string]string{"jwt_secret": jwtSecret})
	ts.mustProvider(store.IdentityProvider{Slug: "open", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256",
		"remote_login_url": "https://app.example/login", "allow_app_initiated": "true"}}, map[string]string{"jwt_secret": jwtSecret})
	tok := func(email string) string {
		return jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims(email))
	}

	// The attacker's state and token, posted into the victim's browser (no or its own flow cookie).
	attacker := ts.client()
	victim := ts.client()
	state := jwtStart(t, attacker, "app", "")
	if resp, doc := postToken(crossSite(victim), "app", tok("mallory@example.com"), state); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow {
		t.Fatalf("attacker's state in a browser without flow cookie: %d", resp.StatusCode)
	}
	jwtStart(t, victim, "app", "")
	state = jwtStart(t, attacker, "app", "")
	if resp, doc := postToken(crossSite(victim), "app", tok("mallory@example.com"), state); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow {
		t.Fatalf("attacker's state in the victim's browser with its own flow cookie: %d", resp.StatusCode)
	}
	if signedIn(victim) {
		t.Fatal("the victim's browser was signed in by the attacker's token")
	}

	// The normal flow: one go, return_to as given at the start (not as posted).
	state = jwtStart(t, attacker, "app", "/tickets?status=all")
	acs := crossSite(attacker)
	resp, doc := postToken(acs, "app", tok("jay@example.com"), state)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?status=all" || !signedIn(acs) {
		t.Fatalf("JWT sign-in started here: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
	}
	// The state is single use.
	if resp, doc := postToken(crossSite(attacker), "app", tok("jay@example.com"), state); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow {
		t.Fatalf("state used twice: %d", resp.StatusCode)
	}
	// A state of another provider.
	state = jwtStart(t, attacker, "open", "")
	if resp, doc := postToken(crossSite(attacker), "app", tok("jay@example.com"), state); deniedReason(t, resp.StatusCode, doc) != auth.ReasonExpiredFlow {
		t.Fatalf("another provider's state: %d", resp.StatusCode)
	}

	// No state, app-initiated off: refused.
	if resp, doc := postToken(ts.client(), "app", tok("jay@example.com"), ""); deniedReason(t, resp.StatusCode, doc) != auth.ReasonIdPInitiated {
		t.Fatalf("app-initiated token while off: %d", resp.StatusCode)
	}
	// No state, app-initiated on: the question first, in the browser's language.
	for _, l := range []struct{ lang, want string }{{"de", "fortfahren?"}, {"fr", "Continuer en tant que"}, {"es", "¿Continuar como"},
		{"nl", "Doorgaan als"}, {"en", "Continue as"}} {
		lang, want := l.lang, l.want
		victim := ts.client()
		victim.lang = lang
		resp, doc := postToken(victim, "open", tok("jane@example.com"), "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(doc.Find("h1").Text(), want) || !strings.Contains(doc.Find("h1").Text(), "jane@example.com") {
			t.Fatalf("%s: app-initiated token: %d %q", lang, resp.StatusCode, doc.Find("h1").Text())
		}
		if signedIn(victim) {
			t.Fatalf("%s: an app-initiated token signed in before Continue", lang)
		}
		if n := countRows(t, ts, `SELECT count(*) FROM contacts WHERE email = 'jane@example.com'`); n != 0 {
			t.Fatalf("a contact was created before Continue")
		}
		if lang == "en" {
			if resp, _ := continueAs(t, victim, doc); resp.StatusCode != http.StatusSeeOther || !signedIn(victim) {
				t.Fatalf("Continue: %d", resp.StatusCode)
			}
		}
	}
}
