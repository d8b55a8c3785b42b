package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/beevik/etree"
	"github.com/golang-jwt/jwt/v5"
	dsig "github.com/russellhaering/goxmldsig"

	"portico/auth"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

type goqueryDoc = goquery.Document

func newFormRequest(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const jwtSecret = "0123456789abcdef0123456789abcdef-portico"

// deniedReason returns the reason on an access-denied page ("" if it is not one).
func deniedReason(t *testing.T, status int, doc *goqueryDoc) auth.Reason {
	t.Helper()
	r, _ := doc.Find("#sso-reason").Attr("data-reason")
	if r != "" && status != http.StatusForbidden {
		t.Fatalf("access denied with status %d", status)
	}
	return auth.Reason(r)
}

func jwtToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func freshClaims(email string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": storetest.RandHex(8),
		"email": email, "name": "Jay Tee", "organization": "Acme JWT", "external_id": "ext-" + email}
}

// postJWT posts token as the customer's app does on its own (app-initiated: no state) from
// browser c and, when the portal asks "Continue as …?", presses Continue (the provider needs
// allow_app_initiated, which mustProvider sets for JWT apps). It returns the portal's last
// answer: a refusal of the token itself comes before the question.
func postJWT(c *client, slug, token, returnTo string) (*http.Response, *goqueryDoc) {
	req := newFormRequest("/sso/"+slug+"/jwt", url.Values{"jwt": {token}, "return_to": {returnTo}})
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp := c.do(req)
	doc := parse(c.ts.t, resp)
	if resp.StatusCode == http.StatusOK && doc.Find("#sso-continue").Length() == 1 {
		return continueAs(c.ts.t, c, doc)
	}
	return resp, doc
}

func TestSSOJWTSignInAndRefusals(t *testing.T) {
	ts := newSSOServer(t)
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, TrustOrganization: true, Settings: map[string]string{"alg": "HS256",
		"remote_login_url": "https://app.example/login"}}, map[string]string{"jwt_secret": jwtSecret})
	key, cert := selfSigned(t, "rs-app")
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, &key.PublicKey)}))
	_ = cert
	ts.mustProvider(store.IdentityProvider{Slug: "rsapp", Kind: store.KindJWT, Settings: map[string]string{"alg": "RS256", "public_key": pubPEM}}, nil)

	// The sign-in page offers the app (it has a remote login URL), not the one without.
	c := ts.client()
	_, doc := c.get("/login?return_to=/tickets", false)
	if doc.Find("#sso-app").Length() != 1 || doc.Find("#sso-rsapp").Length() != 0 {
		t.Fatalf("sign-in buttons: %v", texts(doc, "#sso-buttons a"))
	}
	resp, _ := c.get("/sso/app/start?return_to=/tickets", false)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://app.example/login?") || !strings.Contains(loc, "return_to=%2Ftickets") || !strings.Contains(loc, "timestamp=") {
		t.Fatalf("remote login redirect: %q", loc)
	}

	// A valid HS256 token signs in, creates contact and company, and honours a local return_to.
	c = ts.client()
	tok := jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims("jay@example.com"))
	resp, _ = postJWT(c, "app", tok, "/tickets?status=all")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?status=all" {
		t.Fatalf("jwt sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.get("/tickets", false); resp.StatusCode != 200 {
		t.Fatalf("after sign-in /tickets: %d", resp.StatusCode)
	}
	acct, err := ts.Store.AccountByEmail(context.Background(), "jay@example.com")
	_ = acct
	var company string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT co.name FROM contacts c JOIN companies co ON co.id = c.company_id WHERE c.email = 'jay@example.com'`).Scan(&company); err != nil || company != "Acme JWT" {
		t.Fatalf("contact/company not created: %v %q (%v)", err, company, err)
	}

	// The same token again: jti replay.
	resp, doc2 := postJWT(ts.client(), "app", tok, "")
	if r := deniedReason(t, resp.StatusCode, doc2); r != auth.ReasonReplayed {
		t.Fatalf("replayed jti: reason %q", r)
	}

	// return_to to another host lands on /tickets.
	for _, evil := range []string{"https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		resp, _ = postJWT(ts.client(), "app", jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims("jay@example.com")), evil)
		if resp.Header.Get("Location") != "/tickets" {
			t.Fatalf("return_to %q: redirected to %q", evil, resp.Header.Get("Location"))
		}
	}

	p, _ := ts.Handlers.SSO.Get("app")
	rp, _ := ts.Handlers.SSO.Get("rsapp")
	complete := func(p auth.Provider, token string) *auth.Refusal {
		_, err := p.Complete(context.Background(), auth.CompleteRequest{Form: url.Values{"jwt": {token}}})
		r := auth.AsRefusal(err)
		if r == nil {
			t.Fatalf("token accepted: %v", err)
		}
		return r
	}
	noneTok := jwtToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, freshClaims("x@example.com"))
	expired := freshClaims("x@example.com")
	expired["iat"], expired["exp"] = time.Now().Add(-10*time.Minute).Unix(), time.Now().Add(-8*time.Minute).Unix()
	long := freshClaims("x@example.com")
	long["exp"] = time.Now().Add(30 * time.Minute).Unix()
	noJTI := freshClaims("x@example.com")
	delete(noJTI, "jti")
	noExp := freshClaims("x@example.com")
	delete(noExp, "exp")
	cases := []struct {
		name   string
		p      auth.Provider
		token  string
		detail string
	}{
		{"alg none", p, noneTok, "signing method none is invalid"},
		{"HS/RS confusion", rp, jwtToken(t, jwt.SigningMethodHS256, []byte(pubPEM), freshClaims("x@example.com")), "signing method HS256 is invalid"},
		{"RS token to HS app", p, jwtToken(t, jwt.SigningMethodRS256, key, freshClaims("x@example.com")), "signing method RS256 is invalid"},
		{"wrong secret", p, jwtToken(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), freshClaims("x@example.com")), "signature is invalid"},
		{"expired", p, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), expired), "token is expired"},
		{"lifetime over 5 min", p, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), long), "at most 5m0s is allowed"},
		{"no jti", p, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), noJTI), "claim jti is required"},
		{"no exp", p, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), noExp), "exp claim is required"},
		{"huge token", p, strings.Repeat(".", 1<<20), "larger than"},
	}
	for _, tc := range cases {
		r := complete(tc.p, tc.token)
		if r.Reason != auth.ReasonInvalid || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%s: refusal %q %q, want detail containing %q", tc.name, r.Reason, r.Detail, tc.detail)
		}
	}
	// RS256 with the right key works.
	resp, _ = postJWT(ts.client(), "rsapp", jwtToken(t, jwt.SigningMethodRS256, key, freshClaims("rosa@example.com")), "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		t.Fatalf("RS256 sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_ = err
}

func mustPKIX(t *testing.T, k any) []byte {
	b, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSSOAudienceGroupsAndUnverifiedLinking(t *testing.T) {
	ts := newSSOServer(t)
	ctx := context.Background()
	vip, err := ts.Store.GroupCreate(ctx, "VIP")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.GroupCreate(ctx, "Partners"); err != nil {
		t.Fatal(err)
	}
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, Audience: store.AudienceGroups, Groups: []string{"VIP", "Partners"},
		Settings: map[string]string{"alg": "HS256"}}, map[string]string{"jwt_secret": jwtSecret})
	tok := func(email string, groups ...string) string {
		cl := freshClaims(email)
		if len(groups) > 0 {
			cl["groups"] = groups
		}
		return jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), cl)
	}
	// Outside the chosen groups: refused, and no session.
	c := ts.client()
	resp, doc := postJWT(c, "app", tok("out@example.com"), "")
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonNotInGroups {
		t.Fatalf("outside groups: %q", r)
	}
	if resp, _ := c.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("refused user reached /tickets: %d", resp.StatusCode)
	}
	// A member of VIP gets in; an IdP group named like an access group maps onto it.
	storetest.MustContact(t, ts.Pool, "vip@example.com", "Vip", 0, "")
	if _, err := ts.Store.GroupAddMembers(ctx, vip.ID, []string{"vip@example.com"}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := postJWT(ts.client(), "app", tok("vip@example.com"), ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("VIP member refused: %d", resp.StatusCode)
	}
	if resp, _ := postJWT(ts.client(), "app", tok("partner@example.com", "partners"), ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("IdP group Partners refused: %d", resp.StatusCode)
	}
	var n int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM access_group_members m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'partner@example.com'`).Scan(&n)
	if n != 1 {
		t.Fatalf("IdP group not mapped to the access group: %d", n)
	}
	// Unverified email never links an existing contact (store decision, also used by OIDC).
	row, _ := ts.Store.IdentityProviderBySlug(ctx, "app")
	row.Audience = store.AudienceAll
	_, err = ts.Store.SSOSignIn(ctx, row, auth.Identity{Subject: "attacker", Email: "vip@example.com", EmailVerified: false, Name: "X"})
	if r, ok := err.(*store.SSORefusal); !ok || r.Reason != auth.ReasonUnverified {
		t.Fatalf("unverified linking: %v", err)
	}
}

// ---- SAML ----

func samlProvider(ts *testServer, idp *samlIdP, slug string, settings map[string]string) store.IdentityProvider {
	if settings == nil {
		settings = map[string]string{}
	}
	settings["idp_metadata_xml"] = idp.metadataXML()
	row := ts.mustProvider(store.IdentityProvider{Slug: slug, Kind: store.KindSAML, Settings: settings}, nil)
	idp.trust(ts, slug)
	return row
}

func TestSSOSAMLSignIn(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	samlProvider(ts, idp, "corp", nil)

	browser := ts.client()
	form := idp.login(browser, "corp", "/tickets?view=org")
	if form.Action != ssoBase+"/sso/corp/acs" {
		t.Fatalf("IdP posts to %q", form.Action)
	}
	// The ACS POST arrives cross-site with the SSO flow cookie (SameSite=None) but without the
	// session cookie (SameSite=Lax).
	acs := crossSite(browser)
	resp, doc := postACS(acs, "corp", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?view=org" {
		t.Fatalf("ACS: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), doc.Text())
	}
	if resp, _ := acs.get("/tickets", false); resp.StatusCode != 200 {
		t.Fatalf("after SAML sign-in /tickets: %d", resp.StatusCode)
	}
	var sub string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT i.subject FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE c.email = 'alice@example.com'`).Scan(&sub); err != nil || sub != "alice-001" {
		t.Fatalf("identity link: %q %v", sub, err)
	}
	// Posting the same response again: its request id is used up.
	resp, doc = postACS(ts.client(), "corp", form)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
		t.Fatalf("replayed SP-initiated response: %q", r)
	}
}

func decodeResp(t *testing.T, f samlForm) *etree.Document {
	b, err := base64.StdEncoding.DecodeString(f.SAMLResponse)
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return d
}

func encodeResp(t *testing.T, d *etree.Document, f samlForm) samlForm {
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	f.SAMLResponse = base64.StdEncoding.EncodeToString(b)
	return f
}

// acsRefusal posts f and returns the page's reason and the exact detail the provider logs
// (re-run on a fresh flow is impossible, so the detail comes from Complete on a copy first).
func TestSSOSAMLRefusals(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	samlProvider(ts, idp, "corp", nil)
	samlProvider(ts, idp, "open", map[string]string{"allow_idp_initiated": "true"})
	idp.trustPlain(ts, "corp")
	idp.trustPlain(ts, "open")
	ctx := context.Background()
	b := ts.client() // the browser that starts the SP-initiated flows (its SSO flow cookie)

	complete := func(slug string, f samlForm) *auth.Refusal {
		t.Helper()
		p, _ := ts.Handlers.SSO.Get(slug)
		form := url.Values{"SAMLResponse": {f.SAMLResponse}}
		if f.RelayState != "" {
			form.Set("RelayState", f.RelayState)
		}
		_, err := p.Complete(ctx, auth.CompleteRequest{Form: form, Browser: flowCookie(b)})
		r := auth.AsRefusal(err)
		if r == nil {
			t.Fatalf("response accepted (%v)", err)
		}
		return r
	}
	check := func(name string, r *auth.Refusal, reason auth.Reason, detail string) {
		t.Helper()
		if r.Reason != reason || !strings.Contains(r.Detail, detail) {
			t.Errorf("%s: refusal %q %q; want %q containing %q", name, r.Reason, r.Detail, reason, detail)
		}
	}

	// Tampered: the signed email changed after signing.
	f := idp.login(b, "corp", "")
	d := decodeResp(t, f)
	for _, el := range d.FindElements("//AttributeValue") {
		if el.Text() == "alice@example.com" {
			el.SetText("ceo@example.com")
		}
	}
	check("tampered", complete("corp", encodeResp(t, d, f)), auth.ReasonInvalid, "signature")

	// Unsigned: every Signature removed.
	f = idp.login(b, "corp", "")
	d = decodeResp(t, f)
	for _, el := range d.FindElements("//Signature") {
		el.Parent().RemoveChild(el)
	}
	check("unsigned", complete("corp", encodeResp(t, d, f)), auth.ReasonInvalid, "signature")

	// InResponseTo of a request we no longer know (expired or from elsewhere).
	f = idp.login(b, "corp", "")
	iter := ts.Redis.Scan(ctx, 0, ts.prefix+"sso:saml:*", 100).Iterator()
	for iter.Next(ctx) {
		ts.Redis.Del(ctx, iter.Val())
	}
	check("InResponseTo mismatch", complete("corp", f), auth.ReasonExpiredFlow, "does not match a pending request")

	// IdP-initiated while disabled.
	md := idp.trustPlain(ts, "corp")
	check("IdP-initiated disabled", complete("corp", idp.unsolicited(md.EntityID, "/tickets")), auth.ReasonIdPInitiated, "IdP-initiated sign-in is disabled")

	// IdP-initiated where enabled: works after "Continue as …?", RelayState only as a local
	// path; replay refused.
	omd := idp.trustPlain(ts, "open")
	for relay, want := range map[string]string{"/tickets?status=closed": "/tickets?status=closed", "https://evil.example/": "/tickets",
		"//evil.example": "/tickets", "/\\evil.example": "/tickets", "javascript:alert(1)": "/tickets"} {
		f := idp.unsolicited(omd.EntityID, relay)
		c := ts.client()
		resp, doc := postACS(c, "open", f)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("IdP-initiated, RelayState %q: %d %s", relay, resp.StatusCode, doc.Find("#sso-reason").Text())
		}
		resp, doc = continueAs(t, c, doc)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Fatalf("RelayState %q: %d %q %s", relay, resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
		}
		if relay == "/tickets?status=closed" {
			resp, doc = postACS(ts.client(), "open", f)
			if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonReplayed {
				t.Fatalf("replayed assertion: %q", r)
			}
		}
	}

	// Wrong audience: a correctly signed response for another SP entity id, with our ACS.
	other := *omd
	other.EntityID = "https://other.example/sp"
	idp.TrustSP(&other)
	check("wrong audience", complete("open", idp.unsolicited(other.EntityID, "")), auth.ReasonInvalid, "AudienceRestriction does not contain")

	// Expired: issued by an IdP whose clock is 10 minutes behind.
	idp.idp.Clock = dsig.NewFakeClockAt(time.Now().Add(-10 * time.Minute))
	check("expired", complete("open", idp.unsolicited(omd.EntityID, "")), auth.ReasonInvalid, "expired")
	idp.idp.Clock = nil

	// Garbage never panics.
	check("not base64", complete("corp", samlForm{SAMLResponse: "%%%"}), auth.ReasonInvalid, "base64")
	check("truncated", complete("open", samlForm{SAMLResponse: base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><ds:Signature`))}), auth.ReasonInvalid, "")
}

func TestSSOSAMLMetadataAndBrokenProvider(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	samlProvider(ts, idp, "corp", nil)
	// A provider whose IdP is down: its button fails alone; password sign-in still works.
	ts.mustProvider(store.IdentityProvider{Slug: "down", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "x",
		"discovery_url": "http://127.0.0.1:1/.well-known/openid-configuration"}}, map[string]string{"client_secret": "y"})
	storetest.MustContact(t, ts.Pool, "pw@example.com", "Pw", 0, "a long enough password 1")
	c := ts.client()
	resp, doc := c.get("/sso/down/start", false)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonUnavailable {
		t.Fatalf("broken provider: %q", r)
	}
	c.signIn("pw@example.com", "a long enough password 1")
	resp = ts.client().do(httptest.NewRequest(http.MethodGet, "/sso/corp/metadata", nil))
	body := readAll(t, resp)
	if !strings.Contains(body, `entityID="`+ssoBase+`/sso/corp/metadata"`) || !strings.Contains(body, ssoBase+"/sso/corp/acs") || !strings.Contains(body, "X509Certificate") {
		t.Fatalf("SP metadata: %.600s", body)
	}
	// Unknown and disabled providers are refused at start.
	resp, doc = ts.client().get("/sso/nope/start", false)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonUnavailable {
		t.Fatalf("unknown provider: %q", r)
	}
}

// ---- OIDC ----

func TestSSOOIDCSignInEachKind(t *testing.T) {
	ts := newSSOServer(t)
	slugs := []string{"generic", "okta", "google", "microsoft"}
	op := newOIDCOP(t, "portico", "op-secret", slugs...)
	disc := op.srv.URL + "/.well-known/openid-configuration"
	ts.mustProvider(store.IdentityProvider{Slug: "generic", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "portico", "discovery_url": disc}}, map[string]string{"client_secret": "op-secret"})
	ts.mustProvider(store.IdentityProvider{Slug: "okta", Kind: store.KindOkta, Settings: map[string]string{"client_id": "portico", "org_url": op.srv.URL}}, map[string]string{"client_secret": "op-secret"})
	ts.mustProvider(store.IdentityProvider{Slug: "google", Kind: store.KindGoogle, Settings: map[string]string{"client_id": "portico", "discovery_url": disc}}, map[string]string{"client_secret": "op-secret"})
	ts.mustProvider(store.IdentityProvider{Slug: "microsoft", Kind: store.KindMicrosoft, Settings: map[string]string{"client_id": "portico", "tenant": "t1", "discovery_url": disc}}, map[string]string{"client_secret": "op-secret"})

	for _, slug := range slugs {
		c := ts.client()
		resp, _ := c.get("/sso/"+slug+"/start?return_to=/tickets?view=mine", false)
		loc := resp.Header.Get("Location")
		u, _ := url.Parse(loc)
		q := u.Query()
		if q.Get("state") == "" || q.Get("nonce") == "" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			t.Fatalf("%s: authorization URL lacks state/nonce/PKCE: %s", slug, loc)
		}
		cb := op.login(loc, "bob")
		resp, doc := c.get(cb, false)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?view=mine" {
			t.Fatalf("%s callback: %d %q %s", slug, resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
		}
		if resp, _ := c.get("/tickets", false); resp.StatusCode != 200 {
			t.Fatalf("%s: /tickets after sign-in: %d", slug, resp.StatusCode)
		}
		// The callback replayed (same code and state): the state is spent.
		resp, doc = ts.client().get(cb, false)
		if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
			t.Fatalf("%s replayed callback: %q", slug, r)
		}
	}
	// One contact, four identities (keyed per provider).
	var n int
	_ = ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE c.email = 'bob@example.com'`).Scan(&n)
	if n != 4 {
		t.Fatalf("identities of bob: %d", n)
	}

	// Login CSRF: a callback started in one browser and completed in another is refused.
	attacker := ts.client()
	resp, _ := attacker.get("/sso/generic/start", false)
	cb := op.login(resp.Header.Get("Location"), "bob")
	victim := ts.client()
	victim.get("/login", false)
	resp, doc := victim.get(cb, false)
	if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
		t.Fatalf("callback in another browser: %q", r)
	}

	// Unverified email never links an existing contact: it must be confirmed by mail first
	// (TestSSOUnverifiedEmailNeedsConfirmation follows the link).
	storetest.MustContact(t, ts.Pool, "victim@example.com", "Victim", 0, "")
	c := ts.client()
	resp, _ = c.get("/sso/generic/start", false)
	resp, doc = c.get(op.login(resp.Header.Get("Location"), "mallory"), false)
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("unverified email linking: %d %q", resp.StatusCode, deniedReason(t, resp.StatusCode, doc))
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE c.email = 'victim@example.com'`); n != 0 {
		t.Fatal("unverified email linked the existing contact")
	}
}

// TestSSOOIDCBindingHTMXStart checks the login CSRF defence when the flow starts from an htmx
// request (which the session middleware gives no session): the start opens one, so the flow is
// bound to this browser, and its callback completed in another browser is refused.
func TestSSOOIDCBindingHTMXStart(t *testing.T) {
	ts := newSSOServer(t)
	op := newOIDCOP(t, "portico", "op-secret", "generic")
	disc := op.srv.URL + "/.well-known/openid-configuration"
	ts.mustProvider(store.IdentityProvider{Slug: "generic", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "portico", "discovery_url": disc}}, map[string]string{"client_secret": "op-secret"})

	// Attacker: a fresh browser starts with htmx and completes the IdP login as bob; the victim,
	// another browser (with or without a session of its own), follows the callback link.
	for _, victimHasSession := range []bool{false, true} {
		attacker := ts.client()
		resp, _ := attacker.get("/sso/generic/start", true)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("htmx start: %d", resp.StatusCode)
		}
		if len(attacker.cookies) == 0 {
			t.Fatal("htmx start set no session cookie: the flow has no binding")
		}
		cb := op.login(resp.Header.Get("Location"), "bob")
		victim := ts.client()
		if victimHasSession {
			victim.get("/login", false)
		}
		resp, doc := victim.get(cb, false)
		if r := deniedReason(t, resp.StatusCode, doc); r != auth.ReasonExpiredFlow {
			t.Fatalf("htmx-started callback in another browser (victim session %v): %d %q", victimHasSession, resp.StatusCode, r)
		}
	}

	// The same browser completes an htmx-started flow.
	c := ts.client()
	resp, _ := c.get("/sso/generic/start?return_to=/tickets", true)
	resp, doc := c.get(op.login(resp.Header.Get("Location"), "bob"), false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		t.Fatalf("htmx-started callback in the same browser: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), doc.Find("#sso-reason").Text())
	}
}

// TestSSOOrganizationClaimTrust: a new SSO contact joins the existing company named by the
// organization claim only when the provider trusts the claim; otherwise it has no company and
// does not see that company's tickets.
func TestSSOOrganizationClaimTrust(t *testing.T) {
	ts := newSSOServer(t)
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "ticket_permissions", "company"); err != nil {
		t.Fatal(err)
	}
	acme := storetest.MustCompany(t, ts.Pool, "Acme Corp")
	ts.mustProvider(store.IdentityProvider{Slug: "open", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256"}}, map[string]string{"jwt_secret": jwtSecret})
	ts.mustProvider(store.IdentityProvider{Slug: "trusted", Kind: store.KindJWT, TrustOrganization: true, Settings: map[string]string{"alg": "HS256"}}, map[string]string{"jwt_secret": jwtSecret})
	companyOf := func(email string) int64 {
		t.Helper()
		var cid *int64
		if err := ts.Pool.QueryRow(ctx, `SELECT company_id FROM contacts WHERE email = $1`, email).Scan(&cid); err != nil {
			t.Fatal(err)
		}
		if cid == nil {
			return 0
		}
		return *cid
	}
	for _, tc := range []struct {
		slug, email string
		want        int64
	}{{"open", "eve@example.com", 0}, {"trusted", "ann@example.com", acme}} {
		claims := freshClaims(tc.email)
		claims["organization"] = "acme corp"
		resp, _ := postJWT(ts.client(), tc.slug, jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), claims), "")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s sign-in: %d", tc.slug, resp.StatusCode)
		}
		if got := companyOf(tc.email); got != tc.want {
			t.Errorf("%s: new contact's company = %d, want %d", tc.slug, got, tc.want)
		}
	}
	var n int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM companies WHERE lower(name) = 'acme corp'`).Scan(&n)
	if n != 1 {
		t.Errorf("companies named Acme Corp: %d", n)
	}
}

// TestSSOOnlyContactHasNoPasswordForm: a contact who signs in only by SSO (no password) gets no
// change-password form, and a posted one answers 422 with the message beside the field.
func TestSSOOnlyContactHasNoPasswordForm(t *testing.T) {
	ts := newSSOServer(t)
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256"}}, map[string]string{"jwt_secret": jwtSecret})
	c := ts.client()
	c.get("/login", false)
	pre := c.cookies["portico_session"]
	resp, _ := postJWT(c, "app", jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims("sso-only@example.com")), "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("jwt sign-in: %d", resp.StatusCode)
	}
	// Session rotation at SSO sign-in: a new id, and the pre-sign-in one is gone.
	if post := c.cookies["portico_session"]; pre == "" || post == "" || post == pre {
		t.Errorf("SSO sign-in did not rotate the session id (before %q, after %q)", pre, post)
	}
	if n, _ := ts.Redis.Exists(context.Background(), ts.prefix+"s:"+pre).Result(); n != 0 {
		t.Error("the pre-sign-in session survives the SSO sign-in")
	}
	resp, doc := c.get("/account", false)
	if resp.StatusCode != http.StatusOK || doc.Find("#password-form").Length() != 0 || doc.Find("#password-none").Length() != 1 {
		t.Fatalf("account page: %d form=%d note=%d", resp.StatusCode, doc.Find("#password-form").Length(), doc.Find("#password-none").Length())
	}
	resp, doc = c.post("/account/password", url.Values{"current_password": {"x"}, "new_password": {"a much longer new password"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("password change as SSO-only contact: %d, want 422", resp.StatusCode)
	}
	if got := texts(doc, "#current_password-error"); len(got) != 1 || !strings.Contains(got[0], "single sign-on") {
		t.Errorf("message beside the field: %q", got)
	}
}
