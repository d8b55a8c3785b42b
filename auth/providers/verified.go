package providers

import (
	"regexp"
	"strings"

	"portico/auth"
)

// domainRE is one DNS name of at least two labels (lower case): an email domain.
var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// ParseDomains reads the setting authoritative_domains: email domains separated by commas,
// spaces or new lines ("acme.com, acme.de"). It returns them in lower case and ok = false when
// one is not a domain name (a wildcard, an address, a URL).
func ParseDomains(s string) ([]string, bool) {
	var out []string
	for _, d := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		d = strings.TrimPrefix(d, "@")
		if !domainRE.MatchString(d) {
			return nil, false
		}
		out = append(out, d)
	}
	return out, true
}

// authoritativeFor reports whether the admin marked this provider as the authority for the
// domain of email (setting authoritative_domains: the company's own IdP or Entra tenant for
// @acme.com). Only an exact domain matches; subdomains must be listed.
func (b *base) authoritativeFor(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(strings.TrimSpace(email[at+1:]))
	list, _ := ParseDomains(b.setting("authoritative_domains"))
	for _, d := range list {
		if d == domain {
			return true
		}
	}
	return false
}

// Microsoft Entra ID tenant names that admit any organisation's (or any personal) account.
var entraMultiTenant = map[string]bool{"": true, "common": true, "organizations": true, "consumers": true}

// emailVerified decides whether an OpenID Connect identity's address is verified (issue 10):
//   - the ID token or userinfo says email_verified: true (Google, Okta, most providers); or
//   - the admin marked the provider authoritative for the address's domain. For Microsoft Entra
//     ID, which sends no email_verified for work accounts and lets a tenant's admins write any
//     address into a user (the "nOAuth" attack), the domain counts only when the provider is
//     bound to one tenant (setting tenant, not common/organizations/consumers) or the token
//     carries xms_edov: true (Entra's "email domain owner verified" optional claim); an
//     explicit xms_edov: false always refuses it.
func (b *base) emailVerified(email string, claims map[string]any) bool {
	if truthy(claims["email_verified"]) {
		return true
	}
	if !b.authoritativeFor(email) {
		return false
	}
	if b.cfg.Kind != auth.KindMicrosoft {
		return true
	}
	if v, ok := claims["xms_edov"]; ok {
		return truthy(v)
	}
	return !entraMultiTenant[strings.ToLower(b.setting("tenant"))]
}

// assertedEmailVerified decides for SAML and JWT, whose IdP (the company's SAML IdP, the
// customer's own application) the admin configured to speak for its users: its address is
// taken as verified unless the admin listed authoritative domains, which then bound it to
// those domains, or a JWT says email_verified: false.
func (b *base) assertedEmailVerified(email string, claims map[string]any) bool {
	if v, ok := claims["email_verified"]; ok && !truthy(v) {
		return false
	}
	if strings.TrimSpace(b.setting("authoritative_domains")) == "" {
		return true
	}
	return b.authoritativeFor(email)
}
