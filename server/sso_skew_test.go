package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	dsig "github.com/russellhaering/goxmldsig"

	"portico/auth"
	"portico/sql/store"
)

// TestSSOClockSkewOneSetting: the provider's clock_skew governs every time check of a SAML
// response in both directions, crewjam's fixed 90 s IssueInstant window included (issue 10,
// point 3): with skew 180 an IdP 120 s behind or ahead is accepted, 200 s refused; with skew 60,
// 120 s either way is refused. JWT apps: iat ahead likewise.
func TestSSOClockSkewOneSetting(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	samlProvider(ts, idp, "s180", map[string]string{"clock_skew": "180", "allow_idp_initiated": "true"})
	md60 := samlProvider(ts, idp, "s60", map[string]string{"clock_skew": "60", "allow_idp_initiated": "true"})
	_ = md60
	entity := func(slug string) string { return ssoBase + "/sso/" + slug + "/metadata" }
	complete := func(slug string, offset time.Duration) error {
		t.Helper()
		idp.idp.Clock = dsig.NewFakeClockAt(time.Now().Add(offset))
		f := idp.unsolicited(entity(slug), "")
		idp.idp.Clock = nil
		p, _ := ts.Handlers.SSO.Get(slug)
		_, err := p.Complete(context.Background(), auth.CompleteRequest{Form: url.Values{"SAMLResponse": {f.SAMLResponse}}})
		return err
	}
	for _, tc := range []struct {
		slug   string
		offset time.Duration
		ok     bool
	}{
		{"s180", -120 * time.Second, true},
		{"s180", -200 * time.Second, false},
		{"s180", 120 * time.Second, true},
		{"s180", 200 * time.Second, false},
		{"s60", -45 * time.Second, true},
		{"s60", -120 * time.Second, false},
		{"s60", 120 * time.Second, false},
	} {
		err := complete(tc.slug, tc.offset)
		if tc.ok && err != nil {
			t.Errorf("%s, IdP clock %v: refused: %v", tc.slug, tc.offset, err)
		}
		if !tc.ok {
			r := auth.AsRefusal(err)
			if r == nil || r.Reason != auth.ReasonInvalid {
				t.Errorf("%s, IdP clock %v: accepted (%v)", tc.slug, tc.offset, err)
			} else if !strings.Contains(r.Detail, "IssueInstant") && !strings.Contains(r.Detail, "expired") && !strings.Contains(r.Detail, "future") {
				t.Errorf("%s, IdP clock %v: refused for another reason: %s", tc.slug, tc.offset, r.Detail)
			}
		}
	}

	// JWT: iat ahead of our clock by less than the skew passes, by more is refused.
	ts.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, Settings: map[string]string{"alg": "HS256", "clock_skew": "180"}},
		map[string]string{"jwt_secret": jwtSecret})
	p, _ := ts.Handlers.SSO.Get("app")
	for _, tc := range []struct {
		ahead time.Duration
		ok    bool
	}{{120 * time.Second, true}, {200 * time.Second, false}} {
		cl := freshClaims("skew@example.com")
		iat := time.Now().Add(tc.ahead)
		cl["iat"], cl["exp"] = iat.Unix(), iat.Add(2*time.Minute).Unix()
		_, err := p.Complete(context.Background(), auth.CompleteRequest{Form: url.Values{"jwt": {jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), cl)}}})
		if (err == nil) != tc.ok {
			t.Errorf("JWT iat %v ahead: err %v", tc.ahead, err)
		}
	}
}
