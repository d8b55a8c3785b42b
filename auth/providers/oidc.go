package providers

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/openidConnect"
	"golang.org/x/oauth2"

	"portico/auth"
)

// Discovery documents of the hosted identity providers (overridden by setting discovery_url).
const (
	googleDiscovery    = "https://accounts.google.com/.well-known/openid-configuration"
	microsoftDiscovery = "https://login.microsoftonline.com/%s/v2.0/.well-known/openid-configuration"
)

// oidcProvider signs in through OpenID Connect's authorization-code flow with goth's
// openidConnect provider (Google, Microsoft Entra ID, Okta and any OpenID provider by
// discovery). goth's BeginAuth and FetchUser are called directly (never gothic): state, nonce
// and the PKCE verifier live in our Redis, bound to the browser session that started the flow
// (ASVS 5.0 10.1.2). goth checks the ID token's iss, aud and exp; we check the nonce (OIDC
// Core §3.1.3.7 step 11) and take the email as verified only when email_verified is true or the admin made the provider
// authoritative for its domain (emailVerified).
type oidcProvider struct {
	base
	clientSecret string

	mu      sync.Mutex
	goth    *openidConnect.Provider
	lastErr time.Time
}

func newOIDC(b base, secrets map[string]string) *oidcProvider {
	return &oidcProvider{base: b, clientSecret: secrets["client_secret"]}
}

// DiscoveryURL returns the discovery document URL of an OIDC-family provider cfg.
func DiscoveryURL(cfg Config) string {
	if v := strings.TrimSpace(cfg.Settings["discovery_url"]); v != "" {
		return v
	}
	switch cfg.Kind {
	case auth.KindGoogle:
		return googleDiscovery
	case auth.KindMicrosoft:
		return fmt.Sprintf(microsoftDiscovery, url.PathEscape(strings.TrimSpace(cfg.Settings["tenant"])))
	case auth.KindOkta:
		return strings.TrimRight(strings.TrimSpace(cfg.Settings["org_url"]), "/") + "/.well-known/openid-configuration"
	}
	return ""
}

// client returns goth's provider, fetching discovery on first use (and again after a failure,
// at most every 10 s, so a provider that was down recovers without a restart).
func (o *oidcProvider) client() (*openidConnect.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.goth != nil {
		return o.goth, nil
	}
	if time.Since(o.lastErr) < 10*time.Second {
		return nil, fmt.Errorf("discovery failed less than 10 s ago")
	}
	p, err := openidConnect.NewNamed(o.cfg.Slug, o.setting("client_id"), o.clientSecret, o.callbackURL("callback"),
		DiscoveryURL(o.cfg), "email", "profile")
	if err != nil {
		o.lastErr = time.Now()
		return nil, fmt.Errorf("discovery %s: %w", DiscoveryURL(o.cfg), err)
	}
	p.HTTPClient = o.deps.client()
	o.goth = p
	return p, nil
}

// Begin creates state, nonce and PKCE verifier, keeps them in Redis for FlowTTL and returns
// the authorization URL (S256 challenge).
func (o *oidcProvider) Begin(ctx context.Context, req auth.BeginRequest) (string, error) {
	gp, err := o.client()
	if err != nil {
		return "", o.refuse(ctx, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: err.Error(), Test: req.Test})
	}
	state, nonce, verifier := auth.NewToken(), auth.NewToken(), oauth2.GenerateVerifier()
	sess, err := gp.BeginAuth(state)
	if err != nil {
		return "", err
	}
	authURL, err := sess.GetAuthURL()
	if err != nil {
		return "", err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("nonce", nonce)
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	f := flowState{Provider: o.cfg.Slug, ReturnTo: req.ReturnTo, Test: req.Test, Binding: req.Binding, Nonce: nonce, Verifier: verifier}
	if err := o.deps.Flows.Put(ctx, "oidc:"+state, f, FlowTTL); err != nil {
		return "", err
	}
	return u.String(), nil
}

// Complete checks the state (single use, this provider, this browser session), exchanges the
// code with the PKCE verifier, lets goth validate the ID token and read userinfo, then checks
// the nonce.
func (o *oidcProvider) Complete(ctx context.Context, req auth.CompleteRequest) (res auth.Result, err error) {
	state := req.Get("state")
	var f flowState
	ok := false
	if state != "" && len(state) <= 128 {
		if ok, err = o.deps.Flows.Take(ctx, "oidc:"+state, &f); err != nil {
			return res, err
		}
	}
	if !ok || f.Provider != o.cfg.Slug {
		return res, o.refuse(ctx, auth.Refuse(auth.ReasonExpiredFlow, "unknown, used or expired state"))
	}
	fail := func(reason auth.Reason, format string, args ...any) (auth.Result, error) {
		r := auth.Refuse(reason, format, args...)
		r.Test = f.Test
		return auth.Result{Test: f.Test}, o.refuse(ctx, r)
	}
	if f.Binding == "" || subtle.ConstantTimeCompare([]byte(f.Binding), []byte(req.Binding)) != 1 {
		return fail(auth.ReasonExpiredFlow, "the state was issued to another browser session")
	}
	if e := req.Get("error"); e != "" {
		return fail(auth.ReasonCancelled, "the provider answered error=%q: %s", e, req.Get("error_description"))
	}
	gp, err := o.client()
	if err != nil {
		return fail(auth.ReasonUnavailable, "%v", err)
	}
	sess := &openidConnect.Session{}
	if _, err := sess.Authorize(gp, url.Values{"code": {req.Get("code")}, "code_verifier": {f.Verifier}}); err != nil {
		return fail(auth.ReasonInvalid, "code exchange: %v", err)
	}
	user, err := fetchUser(gp, sess)
	if err != nil {
		return fail(auth.ReasonInvalid, "ID token: %v", err)
	}
	idClaims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(sess.IDToken, idClaims); err != nil {
		return fail(auth.ReasonInvalid, "ID token: %v", err)
	}
	if n, _ := idClaims["nonce"].(string); n == "" || n != f.Nonce {
		return fail(auth.ReasonInvalid, "ID token nonce %q does not match the nonce sent", n)
	}
	if msg := o.checkTimes(idClaims); msg != "" {
		return fail(auth.ReasonInvalid, "ID token: %s", msg)
	}
	claims := user.RawData
	id := auth.Identity{Provider: o.cfg.Slug, Subject: user.UserID, Email: strings.TrimSpace(user.Email), Name: user.Name,
		Locale: str(claims["locale"]), Claims: claims,
		Company: str(claims["organization"]), Groups: strs(claims["groups"])}
	if id.Name == "" {
		id.Name = strings.TrimSpace(user.FirstName + " " + user.LastName)
	}
	id.EmailVerified = o.emailVerified(id.Email, mergeClaims(idClaims, claims))
	return auth.Result{Identity: id, ReturnTo: f.ReturnTo, Test: f.Test}, nil
}

// checkTimes applies the provider's clock skew to the ID token's times, in both directions:
// iat and nbf at most skew in the future, exp at most skew in the past. goth has already
// refused a token expired more than 10 s ago (its fixed allowance, stricter only for tokens
// that live less than the skew; ID tokens live minutes to hours).
func (o *oidcProvider) checkTimes(claims jwt.MapClaims) string {
	now, skew := o.deps.now(), o.skew()
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil && iat.Add(-skew).After(now) {
		return fmt.Sprintf("iat %s is in the future (clock skew %s)", iat.UTC().Format(time.RFC3339), skew)
	}
	if nbf, err := claims.GetNotBefore(); err == nil && nbf != nil && nbf.Add(-skew).After(now) {
		return fmt.Sprintf("nbf %s is in the future (clock skew %s)", nbf.UTC().Format(time.RFC3339), skew)
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && !now.Before(exp.Add(skew)) {
		return fmt.Sprintf("expired at %s (clock skew %s)", exp.UTC().Format(time.RFC3339), skew)
	}
	return ""
}

// fetchUser calls goth's FetchUser, turning a panic on a malformed token into an error.
func fetchUser(gp *openidConnect.Provider, sess *openidConnect.Session) (u gothUser, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed ID token claims")
		}
	}()
	return gp.FetchUser(sess)
}

// mergeClaims returns the ID token's claims overlaid with userinfo's (xms_edov and
// email_verified may come in either).
func mergeClaims(idToken, userinfo map[string]any) map[string]any {
	out := make(map[string]any, len(idToken)+len(userinfo))
	for k, v := range idToken {
		out[k] = v
	}
	for k, v := range userinfo {
		out[k] = v
	}
	return out
}

func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

func strs(v any) []string {
	switch t := v.(type) {
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	case string:
		var out []string
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

type gothUser = goth.User
