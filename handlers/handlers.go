package handlers

import (
	"context"
	"log/slog"

	"portico/auth"
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
}
