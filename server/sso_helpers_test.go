package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/crewjam/saml"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"

	"portico/auth/providers"
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
	if row.Name == "" {
		row.Name = strings.ToUpper(row.Slug)
	}
	if err := providers.Apply(&row, secrets, ts.Handlers.SSODeps.Sealer, true); err != nil {
		ts.t.Fatalf("provider %s: %v", row.Slug, err)
	}
	row, err := ts.Store.IdentityProviderCreate(context.Background(), row)
	if err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.Handlers.ProvidersChanged(context.Background()); err != nil {
		ts.t.Fatal(err)
	}
	return row
}

// noRedirectClient follows redirects except to the portal (those come back to the test).
func noRedirectClient() *http.Client {
	jar := newJar()
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), ssoBase) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

type jar struct {
	mu sync.Mutex
	m  map[string][]*http.Cookie
}

func newJar() *jar { return &jar{m: map[string][]*http.Cookie{}} }
func (j *jar) SetCookies(u *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m[u.Host] = append(j.m[u.Host], cs...)
}
func (j *jar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.m[u.Host]
}

// portalPath turns a redirect to the portal into a path for app.Test.
func portalPath(t *testing.T, loc string) string {
	t.Helper()
	if !strings.HasPrefix(loc, ssoBase+"/") {
		t.Fatalf("expected a redirect to the portal, got %q", loc)
	}
	return strings.TrimPrefix(loc, ssoBase)
}

// ---- SAML: crewjam's IdentityProvider signing real assertions ----

type samlIdP struct {
	t      *testing.T
	idp    *saml.IdentityProvider
	srv    *httptest.Server
	mu     sync.Mutex
	user   saml.Session
	spMeta map[string]*saml.EntityDescriptor // by entity id
}

func (s *samlIdP) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user
	u.ID = storetest.RandHex(8)
	u.CreateTime = time.Now()
	u.ExpireTime = time.Now().Add(time.Hour)
	u.Index = storetest.RandHex(8)
	return &u
}

func (s *samlIdP) GetServiceProvider(r *http.Request, id string) (*saml.EntityDescriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if md, ok := s.spMeta[id]; ok {
		return md, nil
	}
	return nil, os.ErrNotExist
}

func selfSigned(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// newSAMLIdP starts a crewjam IdP on 127.0.0.1 whose user is alice@example.com.
func newSAMLIdP(t *testing.T) *samlIdP {
	s := &samlIdP{t: t, spMeta: map[string]*saml.EntityDescriptor{},
		user: saml.Session{NameID: "alice-001", UserEmail: "alice@example.com", UserCommonName: "Alice Example",
			UserGivenName: "Alice", UserSurname: "Example", Groups: []string{"Partners"}}}
	key, cert := selfSigned(t, "test-idp")
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/idp-init" {
			s.idp.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), r.URL.Query().Get("relay"))
			return
		}
		s.idp.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	mdURL, _ := url.Parse(s.srv.URL + "/metadata")
	ssoURL, _ := url.Parse(s.srv.URL + "/sso")
	s.idp = &saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *mdURL, SSOURL: *ssoURL,
		SessionProvider: s, ServiceProviderProvider: s}
	return s
}

// metadataXML is the IdP's metadata, to paste into the provider.
func (s *samlIdP) metadataXML() string {
	b, err := xml.Marshal(s.idp.Metadata())
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// trust loads the SP metadata of provider slug from the portal into the IdP.
func (s *samlIdP) trust(ts *testServer, slug string) *saml.EntityDescriptor {
	s.t.Helper()
	resp := ts.client().do(httptest.NewRequest(http.MethodGet, "/sso/"+slug+"/metadata", nil))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("SP metadata: %d %s", resp.StatusCode, b)
	}
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(b, &md); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.spMeta[md.EntityID] = &md
	s.mu.Unlock()
	return &md
}

// trustPlain is trust without the SP's encryption key: the IdP then sends plaintext (signed)
// assertions, which the tampering tests edit.
func (s *samlIdP) trustPlain(ts *testServer, slug string) *saml.EntityDescriptor {
	md := s.trust(ts, slug)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range md.SPSSODescriptors {
		var keep []saml.KeyDescriptor
		for _, kd := range md.SPSSODescriptors[i].KeyDescriptors {
			if kd.Use != "encryption" {
				keep = append(keep, kd)
			}
		}
		md.SPSSODescriptors[i].KeyDescriptors = keep
	}
	return md
}

// samlForm is the IdP's auto-submitted response form.
type samlForm struct {
	Action, SAMLResponse, RelayState string
}

func parseSAMLForm(t *testing.T, resp *http.Response) samlForm {
	t.Helper()
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var f samlForm
	f.Action, _ = doc.Find("form").Attr("action")
	f.SAMLResponse, _ = doc.Find(`input[name=SAMLResponse]`).Attr("value")
	f.RelayState, _ = doc.Find(`input[name=RelayState]`).Attr("value")
	if f.SAMLResponse == "" {
		html, _ := doc.Html()
		t.Fatalf("no SAMLResponse in the IdP's answer (status %d): %.500s", resp.StatusCode, html)
	}
	return f
}

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
	r, err := noRedirectClient().Get(resp.Header.Get("Location"))
	if err != nil {
		s.t.Fatal(err)
	}
	return parseSAMLForm(s.t, r)
}

// unsolicited returns an IdP-initiated response for the SP entity id with relayState.
func (s *samlIdP) unsolicited(entityID, relayState string) samlForm {
	s.t.Helper()
	r, err := noRedirectClient().Get(s.srv.URL + "/idp-init?sp=" + url.QueryEscape(entityID) + "&relay=" + url.QueryEscape(relayState))
	if err != nil {
		s.t.Fatal(err)
	}
	return parseSAMLForm(s.t, r)
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

// ---- OIDC: a real OpenID Provider (zitadel/oidc op, its example storage) ----

type oidcUsers struct{ users map[string]*storage.User }

func (u oidcUsers) GetUserByID(id string) *storage.User { return u.users[id] }
func (u oidcUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u.users {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (oidcUsers) ExampleClientID() string { return "service" }

type oidcOP struct {
	t   *testing.T
	srv *httptest.Server
}

// newOIDCOP starts an OpenID Provider with client (id, secret) redirecting to each slug's
// callback, and users bob (verified email) and mallory (unverified email).
func newOIDCOP(t *testing.T, clientID, secret string, slugs ...string) *oidcOP {
	users := oidcUsers{users: map[string]*storage.User{
		"u-bob": {ID: "u-bob", Username: "bob", Password: "pw", FirstName: "Bob", LastName: "Builder", Email: "bob@example.com",
			EmailVerified: true, PreferredLanguage: language.English},
		"u-mallory": {ID: "u-mallory", Username: "mallory", Password: "pw", FirstName: "Mal", LastName: "Lory", Email: "victim@example.com",
			EmailVerified: false, PreferredLanguage: language.English},
	}}
	var redirects []string
	for _, s := range slugs {
		redirects = append(redirects, ssoBase+"/sso/"+s+"/callback")
	}
	st := storage.NewStorageWithClients(users, map[string]*storage.Client{clientID: storage.WebClient(clientID, secret, redirects...)})
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	h = exampleop.SetupServer(srv.URL, st, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	return &oidcOP{t: t, srv: srv}
}

// login drives the OP's login form as user and returns the portal callback path.
func (o *oidcOP) login(authURL, user string) string {
	o.t.Helper()
	hc := noRedirectClient()
	resp, err := hc.Get(authURL)
	if err != nil {
		o.t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		o.t.Fatal(err)
	}
	id, _ := doc.Find(`input[name=id]`).Attr("value")
	if id == "" {
		html, _ := doc.Html()
		o.t.Fatalf("OP login form not found (status %d, url %s): %.400s", resp.StatusCode, resp.Request.URL, html)
	}
	action := resp.Request.URL.String()
	resp, err = hc.PostForm(action, url.Values{"id": {id}, "username": {user}, "password": {"pw"}})
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 {
		o.t.Fatalf("OP login: status %d", resp.StatusCode)
	}
	return portalPath(o.t, loc)
}

var _ = bytes.NewReader
