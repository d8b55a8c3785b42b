package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Identity is what an identity provider vouches for after a completed sign-in
// (ARCHITECTURE.md "Identity providers"). Provider is the registry slug; Subject the provider's
// stable user id (OIDC sub, SAML NameID, JWT external_id or email). Accounts are keyed on
// (Provider, Subject), never on Email alone (ASVS 5.0 6.8.1); Email links an existing contact
// only when EmailVerified.
type Identity struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Company       string
	Groups        []string
	Locale        string
	// Claims are the raw claims or attributes received, shown in the admin test mode only.
	Claims map[string]any
}

// ProviderInfo describes a registered provider for the sign-in page and the admin console.
type ProviderInfo struct {
	// Slug names the provider in URLs (/sso/{slug}/start).
	Slug string
	// Kind is google, microsoft, okta, oidc, saml or jwt.
	Kind string
	// Label is the button text ("Sign in with …" shows it).
	Label string
	// Enabled is false for a provider kept only for the admin test mode.
	Enabled bool
}

// BeginRequest starts a sign-in. ReturnTo is an already-checked local path ("" = default);
// Test marks an admin's test run (completes without signing in); Binding ties the flow to the
// browser session that started it (the session id; OpenID Connect's callback is a top-level
// GET that carries the SameSite=Lax session cookie). Browser is the value of the browser's
// SSO flow cookie (SameSite=None, so the IdP's or app's cross-site POST carries it back): SAML
// and JWT flows are bound to it (issue 10 point 7, login CSRF).
type BeginRequest struct {
	ReturnTo string
	Test     bool
	Binding  string
	Browser  string
}

// CompleteRequest is the provider's callback as received: query and form values, the URL the
// request was sent to (SAML Destination/Recipient), the browser session id (Binding) and the
// browser's SSO flow cookie (Browser, "" when it sent none).
type CompleteRequest struct {
	Query   map[string][]string
	Form    map[string][]string
	URL     string
	Binding string
	Browser string
}

// Get returns the first value of name from the form, else from the query.
func (r CompleteRequest) Get(name string) string {
	if v := r.Form[name]; len(v) > 0 {
		return v[0]
	}
	if v := r.Query[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Result is a completed sign-in: the identity and where the flow asked to return.
// Unsolicited marks a sign-in that did not start at Portico (an IdP-initiated SAML response, a
// JWT the app sent without a state of ours), so it is bound to no browser: the handler must ask
// the person to confirm ("Continue as …?", ASVS 5.0 7.6.2) before any session exists.
type Result struct {
	Identity    Identity
	ReturnTo    string
	Test        bool
	Unsolicited bool
}

// Provider is one configured identity provider. Implementations live in auth/providers, one
// file per protocol; they must be safe for concurrent use.
type Provider interface {
	// Info describes the provider.
	Info() ProviderInfo
	// Begin returns the URL to send the browser to. Errors are *Refusal or internal.
	Begin(ctx context.Context, req BeginRequest) (string, error)
	// Complete validates the callback and returns the identity. A refused sign-in returns a
	// *Refusal (with Test set when the flow was a test run); other errors are internal.
	Complete(ctx context.Context, req CompleteRequest) (Result, error)
}

// Reason is why a sign-in was refused: a stable, safe code shown (translated) on the
// access-denied page. The providers (auth/providers) and the access decision (store.SSOSignIn,
// store.SSORefusal) use these constants alone, so a code cannot drift between them.
type Reason string

// Refusal reasons.
const (
	ReasonInvalid       Reason = "invalid"       // the response failed validation (signature, audience, time…)
	ReasonReplayed      Reason = "replayed"      // assertion id or jti already used
	ReasonExpiredFlow   Reason = "expired_flow"  // unknown, expired or foreign state / request id / browser
	ReasonIdPInitiated  Reason = "idp_initiated" // unsolicited SAML response or JWT while disabled
	ReasonUnavailable   Reason = "unavailable"   // provider disabled, unknown or misconfigured
	ReasonCancelled     Reason = "cancelled"     // the IdP reported an error (user cancelled…)
	ReasonEmailMissing  Reason = "email_missing" // no usable email address
	ReasonUnverified    Reason = "email_unverified"
	ReasonNotInGroups   Reason = "not_in_groups"  // outside the chosen access groups
	ReasonNoAccount     Reason = "no_account"     // no contact and creation not allowed
	ReasonAccountLocked Reason = "account_locked" // the contact's portal account is disabled
)

// Identity-provider kinds (identity_providers.kind; ProviderInfo.Kind).
const (
	KindGoogle    = "google"
	KindMicrosoft = "microsoft"
	KindOkta      = "okta"
	KindOIDC      = "oidc"
	KindSAML      = "saml"
	KindJWT       = "jwt"
)

// Optional capabilities of a Provider, each a named interface the callers assert.

// ButtonChooser is a provider that decides whether the sign-in page offers it (a JWT app only
// with a remote login URL). A provider without it always gets a button when enabled.
type ButtonChooser interface {
	HasButton() bool
}

// MetadataPublisher is a provider with service-provider metadata for its IdP (SAML): the
// XML served at /sso/{slug}/metadata.
type MetadataPublisher interface {
	Metadata() ([]byte, error)
}

// RemoteLogout is a provider whose customers are sent on to a remote logout URL after signing
// out ("" = none; JWT apps).
type RemoteLogout interface {
	RemoteLogoutURL() string
}

// TokenInspector is a provider whose tokens an admin may paste and check in the test mode
// without recording them (JWT apps): the identity carries the claims even when refused.
type TokenInspector interface {
	Inspect(ctx context.Context, token string) (Identity, error)
}

// Refusal is a refused sign-in: a safe Reason code for the customer and the exact Detail for
// logs and the admin test mode. Test is true when the refused flow was an admin's test run;
// Identity carries what was received when validation got that far (test mode display).
type Refusal struct {
	Reason   Reason
	Detail   string
	Test     bool
	Identity *Identity
}

func (r *Refusal) Error() string { return "sign-in refused (" + string(r.Reason) + "): " + r.Detail }

// Refuse returns a *Refusal with a formatted detail.
func Refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// AsRefusal returns the *Refusal in err's chain, or nil.
func AsRefusal(err error) *Refusal {
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// Flows keeps short-lived sign-in state in Redis (OIDC state, SAML request ids, seen JWT ids
// and assertion ids), so that a flow may finish on another instance and survive a long stay at
// the IdP. Keys are <prefix>sso:<key>.
type Flows struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewFlows returns a flow store over rdb with the key prefix (e.g. "portico:").
func NewFlows(rdb redis.UniversalClient, prefix string) *Flows {
	return &Flows{rdb: rdb, prefix: prefix + "sso:"}
}

// Put stores v (JSON) under key for ttl.
func (f *Flows) Put(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.rdb.Set(ctx, f.prefix+key, b, ttl).Err()
}

// Take reads and deletes key into v (single use: GETDEL). It returns false when the key is
// unknown or expired.
func (f *Flows) Take(ctx context.Context, key string, v any) (bool, error) {
	b, err := f.rdb.GetDel(ctx, f.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// Once records key until expiry with SET NX and reports whether it was new (false: seen
// before, a replay). An expiry in the past still records the key for one second.
func (f *Flows) Once(ctx context.Context, key string, until time.Time) (bool, error) {
	ttl := time.Until(until)
	if ttl < time.Second {
		ttl = time.Second
	}
	return f.rdb.SetNX(ctx, f.prefix+key, "1", ttl).Result()
}

// Registry holds the configured providers by slug (disabled ones too, for the admin test mode). Load builds them (from the identity_providers
// table, see server); a provider that fails to build is left out and logged, never breaking
// the others. Reload is called on every instance when an admin changes a provider.
type Registry struct {
	mu        sync.RWMutex
	providers map[string]Provider
	load      func(ctx context.Context) ([]Provider, error)
	log       *slog.Logger
}

// NewRegistry returns an empty registry whose Reload calls load.
func NewRegistry(load func(ctx context.Context) ([]Provider, error), log *slog.Logger) *Registry {
	return &Registry{providers: map[string]Provider{}, load: load, log: log}
}

// Reload rebuilds the registry. On error the previous providers stay in place.
func (r *Registry) Reload(ctx context.Context) error {
	list, err := r.load(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]Provider, len(list))
	for _, p := range list {
		m[p.Info().Slug] = p
	}
	r.mu.Lock()
	r.providers = m
	r.mu.Unlock()
	return nil
}

// Get returns the provider with slug (enabled or, for test runs, disabled).
func (r *Registry) Get(slug string) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[slug]
	return p, ok
}

// Buttons returns the enabled providers for the sign-in page, by label. JWT providers appear
// only when they have a remote login URL (Begin fails otherwise).
func (r *Registry) Buttons() []ProviderInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ProviderInfo, 0, len(r.providers))
	for _, p := range r.providers {
		if !p.Info().Enabled {
			continue
		}
		if b, ok := p.(ButtonChooser); ok && !b.HasButton() {
			continue
		}
		out = append(out, p.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}
