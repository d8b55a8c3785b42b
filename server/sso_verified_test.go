package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"portico/auth"
	"portico/auth/providers/providertest"
	"portico/config"
	"portico/handlers"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// ssoServerOpts configures newSSOServerWith.
type ssoServerOpts struct {
	// SMTP, when set, sends mail there and starts the job workers.
	SMTP string
	// Pool and Prefix, when set, share a database and Redis prefix with another instance.
	Pool   *pgxpool.Pool
	Prefix string
}

// newSSOServerWith is newSSOServer with mail and/or a shared deployment (two instances).
func newSSOServerWith(t *testing.T, o ssoServerOpts) *testServer {
	t.Helper()
	if o.Pool == nil {
		o.Pool = storetest.NewDB(t)
	}
	if o.Prefix == "" {
		o.Prefix = "portico-test:" + storetest.RandHex(6) + ":"
	}
	rdb := newRedis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, o.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	blobs := "file://" + t.TempDir() + "?no_tmp_dir=1"
	cfg, err := config.LoadFrom(func(k string) string {
		switch k {
		case "PORTICO_BLOB_URL":
			return blobs
		case "PORTICO_SECRET_KEY":
			return strings.Repeat("ab", 32)
		case "PORTICO_LOG_LEVEL":
			return "error"
		case "PORTICO_BASE_URL":
			return ssoBase
		case "PORTICO_SMTP_URL":
			if o.SMTP != "" {
				return "smtp://" + o.SMTP + "?starttls=none"
			}
		case "PORTICO_MAIL_FROM":
			return "Portico Test <portal@example.test>"
		case "PORTICO_MAIL_RETRY_BASE":
			return "20ms"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Pool: o.Pool, Redis: rdb, RedisPrefix: o.Prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond, SSOInsecureURLs: true,
		JobPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if o.SMTP != "" {
		if err := s.StartJobs(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.StopJobs(5 * time.Second) })
	}
	return &testServer{Server: s, t: t, prefix: o.Prefix}
}

// oidcSignIn starts a sign-in at slug from c, logs in at the OP as user and follows the
// callback, returning the portal's answer.
func oidcSignIn(t *testing.T, c *client, op *oidcOP, slug, user string) (*http.Response, *goqueryDoc) {
	t.Helper()
	resp, _ := c.get("/sso/"+slug+"/start?return_to=/tickets?view=org", false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start %s: %d", slug, resp.StatusCode)
	}
	return c.get(op.login(resp.Header.Get("Location"), user), false)
}

// TestSSOUnverifiedEmailNeedsConfirmation: an OIDC identity whose email_verified is false
// (mallory claiming victim@example.com) creates and links nothing, whether or not a contact
// with that address exists; the address gets a confirmation link that signs in only in the
// browser that signed in, exactly once. Tickets of the address stay invisible until then.
func TestSSOUnverifiedEmailNeedsConfirmation(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newSSOServerWith(t, ssoServerOpts{SMTP: smtpd.addr})
	op := newOIDCOP(t, "portico", "op-secret", "generic")
	ts.mustProvider(store.IdentityProvider{Slug: "generic", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "portico",
		"discovery_url": op.DiscoveryURL()}}, map[string]string{"client_secret": "op-secret"})

	// No contact yet: the first sign-in shows "confirm your address" and creates nothing.
	browser := ts.client()
	resp, doc := oidcSignIn(t, browser, op, "generic", "mallory")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("unverified first sign-in: %d %q", resp.StatusCode, doc.Find("main").Text())
	}
	if !strings.Contains(doc.Find("#sso-confirm-email").Text(), "victim@example.com") {
		t.Fatalf("confirm page does not name the address: %q", doc.Find("#sso-confirm-email").Text())
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contacts WHERE email = 'victim@example.com'`); n != 0 {
		t.Fatalf("unverified sign-in created %d contact(s)", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities`); n != 0 {
		t.Fatalf("unverified sign-in linked %d identities", n)
	}
	if r, _ := browser.get("/tickets", false); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("unverified sign-in opened a session: /tickets %d", r.StatusCode)
	}
	m := smtpd.next()
	if m.To != "victim@example.com" || !strings.Contains(m.Subject, "Confirm your email address") {
		t.Fatalf("confirmation mail: to %q subject %q", m.To, m.Subject)
	}
	link := m.link(t, "/sso/confirm")

	// The link opened in another browser (the real owner of the address, or a scanner) shows
	// the button, but its POST links nobody and leaves the link usable where it belongs.
	other := ts.client()
	r, d := other.get(link, false)
	if r.StatusCode != http.StatusOK || d.Find("#confirm-form").Length() != 1 {
		t.Fatalf("confirm page: %d", r.StatusCode)
	}
	tok := url.Values{"token": {mustQuery(t, link, "token")}}
	r, d = other.post("/sso/confirm", tok, false)
	if reason := deniedReason(t, r.StatusCode, d); reason != auth.ReasonExpiredFlow {
		t.Fatalf("confirmation in another browser: %d %q", r.StatusCode, reason)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contacts WHERE email = 'victim@example.com'`); n != 0 {
		t.Fatal("confirmation in another browser created the contact")
	}

	// In the browser that signed in, the link creates the contact, links it and signs in.
	browser.get(link, false)
	r, _ = browser.post("/sso/confirm", url.Values{"token": tok["token"]}, false)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/tickets?view=org" {
		t.Fatalf("confirmation: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r, _ := browser.get("/tickets", false); r.StatusCode != http.StatusOK {
		t.Fatalf("after confirmation /tickets: %d", r.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contacts c JOIN contact_identities i ON i.contact_id = c.id WHERE c.email = 'victim@example.com'`); n != 1 {
		t.Fatalf("confirmed identity links: %d", n)
	}
	// Used once: again it is a dead link.
	browser2 := ts.client()
	browser2.get("/login", false)
	if r, _ := browser2.post("/sso/confirm", url.Values{"token": tok["token"]}, false); r.StatusCode != http.StatusGone {
		t.Fatalf("used link: %d", r.StatusCode)
	}
	// Signed in again later: the identity is linked, no mail.
	if r, _ := oidcSignIn(t, ts.client(), op, "generic", "mallory"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in after confirmation: %d", r.StatusCode)
	}
}

// TestSSOUnverifiedEmailExistingContact: an existing contact's tickets never show to an
// unverified sign-in claiming its address (the pre-account-takeover of issue 10).
func TestSSOUnverifiedEmailExistingContact(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newSSOServerWith(t, ssoServerOpts{SMTP: smtpd.addr})
	op := newOIDCOP(t, "portico", "op-secret", "generic")
	ts.mustProvider(store.IdentityProvider{Slug: "generic", Kind: store.KindOIDC, Settings: map[string]string{"client_id": "portico",
		"discovery_url": op.DiscoveryURL()}}, map[string]string{"client_secret": "op-secret"})
	victim := storetest.MustContact(t, ts.Pool, "victim@example.com", "Victim", 0, "")
	storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: "Victim's secret ticket", Body: "body", RequesterID: victim})

	attacker := ts.client()
	resp, doc := oidcSignIn(t, attacker, op, "generic", "mallory")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("unverified sign-in for an existing contact: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities`); n != 0 {
		t.Fatal("unverified sign-in linked the existing contact")
	}
	if r, d := attacker.get("/tickets", false); r.StatusCode == http.StatusOK || strings.Contains(d.Text(), "secret ticket") {
		t.Fatalf("the attacker sees the victim's tickets: %d", r.StatusCode)
	}
	smtpd.next() // the mail goes to the victim, whose browser is not the attacker's
}

func mustQuery(t *testing.T, requestURI, name string) string {
	t.Helper()
	u, err := url.Parse(requestURI)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(name)
}

// TestSSOAuthoritativeDomainsEntra: a Microsoft provider bound to one tenant and marked
// authoritative for example.com links an existing (imported) contact of that domain although
// the token has no email_verified (Entra work accounts); an address of another domain still
// needs the confirmation mail; a multi-tenant provider needs xms_edov: with xms_edov: true it
// links the existing contact of the authoritative domain, never one of another domain, and
// xms_edov: false refuses even the authoritative domain.
func TestSSOAuthoritativeDomainsEntra(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newSSOServerWith(t, ssoServerOpts{SMTP: smtpd.addr})
	users := []providertest.OIDCUser{
		{ID: "u-ann", Username: "ann", FirstName: "Ann", LastName: "Acme", Email: "ann@example.com"},
		{ID: "u-eve", Username: "eve", FirstName: "Eve", LastName: "Other", Email: "eve@other.test"},
		// Entra's optional claim "email domain owner verified".
		{ID: "u-ned", Username: "ned", FirstName: "Ned", LastName: "Edov", Email: "ned@example.com", Claims: map[string]any{"xms_edov": true}},
		{ID: "u-oda", Username: "oda", FirstName: "Oda", LastName: "Other", Email: "oda@other.test", Claims: map[string]any{"xms_edov": true}},
		{ID: "u-fay", Username: "fay", FirstName: "Fay", LastName: "False", Email: "fay@example.com", Claims: map[string]any{"xms_edov": false}},
	}
	op := &oidcOP{OIDCOP: providertest.NewOIDCOP(t, "portico", "op-secret", []string{ssoBase + "/sso/entra/callback", ssoBase + "/sso/entra-multi/callback"}, users...), t: t}
	op.srv = op.Server
	ts.mustProvider(store.IdentityProvider{Slug: "entra", Kind: store.KindMicrosoft, Settings: map[string]string{"client_id": "portico",
		"tenant": "0b5c1d7e-acme", "discovery_url": op.DiscoveryURL(), "authoritative_domains": "Example.com, example.org"}},
		map[string]string{"client_secret": "op-secret"})
	ts.mustProvider(store.IdentityProvider{Slug: "entra-multi", Kind: store.KindMicrosoft, Settings: map[string]string{"client_id": "portico",
		"tenant": "organizations", "discovery_url": op.DiscoveryURL(), "authoritative_domains": "example.com"}},
		map[string]string{"client_secret": "op-secret"})
	ann := storetest.MustContact(t, ts.Pool, "ann@example.com", "Ann", 0, "")
	storetest.MustContact(t, ts.Pool, "eve@other.test", "Eve", 0, "")
	ned := storetest.MustContact(t, ts.Pool, "ned@example.com", "Ned", 0, "")
	storetest.MustContact(t, ts.Pool, "oda@other.test", "Oda", 0, "")
	storetest.MustContact(t, ts.Pool, "fay@example.com", "Fay", 0, "")

	// The tokens are Entra-shaped: no email_verified at all (not even false); xms_edov as sent.
	mp, _ := ts.Handlers.SSO.Get("entra-multi")
	for user, edov := range map[string]any{"ann": nil, "ned": true, "fay": false} {
		authURL, err := mp.Begin(context.Background(), auth.BeginRequest{Binding: "b-" + user})
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(op.Login(authURL, user, ssoBase))
		res, err := mp.Complete(context.Background(), auth.CompleteRequest{Query: cb.Query(), Binding: "b-" + user})
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if v, ok := res.Identity.Claims["email_verified"]; ok {
			t.Fatalf("%s: the token carries email_verified %v; Entra work accounts send none", user, v)
		}
		if got := res.Identity.Claims["xms_edov"]; got != edov {
			t.Fatalf("%s: xms_edov %v, want %v", user, got, edov)
		}
		if want := edov == true; res.Identity.EmailVerified != want {
			t.Fatalf("%s (multi-tenant, xms_edov %v): verified %v", user, edov, res.Identity.EmailVerified)
		}
	}

	// Multi-tenant with xms_edov: true: the existing contact of the authoritative domain is
	// linked and signed in; the same claim for another domain links nothing.
	resp, doc := oidcSignIn(t, ts.client(), op, "entra-multi", "ned")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("multi-tenant Entra with xms_edov, authoritative domain: %d %q", resp.StatusCode, doc.Find("#sso-reason, main").First().Text())
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities WHERE contact_id = $1`, ned); n != 1 {
		t.Fatalf("existing contact not linked through xms_edov: %d", n)
	}
	resp, doc = oidcSignIn(t, ts.client(), op, "entra-multi", "oda")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("multi-tenant Entra with xms_edov, other domain: %d", resp.StatusCode)
	}
	smtpd.next()
	// xms_edov: false refuses the authoritative domain too (single tenant or not).
	resp, doc = oidcSignIn(t, ts.client(), op, "entra", "fay")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("Entra with xms_edov false: %d", resp.StatusCode)
	}
	smtpd.next()
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE c.email IN ('oda@other.test', 'fay@example.com')`); n != 0 {
		t.Fatal("an address not vouched for was linked")
	}

	// Multi-tenant without xms_edov: the domain alone is not enough (nOAuth).
	resp, doc = oidcSignIn(t, ts.client(), op, "entra-multi", "ann")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("multi-tenant Entra without xms_edov: %d %q", resp.StatusCode, doc.Find("#sso-reason").Text())
	}
	smtpd.next()

	// Single tenant, authoritative domain: the existing contact is linked and signed in.
	c := ts.client()
	resp, doc = oidcSignIn(t, c, op, "entra", "ann")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Entra user of the authoritative domain: %d %q", resp.StatusCode, doc.Find("#sso-reason, main").First().Text())
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities WHERE contact_id = $1`, ann); n != 1 {
		t.Fatalf("existing contact not linked: %d", n)
	}
	// Another domain: not linked, confirmation asked.
	resp, doc = oidcSignIn(t, ts.client(), op, "entra", "eve")
	if resp.StatusCode != http.StatusOK || doc.Find("#sso-confirm-sent").Length() != 1 {
		t.Fatalf("Entra user of another domain: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE c.email = 'eve@other.test'`); n != 0 {
		t.Fatal("an address outside the authoritative domains was linked")
	}
	smtpd.next()

	// The setting is validated (admin console and CLI share providers.Apply).
	row := store.IdentityProvider{Slug: "bad", Kind: store.KindOIDC, Name: "Bad", Settings: map[string]string{"client_id": "x",
		"discovery_url": op.DiscoveryURL(), "authoritative_domains": "*.example.com"}}
	if err := applyProvider(ts, &row, map[string]string{"client_secret": "s"}); err == nil || !strings.Contains(err.Error(), "SSODomainsInvalid") {
		t.Fatalf("wildcard domain accepted: %v", err)
	}
}

// TestSSOJWTEmailVerifiedFalse: a JWT app that says email_verified: false gets the
// confirmation path too, and authoritative domains bound what a JWT app or SAML IdP vouches for.
func TestSSOJWTEmailVerifiedFalse(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newSSOServerWith(t, ssoServerOpts{SMTP: smtpd.addr})
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256",
		"authoritative_domains": "example.com"}}, map[string]string{"jwt_secret": jwtSecret})
	for _, tc := range []struct {
		email    string
		verified any
		signedIn bool
	}{
		{"jay@example.com", nil, true},
		{"kay@example.com", false, false},
		{"lee@elsewhere.test", nil, false},
	} {
		cl := freshClaims(tc.email)
		if tc.verified != nil {
			cl["email_verified"] = tc.verified
		}
		resp, doc := postJWTConfirmed(t, ts.client(), "app", jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), cl), "")
		if got := resp.StatusCode == http.StatusSeeOther; got != tc.signedIn {
			t.Fatalf("%s (email_verified %v): status %d, signed in %v", tc.email, tc.verified, resp.StatusCode, got)
		}
		if !tc.signedIn {
			if doc.Find("#sso-confirm-sent").Length() != 1 {
				t.Fatalf("%s: no confirmation page", tc.email)
			}
			if m := smtpd.next(); m.To != tc.email {
				t.Fatalf("confirmation mail to %q, want %s", m.To, tc.email)
			}
		}
	}
}

// applyProvider validates and seals a provider row as the admin console and the CLI do.
func applyProvider(ts *testServer, row *store.IdentityProvider, secrets map[string]string) error {
	return handlers.ApplyProvider(row, secrets, ts.Handlers.SSODeps.Sealer, true)
}

// postJWTConfirmed posts a token as the customer's app would, from browser c.
func postJWTConfirmed(t *testing.T, c *client, slug, token, returnTo string) (*http.Response, *goqueryDoc) {
	t.Helper()
	return postJWT(c, slug, token, returnTo)
}
