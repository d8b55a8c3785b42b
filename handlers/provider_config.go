package handlers

import (
	"portico/auth/providers"
	"portico/sql/store"
)

// ProviderConfig maps an identity_providers row to the protocols' own configuration
// (providers.Config): slug, kind, name, enabled flag, settings and sealed secrets. The map of
// settings is shared, not copied.
func ProviderConfig(row store.IdentityProvider) providers.Config {
	return providers.Config{Slug: row.Slug, Kind: row.Kind, Name: row.Name, Enabled: row.Enabled,
		Settings: row.Settings, Secrets: row.Secrets, SecretsChanged: row.SecretsChanged}
}

// EditProviderConfig runs fn (providers.Apply, EnsureSPKey, RotateSPKey…) on row's
// configuration and writes back what fn may change: settings, sealed secrets and
// SecretsChanged. fn's error is returned (the row is written back even then, as fn left it).
func EditProviderConfig(row *store.IdentityProvider, fn func(*providers.Config) error) error {
	cfg := ProviderConfig(*row)
	err := fn(&cfg)
	row.Settings, row.Secrets, row.SecretsChanged = cfg.Settings, cfg.Secrets, cfg.SecretsChanged
	return err
}

// ApplyProvider is providers.Apply on row: it merges newSecrets into the sealed secrets,
// validates, gives a SAML provider its SP key and seals (the admin console, the CLI and the
// tests share it). Errors: *providers.ConfigError, or secrets that do not open.
func ApplyProvider(row *store.IdentityProvider, newSecrets map[string]string, sealer *providers.Sealer, insecure bool) error {
	return EditProviderConfig(row, func(cfg *providers.Config) error { return providers.Apply(cfg, newSecrets, sealer, insecure) })
}
