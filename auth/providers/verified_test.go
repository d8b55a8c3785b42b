package providers

import (
	"testing"

	"portico/auth"
)

// TestEmailVerifiedRules is the decision table of issue 10 for OpenID Connect identities.
func TestEmailVerifiedRules(t *testing.T) {
	mk := func(kind, tenant, domains string) *base {
		return &base{cfg: Config{Kind: kind, Settings: map[string]string{"tenant": tenant, "authoritative_domains": domains}}}
	}
	cases := []struct {
		name   string
		b      *base
		email  string
		claims map[string]any
		want   bool
	}{
		{"verified claim", mk(auth.KindOIDC, "", ""), "a@x.test", map[string]any{"email_verified": true}, true},
		{"verified claim as string", mk(auth.KindOIDC, "", ""), "a@x.test", map[string]any{"email_verified": "true"}, true},
		{"unverified, no domains", mk(auth.KindOIDC, "", ""), "a@x.test", map[string]any{"email_verified": false}, false},
		{"absent, no domains", mk(auth.KindGoogle, "", ""), "a@x.test", map[string]any{}, false},
		{"authoritative domain", mk(auth.KindOkta, "", "x.test"), "a@X.test", map[string]any{"email_verified": false}, true},
		{"subdomain not listed", mk(auth.KindOIDC, "", "x.test"), "a@sub.x.test", map[string]any{}, false},
		{"other domain", mk(auth.KindOIDC, "", "x.test"), "a@y.test", map[string]any{}, false},
		{"entra single tenant", mk(auth.KindMicrosoft, "acme-tid", "x.test"), "a@x.test", map[string]any{}, true},
		{"entra single tenant, xms_edov false", mk(auth.KindMicrosoft, "acme-tid", "x.test"), "a@x.test", map[string]any{"xms_edov": false}, false},
		{"entra common without xms_edov", mk(auth.KindMicrosoft, "common", "x.test"), "a@x.test", map[string]any{}, false},
		{"entra organizations with xms_edov", mk(auth.KindMicrosoft, "organizations", "x.test"), "a@x.test", map[string]any{"xms_edov": true}, true},
		{"entra xms_edov, domain not authoritative", mk(auth.KindMicrosoft, "organizations", "x.test"), "a@y.test", map[string]any{"xms_edov": true}, false},
	}
	for _, tc := range cases {
		if got := tc.b.emailVerified(tc.email, tc.claims); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, ok := ParseDomains("acme.com, @acme.de\nacme.co.uk"); !ok {
		t.Error("valid domain list refused")
	}
	for _, bad := range []string{"*.acme.com", "a@acme.com", "https://acme.com", "acme"} {
		if _, ok := ParseDomains(bad); ok {
			t.Errorf("ParseDomains(%q) accepted", bad)
		}
	}
}
