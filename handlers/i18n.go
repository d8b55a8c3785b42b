package handlers

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"portico/partials"
)

// Catalogue is the translation catalogue: every user-facing string goes through it
// (github.com/nicksnyder/go-i18n/v2, TOML files in partials/locales).
type Catalogue struct {
	bundle  *i18n.Bundle
	matcher language.Matcher
	tags    []language.Tag
}

// NewCatalogue loads every partials/locales/*.toml; English is the default and fallback. Files
// are named LANG.toml or AREA.LANG.toml (e.g. accounts.nl.toml), so each area keeps its own.
// Errors: a catalogue that does not parse.
func NewCatalogue() (*Catalogue, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	files, err := fs.Glob(partials.FS, "locales/*.toml")
	if err != nil {
		return nil, err
	}
	tags := []language.Tag{language.English}
	for _, f := range files {
		data, err := fs.ReadFile(partials.FS, f)
		if err != nil {
			return nil, err
		}
		mf, err := b.ParseMessageFileBytes(data, path.Base(f))
		if err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", f, err)
		}
		known := false
		for _, t := range tags {
			known = known || t == mf.Tag
		}
		if !known {
			tags = append(tags, mf.Tag)
		}
	}
	return &Catalogue{bundle: b, matcher: language.NewMatcher(tags), tags: tags}, nil
}

// Locale is a localizer for one request's language.
type Locale struct {
	// Lang is the BCP 47 tag, e.g. "en" or "nl", for <html lang>.
	Lang string
	loc  *i18n.Localizer
}

// Match picks the best supported language for an Accept-Language header (RFC 9110 §12.5.4).
func (c *Catalogue) Match(acceptLanguage string) *Locale {
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, idx, _ := c.matcher.Match(tags...)
	tag := c.tags[idx]
	base, _ := tag.Base()
	return &Locale{Lang: base.String(), loc: i18n.NewLocalizer(c.bundle, tag.String())}
}

// Languages lists the supported languages.
func (c *Catalogue) Languages() []string {
	out := make([]string, len(c.tags))
	for i, t := range c.tags {
		out[i] = t.String()
	}
	return out
}

// T translates message id; args are alternating template keys and values ("Count", 3).
// A missing message renders as its id, so a gap is visible rather than fatal.
func (l *Locale) T(id string, args ...any) string {
	var data map[string]any
	if len(args) > 1 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil || strings.TrimSpace(s) == "" {
		return id
	}
	return s
}
