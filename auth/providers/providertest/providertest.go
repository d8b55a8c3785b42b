// Package providertest runs real identity providers in the test process: crewjam's SAML
// IdentityProvider signing real assertions, and a zitadel/oidc OpenID Provider serving
// discovery, JWKS, a login form and tokens. It is test support only: import it from _test.go
// files (server and e2e tests share it), never from the binary.
package providertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/xml"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/crewjam/saml"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// SelfSigned returns an RSA-2048 key and a self-signed certificate (valid for a year) for cn.
func SelfSigned(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NoRedirectClient follows redirects (with a cookie jar) except those to a URL starting with
// stopAt (the portal): that response comes back to the caller.
func NoRedirectClient(stopAt string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if stopAt != "" && strings.HasPrefix(req.URL.String(), stopAt) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// ---- SAML ----

// SAMLIdP is crewjam's IdentityProvider on an httptest server. It signs in every request as
// its current user (no login form: it answers with the auto-submitting response form).
type SAMLIdP struct {
	// IdP is the crewjam identity provider (tests may set its Clock).
	IdP *saml.IdentityProvider
	// Server serves the IdP: /metadata, /sso (SP-initiated) and /idp-init?sp=&relay=.
	Server *httptest.Server
	// MetadataFetches counts the requests for /metadata.
	MetadataFetches atomic.Int64

	t    testing.TB
	mu   sync.Mutex
	user saml.Session
	sps  map[string]*saml.EntityDescriptor // trusted SPs by entity id
}

// DefaultSAMLUser is the IdP's user unless SetUser changes it.
var DefaultSAMLUser = saml.Session{NameID: "alice-001", UserEmail: "alice@example.com", UserCommonName: "Alice Example",
	UserGivenName: "Alice", UserSurname: "Example", Groups: []string{"Partners"}}

// NewSAMLIdP starts an IdP on 127.0.0.1 whose user is DefaultSAMLUser.
func NewSAMLIdP(t testing.TB) *SAMLIdP { return NewSAMLIdPOn(t, "127.0.0.1") }

// NewSAMLIdPOn is NewSAMLIdP with the IdP's URLs naming host instead of 127.0.0.1 (it still
// listens on 127.0.0.1): "localhost" makes the IdP another site than a portal on 127.0.0.1,
// so that a browser's POST to the ACS is a real cross-site request.
func NewSAMLIdPOn(t testing.TB, host string) *SAMLIdP {
	t.Helper()
	s := &SAMLIdP{t: t, sps: map[string]*saml.EntityDescriptor{}, user: DefaultSAMLUser}
	key, cert := SelfSigned(t, "test-idp")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metadata" {
			s.MetadataFetches.Add(1)
		}
		if r.URL.Path == "/idp-init" {
			s.IdP.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), r.URL.Query().Get("relay"))
			return
		}
		s.IdP.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(s.Server.Close)
	base := strings.Replace(s.Server.URL, "127.0.0.1", host, 1)
	mdURL, _ := url.Parse(base + "/metadata")
	ssoURL, _ := url.Parse(base + "/sso")
	s.IdP = &saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *mdURL, SSOURL: *ssoURL,
		SessionProvider: s, ServiceProviderProvider: s}
	return s
}

// RollKey gives the IdP a new signing key and certificate (as after an IdP key rollover):
// its metadata and its responses use them from now on.
func (s *SAMLIdP) RollKey() {
	key, cert := SelfSigned(s.t, "test-idp-rolled")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.IdP.Key, s.IdP.Certificate = key, cert
}

// SetUser changes the user the IdP signs in (ID, times and index are filled per response).
func (s *SAMLIdP) SetUser(u saml.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

// GetSession implements saml.SessionProvider: every request is the current user, at once.
func (s *SAMLIdP) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user
	u.ID = randHex(8)
	u.CreateTime = time.Now()
	u.ExpireTime = time.Now().Add(time.Hour)
	u.Index = randHex(8)
	return &u
}

// GetServiceProvider implements saml.ServiceProviderProvider over the trusted SPs.
func (s *SAMLIdP) GetServiceProvider(r *http.Request, id string) (*saml.EntityDescriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if md, ok := s.sps[id]; ok {
		return md, nil
	}
	return nil, os.ErrNotExist
}

// MetadataXML is the IdP's metadata, to paste into a provider.
func (s *SAMLIdP) MetadataXML() string {
	b, err := xml.Marshal(s.IdP.Metadata())
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// TrustSP adds (or replaces) an SP by its metadata.
func (s *SAMLIdP) TrustSP(md *saml.EntityDescriptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sps[md.EntityID] = md
}

// TrustSPMetadataURL fetches an SP's metadata (e.g. the portal's /sso/{slug}/metadata) and
// trusts it.
func (s *SAMLIdP) TrustSPMetadataURL(metadataURL string) *saml.EntityDescriptor {
	s.t.Helper()
	resp, err := http.Get(metadataURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("SP metadata %s: %d %s", metadataURL, resp.StatusCode, b)
	}
	return s.TrustSPMetadataXML(b)
}

// TrustSPMetadataXML parses an SP's metadata and trusts it.
func (s *SAMLIdP) TrustSPMetadataXML(b []byte) *saml.EntityDescriptor {
	s.t.Helper()
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(b, &md); err != nil {
		s.t.Fatal(err)
	}
	s.TrustSP(&md)
	return &md
}

// WithoutEncryption drops the encryption keys of the trusted SP entityID: the IdP then sends
// plaintext (signed) assertions, which tampering tests can edit.
func (s *SAMLIdP) WithoutEncryption(entityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	md := s.sps[entityID]
	if md == nil {
		s.t.Fatalf("SP %s is not trusted", entityID)
	}
	for i := range md.SPSSODescriptors {
		var keep []saml.KeyDescriptor
		for _, kd := range md.SPSSODescriptors[i].KeyDescriptors {
			if kd.Use != "encryption" {
				keep = append(keep, kd)
			}
		}
		md.SPSSODescriptors[i].KeyDescriptors = keep
	}
}

// SAMLForm is the IdP's auto-submitted response form.
type SAMLForm struct {
	Action, SAMLResponse, RelayState string
}

// ParseSAMLForm reads the response form from the IdP's answer (and closes its body).
func ParseSAMLForm(t testing.TB, resp *http.Response) SAMLForm {
	t.Helper()
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var f SAMLForm
	f.Action, _ = doc.Find("form").Attr("action")
	f.SAMLResponse, _ = doc.Find(`input[name=SAMLResponse]`).Attr("value")
	f.RelayState, _ = doc.Find(`input[name=RelayState]`).Attr("value")
	if f.SAMLResponse == "" {
		html, _ := doc.Html()
		t.Fatalf("no SAMLResponse in the IdP's answer (status %d): %.500s", resp.StatusCode, html)
	}
	return f
}

// Respond follows an SP-initiated redirect (the AuthnRequest URL the portal sent the browser
// to) and returns the IdP's signed response form.
func (s *SAMLIdP) Respond(authnRequestURL string) SAMLForm {
	s.t.Helper()
	r, err := NoRedirectClient("").Get(s.local(authnRequestURL))
	if err != nil {
		s.t.Fatal(err)
	}
	return ParseSAMLForm(s.t, r)
}

// Unsolicited returns an IdP-initiated response for the SP entityID with relayState.
func (s *SAMLIdP) Unsolicited(entityID, relayState string) SAMLForm {
	s.t.Helper()
	r, err := NoRedirectClient("").Get(s.Server.URL + "/idp-init?sp=" + url.QueryEscape(entityID) + "&relay=" + url.QueryEscape(relayState))
	if err != nil {
		s.t.Fatal(err)
	}
	return ParseSAMLForm(s.t, r)
}

// local rewrites a URL of the IdP's public host to the address it listens on.
func (s *SAMLIdP) local(u string) string {
	pub := s.IdP.SSOURL
	if strings.HasPrefix(u, pub.Scheme+"://"+pub.Host) {
		return s.Server.URL + strings.TrimPrefix(u, pub.Scheme+"://"+pub.Host)
	}
	return u
}

// ---- OpenID Connect ----

// OIDCPassword is every OIDCUser's password on the OP's login form.
const OIDCPassword = "pw"

// OIDCUser is a user of the OpenID Provider.
type OIDCUser struct {
	ID, Username, FirstName, LastName, Email string
	EmailVerified                            bool
	// Claims are extra claims of the user's ID token and userinfo (e.g. Entra's xms_edov).
	// email_verified is sent only when EmailVerified is true (omitted otherwise, as Entra does
	// for work accounts).
	Claims map[string]any
}

// DefaultOIDCUsers are bob (verified email bob@example.com) and mallory (unverified email
// victim@example.com).
var DefaultOIDCUsers = []OIDCUser{
	{ID: "u-bob", Username: "bob", FirstName: "Bob", LastName: "Builder", Email: "bob@example.com", EmailVerified: true},
	{ID: "u-mallory", Username: "mallory", FirstName: "Mal", LastName: "Lory", Email: "victim@example.com"},
}

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

// OIDCOP is a real OpenID Provider (zitadel/oidc's op with its example storage and login form)
// on an httptest server.
type OIDCOP struct {
	Server *httptest.Server
	t      testing.TB
}

// NewOIDCOP starts an OP with one web client (clientID, secret) allowed to redirect to
// redirectURIs; users default to DefaultOIDCUsers.
func NewOIDCOP(t testing.TB, clientID, secret string, redirectURIs []string, users ...OIDCUser) *OIDCOP {
	t.Helper()
	if len(users) == 0 {
		users = DefaultOIDCUsers
	}
	us := oidcUsers{users: map[string]*storage.User{}}
	for _, u := range users {
		us.users[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: OIDCPassword, FirstName: u.FirstName,
			LastName: u.LastName, Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
	}
	extra := map[string]map[string]any{}
	for _, u := range users {
		extra[u.ID] = u.Claims
	}
	st := claimsStorage{Storage: storage.NewStorageWithClients(us, map[string]*storage.Client{clientID: storage.WebClient(clientID, secret, redirectURIs...)}),
		extra: extra}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	h = exampleop.SetupServer(srv.URL, st, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	return &OIDCOP{Server: srv, t: t}
}

// claimsStorage is the example storage that adds each user's extra claims to the ID token and
// userinfo.
type claimsStorage struct {
	*storage.Storage
	extra map[string]map[string]any
}

func (s claimsStorage) add(userinfo *oidc.UserInfo, userID string) {
	for k, v := range s.extra[userID] {
		userinfo.AppendClaims(k, v)
	}
}

func (s claimsStorage) SetUserinfoFromScopes(ctx context.Context, userinfo *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, userinfo, userID, clientID, scopes); err != nil {
		return err
	}
	s.add(userinfo, userID)
	return nil
}

func (s claimsStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	s.add(userinfo, token.GetSubject())
	return nil
}

func (s claimsStorage) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	s.add(userinfo, subject)
	return nil
}

// URL is the OP's issuer (and Okta-style org URL).
func (o *OIDCOP) URL() string { return o.Server.URL }

// DiscoveryURL is the OP's /.well-known/openid-configuration.
func (o *OIDCOP) DiscoveryURL() string { return o.Server.URL + "/.well-known/openid-configuration" }

// Login drives the OP's login form over HTTP as username and returns the OP's redirect to the
// relying party (an absolute URL starting with portal).
func (o *OIDCOP) Login(authURL, username, portal string) string {
	o.t.Helper()
	hc := NoRedirectClient(portal)
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
	resp, err = hc.PostForm(resp.Request.URL.String(), url.Values{"id": {id}, "username": {username}, "password": {OIDCPassword}})
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 {
		o.t.Fatalf("OP login: status %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}
