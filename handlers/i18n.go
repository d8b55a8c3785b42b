package handlers

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gofiber/fiber/v2"
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
	// locales holds one Locale per supported tag (by tag string), built once: a request copies
	// one (Pick, Match) instead of building a localizer.
	locales map[string]*Locale
	// accept remembers the Locale chosen for an Accept-Language header (nil: no confident
	// match), for at most maxAcceptCache distinct headers: parsing and matching one cost more
	// than the rest of the locale's work.
	accept  sync.Map
	acceptN atomic.Int64
}

// maxAcceptCache bounds the distinct Accept-Language headers Catalogue remembers.
const maxAcceptCache = 4096

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
	ids := map[string]bool{}
	for _, f := range files {
		data, err := fs.ReadFile(partials.FS, f)
		if err != nil {
			return nil, err
		}
		mf, err := b.ParseMessageFileBytes(data, path.Base(f))
		if err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", f, err)
		}
		for _, m := range mf.Messages {
			ids[m.ID] = true
		}
		known := false
		for _, t := range tags {
			known = known || t == mf.Tag
		}
		if !known {
			tags = append(tags, mf.Tag)
		}
	}
	c := &Catalogue{bundle: b, matcher: language.NewMatcher(tags), tags: tags, locales: map[string]*Locale{}}
	for _, tag := range tags {
		l := c.newLocale(tag)
		// Every message's argument-free translation, once: templates ask for most of them on
		// every request ({{.T "Search"}}), each a go-i18n lookup and template execution.
		l.withArgs = &argMemo{}
		l.plain = make(map[string]string, len(ids))
		for id := range ids {
			l.plain[id] = l.translate(id, nil)
		}
		c.locales[tag.String()] = l
	}
	for _, l := range c.locales {
		for _, code := range c.Languages() {
			l.options = append(l.options, LanguageOption{Code: code, Name: languageNames[code], Current: code == l.Lang})
		}
	}
	return c, nil
}

// Locale is a localizer for one request's language.
type Locale struct {
	// Lang is the BCP 47 tag, e.g. "en" or "nl", for <html lang>.
	Lang string
	loc  *i18n.Localizer
	tag  language.Tag
	// Zone is the viewer's time zone (from the browser, see ZoneFromCookie); nil means UTC.
	Zone *time.Location
	// plain holds T(id) without arguments for every message of the catalogue (shared, read-only).
	plain map[string]string
	// withArgs remembers T with string or integer arguments (shared by the language's requests).
	withArgs *argMemo
	// options is the language switcher with this language marked (shared, read-only).
	options []LanguageOption
}

// argMemo remembers translations with arguments, keyed by message id and arguments, for at most
// maxArgMemo keys (arguments may carry names: the memory stays bounded).
type argMemo struct {
	m sync.Map
	n atomic.Int64
}

// maxArgMemo bounds the translations with arguments one language remembers.
const maxArgMemo = 8192

// argKey returns the memo key of id with args, and false when an argument is neither a string
// nor an integer (those are not remembered).
func argKey(id string, args []any) (string, bool) {
	b := make([]byte, 0, 64)
	b = append(b, id...)
	for _, a := range args {
		b = append(b, 0)
		switch v := a.(type) {
		case string:
			b = append(b, 's')
			b = append(b, v...)
		case int:
			b = append(b, 'i')
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = append(b, 'l')
			b = strconv.AppendInt(b, v, 10)
		default:
			return "", false
		}
	}
	return string(b), true
}

// Match picks the best supported language for an Accept-Language header (RFC 9110 §12.5.4).
func (c *Catalogue) Match(acceptLanguage string) *Locale {
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, idx, _ := c.matcher.Match(tags...)
	return c.locale(c.tags[idx])
}

// locale returns a request's own copy of the Locale of tag (its Zone is the request's).
func (c *Catalogue) locale(tag language.Tag) *Locale {
	if l, ok := c.locales[tag.String()]; ok {
		cp := *l
		return &cp
	}
	return c.newLocale(tag)
}

func (c *Catalogue) newLocale(tag language.Tag) *Locale {
	base, _ := tag.Base()
	return &Locale{Lang: base.String(), loc: i18n.NewLocalizer(c.bundle, tag.String()), tag: tag}
}

// acceptLocale returns the Locale of the best confident match for an Accept-Language header
// (nil when none is), remembering the answer for the next request with the same header.
func (c *Catalogue) acceptLocale(acceptLanguage string) *Locale {
	if v, ok := c.accept.Load(acceptLanguage); ok {
		return v.(*Locale)
	}
	var l *Locale
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		_, idx, conf := c.matcher.Match(tags...)
		if conf != language.No {
			l = c.locales[c.tags[idx].String()]
		}
	}
	if c.acceptN.Load() < maxAcceptCache {
		if _, loaded := c.accept.LoadOrStore(acceptLanguage, l); !loaded {
			c.acceptN.Add(1)
		}
	}
	return l
}

// supportedLocale is Supported's Locale for code (nil when code names no supported language),
// without parsing when code is a supported tag as it is ("nl").
func (c *Catalogue) supportedLocale(code string) *Locale {
	if code == "" {
		return nil
	}
	if l, ok := c.locales[code]; ok {
		return l
	}
	if l, ok := c.Supported(code); ok {
		tag := language.Make(l)
		if loc, ok := c.locales[tag.String()]; ok {
			return loc
		}
		return c.newLocale(tag)
	}
	return nil
}

// Supported returns the supported language named by code ("de", "de-AT" → "de") and whether
// there is one.
func (c *Catalogue) Supported(code string) (string, bool) {
	t, err := language.Parse(code)
	if err != nil || code == "" {
		return "", false
	}
	base, _ := t.Base()
	for _, s := range c.tags {
		if b, _ := s.Base(); b == base {
			return b.String(), true
		}
	}
	return "", false
}

// Pick chooses the request's language by precedence: the signed-in contact's own choice, then
// the switcher's (cookie), then the browser's Accept-Language, then the portal default. Each
// step counts only when it names a supported language.
func (c *Catalogue) Pick(contact, switcher, acceptLanguage, portalDefault string) *Locale {
	l := c.supportedLocale(contact)
	if l == nil {
		l = c.supportedLocale(switcher)
	}
	if l == nil && acceptLanguage != "" {
		l = c.acceptLocale(acceptLanguage)
	}
	if l == nil {
		l = c.supportedLocale(portalDefault)
	}
	if l == nil {
		l = c.locales[c.tags[0].String()]
	}
	cp := *l
	return &cp
}

// LanguageOptions returns the language switcher's entries with l's language marked: shared,
// read-only (built once per supported language; built afresh for any other Locale).
func (c *Catalogue) LanguageOptions(l *Locale) []LanguageOption {
	if l.options != nil {
		return l.options
	}
	var out []LanguageOption
	for _, code := range c.Languages() {
		out = append(out, LanguageOption{Code: code, Name: languageNames[code], Current: code == l.Lang})
	}
	return out
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
// A "Count" argument also chooses the plural form (a message written as
// { one = "…", other = "…" }); it may be a number or a number formatted by Number.
// A missing message renders as its id, so a gap is visible rather than fatal.
func (l *Locale) T(id string, args ...any) string {
	if len(args) == 0 {
		if s, ok := l.plain[id]; ok {
			return s
		}
		return l.translate(id, nil)
	}
	if l.withArgs == nil {
		return l.translate(id, args)
	}
	key, ok := argKey(id, args)
	if !ok {
		return l.translate(id, args)
	}
	if s, ok := l.withArgs.m.Load(key); ok {
		return s.(string)
	}
	s := l.translate(id, args)
	if l.withArgs.n.Load() < maxArgMemo {
		if _, loaded := l.withArgs.m.LoadOrStore(key, s); !loaded {
			l.withArgs.n.Add(1)
		}
	}
	return s
}

// translate is T through go-i18n, without the cache of argument-free messages.
func (l *Locale) translate(id string, args []any) string {
	var data map[string]any
	if len(args) > 1 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok {
		cfg.PluralCount = pluralCount(n)
	}
	s, err := l.loc.Localize(cfg)
	if err != nil && cfg.PluralCount != nil && strings.TrimSpace(s) == "" {
		// Not a count go-i18n can read: the message's "other" form (or plain text) still fits.
		cfg.PluralCount = nil
		s, err = l.loc.Localize(cfg)
	}
	if strings.TrimSpace(s) == "" || (err != nil && cfg.PluralCount == nil) {
		return id
	}
	return s
}

// pluralCount returns n for go-i18n's PluralCount: numbers as they are, a string without its
// digit grouping ("1.234" and "1,234" → "1234"; counts are whole numbers).
func pluralCount(n any) any {
	s, ok := n.(string)
	if !ok {
		return n
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '.', ',', ' ', '\u00a0', '\u202f', '\'':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" {
		return nil
	}
	return s
}

// LanguageCookie remembers the language a visitor chose with the switcher (one year).
const LanguageCookie = "portico_lang"

// LanguageUpdate is the language switcher (POST /language: lang, return_to): it remembers the
// choice in a cookie and, for a signed-in customer, as the contact's language; then 303 back
// to return_to (a local path) or the knowledge base. An unsupported lang clears the choice
// (the browser's language applies again).
func (h *Handlers) LanguageUpdate(c *fiber.Ctx) error {
	lang, ok := h.Catalogue.Supported(c.FormValue("lang"))
	if !ok {
		lang = ""
	}
	if ct := ContactOf(c); ct != nil {
		if err := h.Store.ContactSetLanguage(c.UserContext(), ct.ID, lang); err != nil {
			return err
		}
	}
	ck := &fiber.Cookie{Name: LanguageCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HTTPOnly: true,
		Secure: h.Config.SecureCookies(), SameSite: fiber.CookieSameSiteLaxMode}
	if lang == "" {
		ck.MaxAge = -1
	}
	c.Cookie(ck)
	target := c.FormValue("return_to")
	if !LocalPath(target) {
		target = "/kb"
	}
	return Redirect(c, target)
}
