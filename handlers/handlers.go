package handlers

import (
	"context"
	"log/slog"

	"portico/auth"
	"portico/auth/providers"
	"portico/config"
	"portico/sql/store"
)

// Handlers carries what every handler needs. Build it once in server.New.
type Handlers struct {
	Config    *config.Config
	Store     *store.Store
	Sessions  *auth.Sessions
	Catalogue *Catalogue
	// Assets maps a static file name to its checksummed URL.
	Assets func(string) string
	Log    *slog.Logger
	// SettingsChanged tells every instance that settings changed (Redis pub/sub); it must also
	// invalidate this instance's cache. Nil in tests that do not need it.
	SettingsChanged func(ctx context.Context) error
	// Live carries ticket-change notices between instances (Redis pub/sub) to open ticket pages.
	Live *Live
	// Limiter and Limits throttle sign-in failures and mail requests (issue 3).
	Limiter *auth.Limiter
	Limits  auth.Limits
	// TOTP keeps staff second-factor state (pending sign-ins, unconfirmed secrets) in Redis;
	// TOTPSealer seals TOTP secrets at rest (its own HKDF key, providers.TOTPSealerInfo).
	TOTP       *auth.SecondFactor
	TOTPSealer *providers.Sealer
	// MailSealer seals inboxes' IMAP passwords (its own HKDF key, server.MailSealerInfo).
	MailSealer *providers.Sealer
	// WebhookSealer seals webhooks' signing secrets (its own HKDF key, store.WebhookSealerInfo).
	WebhookSealer *providers.Sealer
	// SSO is the identity-provider registry (issue 5); SSODeps builds providers for the admin
	// console; ProvidersChanged reloads the registry on every instance (Redis pub/sub).
	SSO              *auth.Registry
	SSODeps          providers.Deps
	ProvidersChanged func(ctx context.Context) error
	// RatingLinks checks the satisfaction links of closing mails (issue 16.4).
	RatingLinks *store.RatingLinks
	// Guests keeps the sessions guest links open (issue 16.3), apart from Sessions.
	Guests *auth.GuestSessions
	// APIAuthenticate resolves a bearer token to its principal (the server's cached
	// Store.APIAuthenticate); nil: Store.APIAuthenticate itself.
	APIAuthenticate func(ctx context.Context, token string) (store.APIPrincipal, error)
	// APITokenRevoked drops a revoked token from this instance's cache at once (the other
	// instances hear of it from PostgreSQL); nil when nothing is cached.
	APITokenRevoked func(tokenID int64)
}

// apiTokenRevoked tells this instance's token cache that tokenID was revoked.
func (h *Handlers) apiTokenRevoked(tokenID int64) {
	if h.APITokenRevoked != nil {
		h.APITokenRevoked(tokenID)
	}
}
