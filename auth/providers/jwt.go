package providers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"portico/auth"
)

// JWT SSO limits (SSO-CONVENTIONS.md §2.5).
const (
	// JWTMaxLifetime bounds exp - iat.
	JWTMaxLifetime = 5 * time.Minute
	// jwtMaxBytes bounds the token (GHSA-mh63-6h87-95cp: allocation on many dots).
	jwtMaxBytes = 8 << 10
	jwksTTL     = 10 * time.Minute
)

// JWTAlgorithms are the algorithms a JWT app may be configured with, one per app.
var JWTAlgorithms = []string{"HS256", "RS256", "ES256"}

// jwtProvider accepts tokens signed by the customer's own application (the Zendesk/Freshdesk
// design): exactly one algorithm and key type per app (jwt.WithValidMethods and a typed key,
// so neither "none" nor HS/RS confusion pass: OWASP JWT Cheat Sheet, ASVS 5.0 9.1.2); iat,
// exp (at most 5 minutes after iat), jti, email and name required; jti single use in Redis.
type jwtProvider struct {
	base
	alg    string
	secret []byte
	key    any // *rsa.PublicKey or *ecdsa.PublicKey from a PEM

	mu        sync.Mutex
	jwks      *jose.JSONWebKeySet
	jwksAt    time.Time
	jwksError time.Time
}

func newJWT(b base, secrets map[string]string) (*jwtProvider, error) {
	p := &jwtProvider{base: b, alg: b.setting("alg"), secret: []byte(secrets["jwt_secret"])}
	if pemText := b.setting("public_key"); pemText != "" {
		k, err := parsePublicKey(pemText, p.alg)
		if err != nil {
			return nil, err
		}
		p.key = k
	}
	return p, nil
}

// HasButton reports whether the sign-in page may offer this app: only with a remote login URL.
func (p *jwtProvider) HasButton() bool { return p.setting("remote_login_url") != "" }

// RemoteLogoutURL is where the customer's app wants customers sent after signing out ("" = none).
func (p *jwtProvider) RemoteLogoutURL() string { return p.setting("remote_logout_url") }

// Begin returns the app's remote login URL with return_to and timestamp (Zendesk's contract)
// and state: a single-use value kept in Redis for FlowTTL and bound to the browser's SSO flow
// cookie, which the app sends back with the token (form field or query parameter state), so
// the token signs in only the browser that started (login CSRF, SSO-CONVENTIONS §2.5).
func (p *jwtProvider) Begin(ctx context.Context, req auth.BeginRequest) (string, error) {
	remote := p.setting("remote_login_url")
	if remote == "" {
		return "", p.refuse(ctx, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: "no remote login URL configured", Test: req.Test})
	}
	u, err := url.Parse(remote)
	if err != nil {
		return "", err
	}
	state := auth.NewToken()
	f := flowState{Provider: p.cfg.Slug, ReturnTo: req.ReturnTo, Test: req.Test, Browser: browserHash(req.Browser)}
	if err := p.deps.Flows.Put(ctx, "jwt:"+state, f, FlowTTL); err != nil {
		return "", err
	}
	q := u.Query()
	if req.ReturnTo != "" {
		q.Set("return_to", req.ReturnTo)
	}
	q.Set("timestamp", strconv.FormatInt(p.deps.now().Unix(), 10))
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Complete validates the token from the form (POST, preferred) or query (GET ?jwt=) and
// records its jti. With a state (a flow Begin started), the state must be unused, of this
// provider and of this browser (its SSO flow cookie), and return_to is the one kept at Begin.
// Without one the token is app-initiated: refused unless the admin allowed them (setting
// allow_app_initiated), then returned as Unsolicited (the handler asks the person to confirm)
// with the posted return_to (the handler keeps only local paths).
func (p *jwtProvider) Complete(ctx context.Context, req auth.CompleteRequest) (auth.Result, error) {
	state := req.Get("state")
	if state == "" {
		if p.setting("allow_app_initiated") != "true" {
			return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonIdPInitiated,
				"a token without state (app-initiated) and app-initiated sign-in is disabled"))
		}
		id, err := p.check(ctx, req.Get("jwt"), true)
		if err != nil {
			return auth.Result{}, err
		}
		return auth.Result{Identity: id, ReturnTo: req.Get("return_to"), Unsolicited: true}, nil
	}
	var f flowState
	ok := false
	if len(state) <= 128 {
		var err error
		if ok, err = p.deps.Flows.Take(ctx, "jwt:"+state, &f); err != nil {
			return auth.Result{}, err
		}
	}
	if !ok || f.Provider != p.cfg.Slug {
		return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonExpiredFlow, "unknown, used or expired state"))
	}
	if !f.sameBrowser(req.Browser) {
		return auth.Result{}, p.refuse(ctx, auth.Refuse(auth.ReasonExpiredFlow, "the state was issued to another browser (no or another SSO flow cookie)"))
	}
	id, err := p.check(ctx, req.Get("jwt"), true)
	if err != nil {
		return auth.Result{}, err
	}
	return auth.Result{Identity: id, ReturnTo: f.ReturnTo}, nil
}

// Inspect validates token like Complete but records nothing (admin test mode). The returned
// identity carries the claims even when validation failed after decoding.
func (p *jwtProvider) Inspect(ctx context.Context, token string) (auth.Identity, error) {
	return p.check(ctx, token, false)
}

func (p *jwtProvider) check(ctx context.Context, token string, consume bool) (auth.Identity, error) {
	token = strings.TrimSpace(token)
	refuse := func(reason auth.Reason, format string, args ...any) (auth.Identity, error) {
		r := auth.Refuse(reason, format, args...)
		r.Test = !consume
		if r.Test {
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err == nil {
				r.Identity = &auth.Identity{Provider: p.cfg.Slug, Claims: claims}
			}
		}
		return auth.Identity{}, p.refuse(ctx, r)
	}
	if token == "" {
		return refuse(auth.ReasonInvalid, "no token (field jwt)")
	}
	if len(token) > jwtMaxBytes {
		return refuse(auth.ReasonInvalid, "token larger than %d bytes", jwtMaxBytes)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{p.alg}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(p.skew()), jwt.WithTimeFunc(p.deps.now)}
	if v := p.setting("issuer"); v != "" {
		opts = append(opts, jwt.WithIssuer(v))
	}
	if v := p.setting("token_audience"); v != "" {
		opts = append(opts, jwt.WithAudience(v))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, p.keyFor(ctx)); err != nil {
		return refuse(auth.ReasonInvalid, "%v", err)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil {
		return refuse(auth.ReasonInvalid, "claim iat is required")
	}
	if exp.Sub(iat.Time) > JWTMaxLifetime {
		return refuse(auth.ReasonInvalid, "exp is %s after iat; at most %s is allowed", exp.Sub(iat.Time), JWTMaxLifetime)
	}
	jti := str(claims["jti"])
	if jti == "" || len(jti) > 200 {
		return refuse(auth.ReasonInvalid, "claim jti is required (at most 200 characters)")
	}
	email, name := str(claims["email"]), str(claims["name"])
	if email == "" || name == "" {
		return refuse(auth.ReasonInvalid, "claims email and name are required")
	}
	subject := str(claims["external_id"])
	if subject == "" {
		subject = strings.ToLower(email)
	}
	id := auth.Identity{Provider: p.cfg.Slug, Subject: subject, Email: email, EmailVerified: p.assertedEmailVerified(email, claims), Name: name,
		Company: str(claims["organization"]), Groups: strs(claims["groups"]), Locale: str(claims["locale"]), Claims: claims}
	if consume {
		fresh, err := p.deps.Flows.Once(ctx, "jti:"+p.cfg.Slug+":"+jti, exp.Add(p.skew()))
		if err != nil {
			return auth.Identity{}, err
		}
		if !fresh {
			return refuse(auth.ReasonReplayed, "jti %q was already used", jti)
		}
	}
	return id, nil
}

// keyFor returns the keyfunc: a key of the one type the app's algorithm takes, never another.
func (p *jwtProvider) keyFor(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != p.alg { // WithValidMethods already refused it; belt and braces
			return nil, fmt.Errorf("algorithm %s is not %s", t.Method.Alg(), p.alg)
		}
		switch {
		case p.alg == "HS256":
			return p.secret, nil
		case p.key != nil:
			return p.key, nil
		}
		kid, _ := t.Header["kid"].(string)
		return p.jwksKey(ctx, kid)
	}
}

// jwksKey finds kid in the app's JWKS (fetched from jwks_url, cached 10 minutes, refetched once
// for an unknown kid). The key must be of the algorithm's type.
func (p *jwtProvider) jwksKey(ctx context.Context, kid string) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if p.jwks == nil || time.Since(p.jwksAt) > jwksTTL || attempt == 1 {
			if time.Since(p.jwksError) < 5*time.Second {
				return nil, errors.New("JWKS fetch failed less than 5 s ago")
			}
			set, err := p.fetchJWKS(ctx)
			if err != nil {
				p.jwksError = time.Now()
				return nil, err
			}
			p.jwks, p.jwksAt = set, time.Now()
		}
		for _, k := range p.jwks.Keys {
			if kid != "" && k.KeyID != kid {
				continue
			}
			if k.Algorithm != "" && k.Algorithm != p.alg {
				continue
			}
			if keyMatches(k.Key, p.alg) {
				return k.Key, nil
			}
		}
	}
	return nil, fmt.Errorf("no %s key with kid %q in the JWKS", p.alg, kid)
}

func (p *jwtProvider) fetchJWKS(ctx context.Context) (*jose.JSONWebKeySet, error) {
	req, err := httpGet(ctx, p.setting("jwks_url"))
	if err != nil {
		return nil, err
	}
	resp, err := p.deps.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("JWKS: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return &set, nil
}

func keyMatches(k any, alg string) bool {
	switch key := k.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" && key.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		return alg == "ES256" && key.Curve == elliptic.P256()
	}
	return false
}

// parsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", or a certificate) of alg's type.
func parsePublicKey(text, alg string) (any, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, &ConfigError{Field: "public_key", MessageID: "SSOKeyInvalid"}
	}
	var k any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			k = c.PublicKey
		}
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil || !keyMatches(k, alg) {
		return nil, &ConfigError{Field: "public_key", MessageID: "SSOKeyInvalid"}
	}
	return k, nil
}

func checkJWT(cfg Config, secrets map[string]string, insecure bool, add func(field, msg string)) {
	s := func(k string) string { return strings.TrimSpace(cfg.Settings[k]) }
	alg := s("alg")
	known := false
	for _, a := range JWTAlgorithms {
		known = known || a == alg
	}
	switch {
	case !known:
		add("alg", "SSOAlgInvalid")
	case alg == "HS256":
		if len(secrets["jwt_secret"]) < 32 {
			add("jwt_secret", "SSOJWTSecretWeak")
		}
	case s("public_key") != "":
		if _, err := parsePublicKey(s("public_key"), alg); err != nil {
			add("public_key", "SSOKeyInvalid")
		}
	case s("jwks_url") != "":
		if !checkURL(s("jwks_url"), insecure) {
			add("jwks_url", "SSOJWKSURLInvalid")
		}
	default:
		add("public_key", "SSOKeyRequired")
	}
	for _, k := range []string{"remote_login_url", "remote_logout_url"} {
		if v := s(k); v != "" && !checkURL(v, insecure) {
			add(k, "SSORemoteURLInvalid")
		}
	}
}

func httpGet(ctx context.Context, u string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
}
