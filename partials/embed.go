// Package partials embeds Portico's templates (names = path relative to this folder, without
// ".html") and translation catalogues (locales/*.toml, go-i18n v2 format).
package partials

import "embed"

// FS holds every template and catalogue.
//
//go:embed layouts pages tickets shared locales admin inbox accounts account email forms kb sso api
var FS embed.FS
