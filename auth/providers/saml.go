package providers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"portico/auth"
)

// metadataTTL is how long fetched IdP metadata is used before it is fetched again (the old
// copy stays in use when a refresh fails).
const metadataTTL = 24 * time.Hour

// samlMaxResponse bounds a decoded SAMLResponse.
const samlMaxResponse = 512 << 10

// Default attribute names, tried in order after the configured one (Okta, Entra ID/ADFS claim
// URIs, eduPerson/LDAP OIDs, Google Workspace).
var samlDefaultAttrs = map[string][]string{
	"email": {"email", "Email", "mail", "emailAddress", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		"urn:oid:0.9.2342.19200300.100.1.3", "User.email"},
	"name": {"name", "displayName", "http://schemas.microsoft.com/identity/claims/displayname", "urn:oid:2.16.840.1.113730.3.1.241",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "cn"},
	"given":   {"firstName", "givenName", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42", "User.FirstName"},
	"surname": {"lastName", "sn", "surname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4", "User.LastName"},
	"company": {"company", "organization", "o", "urn:oid:2.5.4.10"},
	"groups":  {"groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "http://schemas.xmlsoap.org/claims/Group"},
}

// samlMinIssueWindow is the least time a response stays acceptable after its IssueInstant,
// whatever the skew: the browser's auto-post from the IdP takes a moment.
const samlMinIssueWindow = 30 * time.Second

func init() {
	// crewjam/saml v0.6.3 has only process-wide time bounds (MaxClockSkew for NotBefore,
	// NotOnOrAfter and future IssueInstants; MaxIssueDelay, 90 s by default, for how old an
	// IssueInstant may be). They are set once, here, before any request, to the widest setting
	// an admin may choose (MaxClockSkew), and never touched again (no race); each provider's own
	// clock_skew is then applied by checkSkew, so that one setting governs every time check in
	// both directions.
	saml.MaxClockSkew = MaxClockSkew
	saml.MaxIssueDelay = MaxClockSkew
}

// samlProvider is a SAML 2.0 service provider built on crewjam/saml: SP-initiated sign-in with
// the Redirect binding and the response by POST to the ACS; the request id lives in Redis for
// FlowTTL (not a 90 s cookie), so the response may land on any instance and needs no session
// cookie. crewjam checks signature (IdP key from metadata only), issuer, audience, recipient,
// destination and InResponseTo; assertion ids are recorded in Redis until they expire
// (crewjam's ReplayCache). IdP-initiated responses are accepted only when enabled.
type samlProvider struct {
	base
	key  *rsa.PrivateKey
	cert *x509.Certificate
	// next is the certificate of a key rollover in progress (RotateSPKey): published in the
	// metadata as a second signing key until it is activated; nil otherwise.
	next *x509.Certificate
	// entityID and acsURL are the SP's entity id (= its metadata URL) and ACS, derived from
	// the portal's base URL and the slug when the provider is built.
	entityID, acsURL string

	mu      sync.Mutex
	idp     *saml.EntityDescriptor
	idpAt   time.Time
	idpFail time.Time
}

func newSAML(b base, secrets map[string]string) (*samlProvider, error) {
	p := &samlProvider{base: b, entityID: b.callbackURL("metadata"), acsURL: b.callbackURL("acs")}
	key, cert, err := parseSPKey(secrets["sp_key"], b.setting("sp_cert"))
	if err != nil {
		return nil, err
	}
	p.key, p.cert = key, cert
	if secrets["sp_key_next"] != "" {
		if _, next, err := parseSPKey(secrets["sp_key_next"], b.setting("sp_cert_next")); err == nil {
			p.next = next
		}
	}
	if x := b.setting("idp_metadata_xml"); x != "" {
		md, err := newSAMLMetadata(x, b.deps.AllowInsecureURLs)
		if err != nil {
			return nil, err
		}
		p.idp, p.idpAt = md, time.Now()
	}
	return p, nil
}

// newSAMLMetadata parses pasted IdP metadata. Errors: *ConfigError.
func newSAMLMetadata(x string, insecure bool) (*saml.EntityDescriptor, error) {
	md, err := samlsp.ParseMetadata([]byte(x))
	if err != nil {
		return nil, &ConfigError{Field: "idp_metadata_xml", MessageID: "SSOMetadataInvalid"}
	}
	if msg := checkIdPMetadata(md, insecure); msg != "" {
		return nil, &ConfigError{Field: "idp_metadata_xml", MessageID: msg}
	}
	return md, nil
}

// checkIdPMetadata requires an https single sign-on endpoint (CVE-2023-45683 class).
func checkIdPMetadata(md *saml.EntityDescriptor, insecure bool) string {
	if md.EntityID == "" || len(md.IDPSSODescriptors) == 0 {
		return "SSOMetadataInvalid"
	}
	for _, d := range md.IDPSSODescriptors {
		for _, ep := range d.SingleSignOnServices {
			if !checkURL(ep.Location, insecure) {
				return "SSOMetadataURLInvalid"
			}
		}
	}
	return ""
}

// metadataRefreshEvery bounds the refetches of a provider's IdP metadata after a signature
// failure: at most one per this period across all instances (a Redis SET NX), so forged or
// broken responses cannot make Portico hammer the IdP.
const metadataRefreshEvery = time.Minute

// metadata returns the IdP metadata, fetching it on first use and every metadataTTL.
func (p *samlProvider) metadata(ctx context.Context) (*saml.EntityDescriptor, error) {
	return p.fetchMetadata(ctx, false)
}

// refreshAfterSignatureFailure refetches the IdP metadata from its URL after a response
// failed signature validation, so that an IdP's key rollover heals itself: at most once per
// metadataRefreshEvery for the provider (rate limit shared by the instances in Redis). It
// returns the new metadata when its signing keys changed, else nil.
func (p *samlProvider) refreshAfterSignatureFailure(ctx context.Context, old *saml.EntityDescriptor) *saml.EntityDescriptor {
	if p.setting("idp_metadata_url") == "" {
		return nil
	}
	fresh, err := p.deps.Flows.Once(ctx, "mdrefresh:"+p.cfg.Slug, p.deps.now().Add(metadataRefreshEvery))
	if err != nil || !fresh {
		return nil
	}
	md, err := p.fetchMetadata(ctx, true)
	if err != nil || md == old || idpKeys(md) == idpKeys(old) {
		return nil
	}
	if p.deps.Log != nil {
		p.deps.Log.InfoContext(ctx, "sso IdP metadata refreshed after a signature failure", "provider", p.cfg.Slug)
	}
	return md
}

// idpKeys is the IdP's signing certificates, for comparing two metadata documents.
func idpKeys(md *saml.EntityDescriptor) string {
	if md == nil {
		return ""
	}
	var b strings.Builder
	for _, d := range md.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				b.WriteString(kd.Use + ":" + strings.Join(strings.Fields(c.Data), "") + ";")
			}
		}
	}
	return b.String()
}

// fetchMetadata returns the cached IdP metadata or, when it is older than metadataTTL (or
// force is set and a URL is configured), fetches it again; a failed fetch keeps the old copy.
func (p *samlProvider) fetchMetadata(ctx context.Context, force bool) (*saml.EntityDescriptor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mdURL := p.setting("idp_metadata_url")
	if p.idp != nil && (mdURL == "" || (!force && time.Since(p.idpAt) < metadataTTL)) {
		return p.idp, nil
	}
	if !force && time.Since(p.idpFail) < 10*time.Second {
		if p.idp != nil {
			return p.idp, nil
		}
		return nil, errors.New("IdP metadata fetch failed less than 10 s ago")
	}
	u, err := url.Parse(mdURL)
	if err != nil {
		return nil, err
	}
	md, err := samlsp.FetchMetadata(ctx, p.deps.client(), *u)
	if err == nil {
		if msg := checkIdPMetadata(md, p.deps.AllowInsecureURLs); msg != "" {
			err = fmt.Errorf("IdP metadata at %s: %s", mdURL, msg)
		}
	}
	if err != nil {
		p.idpFail = time.Now()
		if p.idp != nil {
			return p.idp, nil
		}
		return nil, fmt.Errorf("IdP metadata at %s: %w", mdURL, err)
	}
	p.idp, p.idpAt = md, time.Now()
	return md, nil
}

// serviceProvider returns a fresh crewjam ServiceProvider for one request.
func (p *samlProvider) serviceProvider(idp *saml.EntityDescriptor) *saml.ServiceProvider {
	mdURL, _ := url.Parse(p.entityID)
	acsURL, _ := url.Parse(p.acsURL)
	sp := &saml.ServiceProvider{
		EntityID:          mdURL.String(),
		Key:               p.key,
		Certificate:       p.cert,
		MetadataURL:       *mdURL,
		AcsURL:            *acsURL,
		IDPMetadata:       idp,
		AuthnNameIDFormat: saml.UnspecifiedNameIDFormat,
		HTTPClient:        p.deps.client(),
		ReplayCache:       replayCache{flows: p.deps.Flows, slug: p.cfg.Slug},
		LogoutBindings:    []string{},
		// Only the binding Portico implements: the IdP posts the response (no HTTP-Artifact).
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		// AuthnRequests are always signed (RSA-SHA256, the query-string signature of the
		// Redirect binding): an IdP whose metadata sets WantAuthnRequestsSigned gets what it
		// asks for, and the metadata says AuthnRequestsSigned="true" with the signing key.
		SignatureMethod: dsig.RSASHA256SignatureMethod,
	}
	if p.deps.Now != nil {
		sp.Clock = dsig.NewFakeClockAt(p.deps.now())
	}
	return sp
}

// Metadata returns the SP metadata XML (SAML 2.0 metadata, saml-metadata-2.0-os): the entity
// id, the one ACS (HTTP-POST), the certificate for signing (use="signing": AuthnRequests are
// signed) and for encryption, and during a key rollover the next certificate as a second
// signing key, so that an IdP that loads the metadata trusts both until the new one is
// activated.
func (p *samlProvider) Metadata() ([]byte, error) {
	md := p.serviceProvider(nil).Metadata()
	if p.next != nil {
		for i := range md.SPSSODescriptors {
			d := &md.SPSSODescriptors[i]
			d.KeyDescriptors = append(d.KeyDescriptors, saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{
				X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(p.next.Raw)}}}}})
		}
	}
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

// Begin creates an AuthnRequest, keeps its id in Redis for FlowTTL and returns the IdP's
// Redirect-binding URL (the response comes back by POST to /sso/{slug}/acs).
func (p *samlProvider) Begin(ctx context.Context, req auth.BeginRequest) (string, error) {
	idp, err := p.metadata(ctx)
	if err != nil {
		return "", p.refuse(ctx, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: err.Error(), Test: req.Test})
	}
	sp := p.serviceProvider(idp)
	loc := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if loc == "" {
		return "", p.refuse(ctx, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: "the IdP metadata has no HTTP-Redirect SSO endpoint", Test: req.Test})
	}
	ar, err := sp.MakeAuthenticationRequest(loc, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", err
	}
	f := flowState{Provider: p.cfg.Slug, ReturnTo: req.ReturnTo, Test: req.Test, Browser: browserHash(req.Browser)}
	if err := p.deps.Flows.Put(ctx, "saml:"+ar.ID, f, FlowTTL); err != nil {
		return "", err
	}
	u, err := ar.Redirect("", sp)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Complete validates a POSTed SAMLResponse. The request id it answers (InResponseTo) must be
// one we issued for this provider, unexpired and unused, to the browser that posts the
// response (its SSO flow cookie, req.Browser: login CSRF); an unsolicited response (no
// InResponseTo) is accepted only with IdP-initiated sign-in enabled and comes back with
// Result.Unsolicited (the handler asks the person to confirm), and its RelayState is only ever
// used as a local path (the handler checks).
func (p *samlProvider) Complete(ctx context.Context, req auth.CompleteRequest) (auth.Result, error) {
	raw := req.Form["SAMLResponse"]
	if len(raw) != 1 || len(raw[0]) > samlMaxResponse*4/3+4 {
		return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonInvalid, "no SAMLResponse (HTTP-POST binding expected)"))
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(raw[0]), ""))
	if err != nil || len(decoded) > samlMaxResponse {
		return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonInvalid, "SAMLResponse is not base64 or too large"))
	}
	irt := peekInResponseTo(decoded)
	var f flowState
	var possible []string
	idpInitiated := irt == ""
	if !idpInitiated {
		ok, err := p.deps.Flows.Take(ctx, "saml:"+irt, &f)
		if err != nil {
			return auth.Result{}, err
		}
		if !ok || f.Provider != p.cfg.Slug {
			return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonExpiredFlow,
				"InResponseTo %q does not match a pending request of this provider (unknown, used or older than %s)", irt, FlowTTL))
		}
		if !f.sameBrowser(req.Browser) {
			r := auth.Refuse(auth.ReasonExpiredFlow, "the request %q was started in another browser (no or another SSO flow cookie)", irt)
			r.Test = f.Test
			return auth.Result{Test: f.Test}, p.refuse(ctx, r)
		}
		possible = []string{irt}
	} else if p.setting("allow_idp_initiated") != "true" {
		return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonIdPInitiated, "unsolicited response (no InResponseTo) and IdP-initiated sign-in is disabled"))
	}
	fail := func(reason auth.Reason, detail string, id *auth.Identity) (auth.Result, error) {
		r := auth.Refuse(reason, "%s", detail)
		r.Test, r.Identity = f.Test, id
		return auth.Result{Test: f.Test}, p.refuse(ctx, r)
	}
	idp, err := p.metadata(ctx)
	if err != nil {
		return fail(auth.ReasonUnavailable, err.Error(), nil)
	}
	sp := p.serviceProvider(idp)
	sp.AllowIDPInitiated = idpInitiated
	assertion, err := sp.ParseXMLResponse(decoded, possible, sp.AcsURL)
	if err != nil && (errors.Is(err, saml.ErrInvalidSignature) || errors.Is(err, saml.ErrUntrustedCertificate)) {
		// The IdP may have rolled its signing key: refetch its metadata once (rate-limited)
		// and validate again with the new keys.
		if md := p.refreshAfterSignatureFailure(ctx, idp); md != nil {
			sp = p.serviceProvider(md)
			sp.AllowIDPInitiated = idpInitiated
			assertion, err = sp.ParseXMLResponse(decoded, possible, sp.AcsURL)
		}
	}
	if err != nil {
		detail := err.Error()
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			detail = ire.PrivateErr.Error()
			err = ire.PrivateErr
		}
		if errors.Is(err, saml.ErrAssertionReplayed) {
			return fail(auth.ReasonReplayed, detail, nil)
		}
		return fail(auth.ReasonInvalid, detail, nil)
	}
	id := p.identity(assertion)
	if msg := p.checkSkew(peekIssueInstant(decoded), assertion); msg != "" {
		return fail(auth.ReasonInvalid, msg, &id)
	}
	returnTo := f.ReturnTo
	if idpInitiated {
		returnTo = req.Get("RelayState")
	}
	return auth.Result{Identity: id, ReturnTo: returnTo, Test: f.Test, Unsolicited: idpInitiated}, nil
}

// checkSkew applies the provider's clock skew to every time of a validated response (crewjam
// allows MaxClockSkew process-wide): the response's and the assertion's IssueInstant may be at
// most skew in the future and at most skew in the past (samlMinIssueWindow at least: crewjam's
// fixed 90 s window no longer decides), NotBefore at most skew in the future, NotOnOrAfter
// (conditions and subject confirmation) at most skew in the past.
func (p *samlProvider) checkSkew(responseIssued time.Time, a *saml.Assertion) string {
	now, skew := p.deps.now(), p.skew()
	window := max(skew, samlMinIssueWindow)
	for _, it := range []struct {
		what string
		at   time.Time
	}{{"response", responseIssued}, {"assertion", a.IssueInstant}} {
		if it.at.IsZero() {
			continue
		}
		if it.at.Add(-skew).After(now) {
			return fmt.Sprintf("%s IssueInstant %s is in the future (clock skew %s)", it.what, it.at.UTC().Format(time.RFC3339), skew)
		}
		if it.at.Add(window).Before(now) {
			return fmt.Sprintf("%s IssueInstant %s is older than %s (clock skew)", it.what, it.at.UTC().Format(time.RFC3339), window)
		}
	}
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && c.NotBefore.Add(-skew).After(now) {
			return fmt.Sprintf("assertion is not valid before %s (clock skew %s)", c.NotBefore.UTC().Format(time.RFC3339), skew)
		}
		if !c.NotOnOrAfter.IsZero() && !now.Before(c.NotOnOrAfter.Add(skew)) {
			return fmt.Sprintf("assertion expired at %s (clock skew %s)", c.NotOnOrAfter.UTC().Format(time.RFC3339), skew)
		}
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil && !d.NotOnOrAfter.IsZero() && !now.Before(d.NotOnOrAfter.Add(skew)) {
				return fmt.Sprintf("subject confirmation expired at %s (clock skew %s)", d.NotOnOrAfter.UTC().Format(time.RFC3339), skew)
			}
		}
	}
	return ""
}

// identity maps the assertion: NameID is the subject; email, name, company and groups come
// from the configured attribute (settings attr_email…) or the usual names.
func (p *samlProvider) identity(a *saml.Assertion) auth.Identity {
	attrs := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				attrs[at.Name] = append(attrs[at.Name], strings.TrimSpace(v.Value))
				if at.FriendlyName != "" && at.FriendlyName != at.Name {
					attrs[at.FriendlyName] = append(attrs[at.FriendlyName], strings.TrimSpace(v.Value))
				}
			}
		}
	}
	get := func(kind string) []string {
		names := samlDefaultAttrs[kind]
		if v := p.setting("attr_" + kind); v != "" {
			names = append([]string{v}, names...)
		}
		for _, n := range names {
			if v := attrs[n]; len(v) > 0 && v[0] != "" {
				return v
			}
		}
		return nil
	}
	first := func(kind string) string {
		if v := get(kind); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	id := auth.Identity{Provider: p.cfg.Slug, Claims: map[string]any{}}
	if a.Subject != nil && a.Subject.NameID != nil {
		id.Subject = strings.TrimSpace(a.Subject.NameID.Value)
		id.Claims["NameID"] = id.Subject
	}
	for k, v := range attrs {
		id.Claims[k] = strings.Join(v, ", ")
	}
	id.Email = first("email")
	if id.Email == "" && strings.Contains(id.Subject, "@") {
		id.Email = id.Subject
	}
	id.Name = first("name")
	if id.Name == "" {
		id.Name = strings.TrimSpace(first("given") + " " + first("surname"))
	}
	id.Company = first("company")
	id.Groups = get("groups")
	id.EmailVerified = p.assertedEmailVerified(id.Email, id.Claims)
	return id
}

// peekIssueInstant reads the Response's IssueInstant (zero when absent or malformed); it is
// called only after crewjam validated the response.
func peekIssueInstant(doc []byte) time.Time {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil || d.Root() == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, d.Root().SelectAttrValue("IssueInstant", ""))
	if err != nil {
		return time.Time{}
	}
	return t
}

// peekInResponseTo reads the Response's InResponseTo attribute without trusting anything else.
func peekInResponseTo(doc []byte) string {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil || d.Root() == nil {
		return ""
	}
	v := d.Root().SelectAttrValue("InResponseTo", "")
	if len(v) > 200 {
		return ""
	}
	return v
}

// replayCache records assertion ids in Redis (SET NX until the assertion expires).
type replayCache struct {
	flows *auth.Flows
	slug  string
}

func (r replayCache) Consume(id string, until time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fresh, err := r.flows.Once(ctx, "assertion:"+r.slug+":"+id, until.Add(time.Minute))
	if err != nil {
		return err
	}
	if !fresh {
		return saml.ErrAssertionReplayed
	}
	return nil
}

// NewSPKey generates the SP's RSA-2048 key and a self-signed certificate (10 years) for slug,
// both PEM: the key goes into the sealed secrets (sp_key), the certificate into settings
// (sp_cert). Generated when a SAML provider is created and again on rotation.
func NewSPKey(slug string) (keyPEM, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "portico-sp-" + slug},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	var kb, cb bytes.Buffer
	_ = pem.Encode(&kb, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	_ = pem.Encode(&cb, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return kb.String(), cb.String(), nil
}

// EnsureSPKey gives a SAML cfg an SP key and certificate when it has none (or rotate is set),
// re-sealing its secrets. It reports whether the cfg changed (the caller stores it).
func EnsureSPKey(cfg *Config, sealer *Sealer, rotate bool) (bool, error) {
	if cfg.Kind != auth.KindSAML {
		return false, nil
	}
	secrets, err := sealer.Open(cfg.Slug, cfg.Secrets)
	if err != nil {
		return false, err
	}
	if !rotate && secrets["sp_key"] != "" && cfg.Settings["sp_cert"] != "" {
		return false, nil
	}
	k, c, err := NewSPKey(cfg.Slug)
	if err != nil {
		return false, err
	}
	secrets["sp_key"] = k
	cfg.SecretsChanged = true
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	cfg.Settings["sp_cert"] = c
	cfg.Secrets, err = sealer.Seal(cfg.Slug, secrets)
	return true, err
}

// RotateSPKey advances a SAML cfg's SP key rollover by one step and reports which:
// "prepared" when it generated the next key and certificate (settings sp_cert_next, sealed
// secret sp_key_next; the metadata then publishes both certificates for signing while the
// current key still signs and decrypts), "activated" when it made the prepared key the current
// one (the old key is dropped). The caller stores the cfg.
func RotateSPKey(cfg *Config, sealer *Sealer) (string, error) {
	if cfg.Kind != auth.KindSAML {
		return "", errors.New("only SAML providers have an SP key")
	}
	secrets, err := sealer.Open(cfg.Slug, cfg.Secrets)
	if err != nil {
		return "", err
	}
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	step := "activated"
	if secrets["sp_key_next"] != "" && cfg.Settings["sp_cert_next"] != "" {
		secrets["sp_key"], cfg.Settings["sp_cert"] = secrets["sp_key_next"], cfg.Settings["sp_cert_next"]
		delete(secrets, "sp_key_next")
		delete(cfg.Settings, "sp_cert_next")
	} else {
		k, c, err := NewSPKey(cfg.Slug)
		if err != nil {
			return "", err
		}
		secrets["sp_key_next"], cfg.Settings["sp_cert_next"] = k, c
		step = "prepared"
	}
	cfg.SecretsChanged = true
	cfg.Secrets, err = sealer.Seal(cfg.Slug, secrets)
	return step, err
}

func parseSPKey(keyPEM, certPEM string) (*rsa.PrivateKey, *x509.Certificate, error) {
	kb, _ := pem.Decode([]byte(keyPEM))
	cb, _ := pem.Decode([]byte(certPEM))
	if kb == nil || cb == nil {
		return nil, nil, &ConfigError{Field: "sp_cert", MessageID: "SSOSPKeyMissing"}
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, &ConfigError{Field: "sp_cert", MessageID: "SSOSPKeyMissing"}
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, &ConfigError{Field: "sp_cert", MessageID: "SSOSPKeyMissing"}
	}
	return key, cert, nil
}
