package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"portico/auth"
)

// DiscoveryTimeout bounds CheckDiscovery's fetch of a discovery document.
const DiscoveryTimeout = 5 * time.Second

// DiscoveryField returns the form field an OpenID Connect provider's discovery URL comes
// from: discovery_url when set, else what the kind derives it from (Okta's org_url, Microsoft's
// tenant); "" for kinds without discovery.
func DiscoveryField(cfg Config) string {
	if strings.TrimSpace(cfg.Settings["discovery_url"]) != "" {
		return "discovery_url"
	}
	switch cfg.Kind {
	case auth.KindOIDC, auth.KindGoogle:
		return "discovery_url"
	case auth.KindOkta:
		return "org_url"
	case auth.KindMicrosoft:
		return "tenant"
	}
	return ""
}

// CheckDiscovery fetches an OpenID Connect provider's discovery document (OpenID Connect
// Discovery 1.0 §4: GET, 200, a JSON object with issuer, authorization_endpoint, token_endpoint
// and jwks_uri) so that a provider customers cannot sign in with is never enabled. It returns
// nil for other kinds and a *ConfigError for the field the URL comes from: SSODiscoveryUnreachable
// (no answer, or not 200) or SSODiscoveryInvalid (not such a document), with the cause as
// Detail. It waits at most DiscoveryTimeout.
func CheckDiscovery(ctx context.Context, cfg Config, deps Deps) error {
	field := DiscoveryField(cfg)
	if field == "" || cfg.Kind == auth.KindSAML || cfg.Kind == auth.KindJWT {
		return nil
	}
	u := DiscoveryURL(cfg)
	if !checkURL(u, deps.AllowInsecureURLs) {
		return &ConfigError{Field: field, MessageID: "SSODiscoveryURLInvalid"}
	}
	ctx, cancel := context.WithTimeout(ctx, DiscoveryTimeout)
	defer cancel()
	req, err := httpGet(ctx, u)
	if err != nil {
		return &ConfigError{Field: field, MessageID: "SSODiscoveryURLInvalid"}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := deps.client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &ConfigError{Field: field, MessageID: "SSODiscoveryUnreachable", Detail: err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &ConfigError{Field: field, MessageID: "SSODiscoveryUnreachable", Detail: resp.Status}
	}
	var doc struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return &ConfigError{Field: field, MessageID: "SSODiscoveryInvalid", Detail: "not JSON"}
	}
	var missing []string
	for k, v := range map[string]string{"issuer": doc.Issuer, "authorization_endpoint": doc.AuthorizationEndpoint,
		"token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JWKSURI} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return &ConfigError{Field: field, MessageID: "SSODiscoveryInvalid", Detail: fmt.Sprintf("no %s", strings.Join(missing, ", "))}
	}
	return nil
}
