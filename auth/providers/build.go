package providers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"portico/auth"
)

// FlowTTL is how long a started sign-in may take at the IdP (MFA, password reset…): the OIDC
// state and the SAML request id live this long in Redis.
const FlowTTL = 10 * time.Minute

// DefaultClockSkew is the default tolerance between our clock and the IdP's.
const DefaultClockSkew = 90 * time.Second

// MaxClockSkew is the largest configurable tolerance (crewjam/saml's own, process-wide limit).
const MaxClockSkew = 180 * time.Second

// Deps is what every provider needs from the process.
type Deps struct {
	// BaseURL is the portal's public URL without trailing slash (callback URLs derive from it).
	BaseURL string
	// Flows keeps state, request ids and seen token ids in Redis.
	Flows *auth.Flows
	// Sealer opens the cfg's secrets.
	Sealer *Sealer
	// HTTPClient fetches discovery documents, metadata and JWKS (nil: a 10 s client).
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now); tests freeze it.
	Now func() time.Time
	// Log receives one line per refused flow.
	Log *slog.Logger
	// AllowInsecureURLs lets metadata, discovery and JWKS URLs use http on loopback hosts
	// (tests); otherwise only https is accepted.
	AllowInsecureURLs bool
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) client() *http.Client {
	if d.HTTPClient != nil {
		return d.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Config is one identity provider's configuration as the protocols need it: what Build,
// Validate, Apply and the SP-key functions read and write. It is the providers' own type (the
// caller maps its storage, the identity_providers row, to and from it), so that this package
// knows nothing of the database. Settings holds the protocol's non-secret options (URLs,
// algorithm, attribute names…; SettingKeys lists them per kind); Secrets is the sealed blob of
// its secrets (Sealer); SecretsChanged is set by Apply, EnsureSPKey and RotateSPKey when they
// sealed a new secret value, for the audit line.
type Config struct {
	Slug           string
	Kind           string
	Name           string
	Enabled        bool
	Settings       map[string]string
	Secrets        []byte
	SecretsChanged bool
}

// base carries what all protocols share.
type base struct {
	cfg  Config
	deps Deps
}

func (b *base) Info() auth.ProviderInfo {
	return auth.ProviderInfo{Slug: b.cfg.Slug, Kind: b.cfg.Kind, Label: b.cfg.Name, Enabled: b.cfg.Enabled}
}

func (b *base) callbackURL(suffix string) string {
	return b.deps.BaseURL + "/sso/" + b.cfg.Slug + "/" + suffix
}

func (b *base) setting(name string) string { return strings.TrimSpace(b.cfg.Settings[name]) }

// skew returns the configured clock skew (seconds in setting clock_skew), bounded to
// [0, MaxClockSkew].
func (b *base) skew() time.Duration {
	return ParseSkew(b.cfg.Settings["clock_skew"])
}

// ParseSkew reads a clock skew in seconds ("" = DefaultClockSkew), bounded to [0, MaxClockSkew].
func ParseSkew(s string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return DefaultClockSkew
	}
	d := time.Duration(n) * time.Second
	switch {
	case d < 0:
		return 0
	case d > MaxClockSkew:
		return MaxClockSkew
	}
	return d
}

// flowState is what a started flow keeps in Redis.
type flowState struct {
	Provider string `json:"p"`
	ReturnTo string `json:"r,omitempty"`
	Test     bool   `json:"t,omitempty"`
	Binding  string `json:"b,omitempty"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	// Browser is the SHA-256 of the browser's SSO flow cookie (SAML, JWT): the response is
	// accepted only from the browser that started the flow.
	Browser string `json:"w,omitempty"`
}

// browserHash is the stored form of a browser's SSO flow cookie value ("" for none).
func browserHash(v string) string {
	if v == "" {
		return ""
	}
	h := sha256.Sum256([]byte("sso-flow:" + v))
	return hex.EncodeToString(h[:])
}

// sameBrowser reports whether the flow f was started by the browser whose flow cookie is v
// (constant time; a flow without a browser binding matches none).
func (f flowState) sameBrowser(v string) bool {
	h := browserHash(v)
	return f.Browser != "" && h != "" && subtle.ConstantTimeCompare([]byte(f.Browser), []byte(h)) == 1
}

// Build returns the auth.Provider for cfg. Network work (discovery, metadata) is deferred to
// first use, so that an unreachable IdP never fails the registry. Errors: the cfg's secrets do
// not open, or its settings are unusable (see Validate).
func Build(cfg Config, deps Deps) (auth.Provider, error) {
	secrets, err := deps.Sealer.Open(cfg.Slug, cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if msg := Validate(cfg, secrets, deps.AllowInsecureURLs); msg != "" {
		return nil, &ConfigError{Field: msgField(msg), MessageID: msg}
	}
	b := base{cfg: cfg, deps: deps}
	switch cfg.Kind {
	case auth.KindSAML:
		return newSAML(b, secrets)
	case auth.KindJWT:
		return newJWT(b, secrets)
	default:
		return newOIDC(b, secrets), nil
	}
}

// ConfigError is an unusable provider configuration: a catalogue message id for the field
// (the first problem), and, from Apply, every problem by field.
type ConfigError struct {
	Field     string
	MessageID string
	// Fields holds every field's message id (nil = only Field).
	Fields map[string]string
	// Detail is the technical cause (a discovery fetch's error), given to the message as
	// {{.Detail}}.
	Detail string
}

func (e *ConfigError) Error() string {
	return "provider configuration: " + e.Field + ": " + e.MessageID
}

// checkURL reports whether s is an absolute https URL (http only for loopback hosts when
// insecure is allowed).
func checkURL(s string, insecure bool) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return insecure && (h == "127.0.0.1" || h == "localhost" || h == "::1")
	}
	return false
}

// fieldOf maps a validation message id to its form field.
var fieldOf = map[string]string{
	"SSOClientIDRequired": "client_id", "SSOClientSecretRequired": "client_secret", "SSODiscoveryURLInvalid": "discovery_url",
	"SSOOrgURLInvalid": "org_url", "SSOTenantRequired": "tenant", "SSOMetadataRequired": "idp_metadata_url",
	"SSOMetadataURLInvalid": "idp_metadata_url", "SSOAlgInvalid": "alg", "SSOJWTSecretWeak": "jwt_secret",
	"SSOKeyRequired": "public_key", "SSOKeyInvalid": "public_key", "SSOJWKSURLInvalid": "jwks_url",
	"SSORemoteURLInvalid": "remote_login_url", "SSOSkewInvalid": "clock_skew", "SSODomainsInvalid": "authoritative_domains",
}

func msgField(id string) string { return fieldOf[id] }

// Validate checks a provider's settings and secrets and returns "" or the catalogue message
// id of the first problem (the admin console and the CLI show the same messages; FieldOf
// names the field). insecure allows http URLs on loopback hosts (tests).
func Validate(cfg Config, secrets map[string]string, insecure bool) string {
	first := ""
	check(cfg, secrets, insecure, func(_, msg string) {
		if first == "" {
			first = msg
		}
	})
	return first
}

// ValidateAll checks every setting and secret of a provider and returns each problem by form
// field (the first message id per field), so that a form can show them all at once; an empty
// map means none.
func ValidateAll(cfg Config, secrets map[string]string, insecure bool) map[string]string {
	out := map[string]string{}
	check(cfg, secrets, insecure, func(field, msg string) {
		if _, ok := out[field]; !ok {
			out[field] = msg
		}
	})
	return out
}

// check calls add(field, message id) for every problem, in the order of the form.
func check(cfg Config, secrets map[string]string, insecure bool, add func(field, msg string)) {
	s := func(k string) string { return strings.TrimSpace(cfg.Settings[k]) }
	if v := s("clock_skew"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || time.Duration(n)*time.Second > MaxClockSkew {
			add("clock_skew", "SSOSkewInvalid")
		}
	}
	if v := s("discovery_url"); v != "" && !checkURL(v, insecure) {
		add("discovery_url", "SSODiscoveryURLInvalid")
	}
	if _, ok := ParseDomains(s("authoritative_domains")); !ok {
		add("authoritative_domains", "SSODomainsInvalid")
	}
	switch cfg.Kind {
	case auth.KindGoogle, auth.KindMicrosoft, auth.KindOkta, auth.KindOIDC:
		if s("client_id") == "" {
			add("client_id", "SSOClientIDRequired")
		}
		if secrets["client_secret"] == "" {
			add("client_secret", "SSOClientSecretRequired")
		}
		switch cfg.Kind {
		case auth.KindOkta:
			if s("discovery_url") == "" && !checkURL(s("org_url"), insecure) {
				add("org_url", "SSOOrgURLInvalid")
			}
		case auth.KindMicrosoft:
			if s("discovery_url") == "" && s("tenant") == "" {
				add("tenant", "SSOTenantRequired")
			}
		case auth.KindOIDC:
			if s("discovery_url") == "" {
				add("discovery_url", "SSODiscoveryURLInvalid")
			}
		}
	case auth.KindSAML:
		if s("idp_metadata_url") == "" && s("idp_metadata_xml") == "" {
			add("idp_metadata_url", "SSOMetadataRequired")
		}
		if v := s("idp_metadata_url"); v != "" && !checkURL(v, insecure) {
			add("idp_metadata_url", "SSOMetadataURLInvalid")
		}
	case auth.KindJWT:
		checkJWT(cfg, secrets, insecure, add)
	}
}

// FieldOf returns the form field a Validate message id belongs to.
func FieldOf(messageID string) string { return msgField(messageID) }

// refusedFlow logs a refusal once and returns it.
func (b *base) refuse(ctx context.Context, r *auth.Refusal) *auth.Refusal {
	if b.deps.Log != nil {
		b.deps.Log.InfoContext(ctx, "sso refused", "provider", b.cfg.Slug, "reason", r.Reason, "detail", r.Detail)
	}
	return r
}

// SettingKeys lists, per kind, the settings an admin or operator may set (secrets apart).
var SettingKeys = map[string][]string{
	auth.KindGoogle:    {"client_id", "discovery_url", "clock_skew", "authoritative_domains"},
	auth.KindMicrosoft: {"client_id", "tenant", "discovery_url", "clock_skew", "authoritative_domains"},
	auth.KindOkta:      {"client_id", "org_url", "discovery_url", "clock_skew", "authoritative_domains"},
	auth.KindOIDC:      {"client_id", "discovery_url", "clock_skew", "authoritative_domains"},
	auth.KindSAML: {"idp_metadata_url", "idp_metadata_xml", "allow_idp_initiated", "clock_skew",
		"attr_email", "attr_name", "attr_company", "attr_groups", "authoritative_domains"},
	auth.KindJWT: {"alg", "public_key", "jwks_url", "remote_login_url", "remote_logout_url", "allow_app_initiated", "clock_skew", "issuer",
		"token_audience", "authoritative_domains"},
}

// SecretKeys lists, per kind, the secrets an admin or operator may set.
var SecretKeys = map[string][]string{
	auth.KindGoogle: {"client_secret"}, auth.KindMicrosoft: {"client_secret"}, auth.KindOkta: {"client_secret"},
	auth.KindOIDC: {"client_secret"}, auth.KindSAML: {}, auth.KindJWT: {"jwt_secret"},
}

// Apply merges newSecrets into cfg's sealed secrets (an empty value keeps the stored one),
// validates the result, gives a SAML provider its SP key, and seals. Errors: *ConfigError
// (field and catalogue message id, the same for the admin console and the CLI), or a secrets
// blob that does not open.
func Apply(cfg *Config, newSecrets map[string]string, sealer *Sealer, insecure bool) error {
	secrets, err := sealer.Open(cfg.Slug, cfg.Secrets)
	if err != nil {
		return err
	}
	for k, v := range newSecrets {
		if v = strings.TrimSpace(v); v != "" {
			if secrets[k] != v {
				cfg.SecretsChanged = true // audited as "secret changed", never the value
			}
			secrets[k] = v
		}
	}
	for k, v := range cfg.Settings {
		if strings.TrimSpace(v) == "" {
			delete(cfg.Settings, k)
		}
	}
	if all := ValidateAll(*cfg, secrets, insecure); len(all) > 0 {
		msg := Validate(*cfg, secrets, insecure)
		return &ConfigError{Field: msgField(msg), MessageID: msg, Fields: all}
	}
	if cfg.Kind == auth.KindSAML {
		if x := strings.TrimSpace(cfg.Settings["idp_metadata_xml"]); x != "" {
			if _, err := newSAMLMetadata(x, insecure); err != nil {
				return err
			}
		}
	}
	if cfg.Secrets, err = sealer.Seal(cfg.Slug, secrets); err != nil {
		return err
	}
	_, err = EnsureSPKey(cfg, sealer, false)
	return err
}
