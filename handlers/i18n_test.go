package handlers

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"portico/partials"
)

// catalogueKeys returns lang → set of message ids over every partials/locales file of that language.
func catalogueKeys(t *testing.T) map[string]map[string]bool {
	t.Helper()
	files, _ := fs.Glob(partials.FS, "locales/*.toml")
	out := map[string]map[string]bool{}
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(path.Base(f), ".toml"), ".")
		lang := parts[len(parts)-1]
		var m map[string]any
		b, _ := fs.ReadFile(partials.FS, f)
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out[lang] == nil {
			out[lang] = map[string]bool{}
		}
		for k := range m {
			if out[lang][k] {
				t.Errorf("%s: %s defined twice for %s", f, k, lang)
			}
			out[lang][k] = true
		}
	}
	return out
}

// TestCataloguesComplete fails when any catalogue lacks a key that English has, or has one
// English lacks.
func TestCataloguesComplete(t *testing.T) {
	keys := catalogueKeys(t)
	en := keys["en"]
	if len(en) < 50 {
		t.Fatalf("English catalogue has only %d keys", len(en))
	}
	if len(keys) < 2 {
		t.Fatalf("only %d languages", len(keys))
	}
	for lang, m := range keys {
		var missing, extra []string
		for k := range en {
			if !m[k] {
				missing = append(missing, k)
			}
		}
		for k := range m {
			if !en[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%s: missing %v, not in English %v", lang, missing, extra)
		}
	}
}

func TestMatchAcceptLanguage(t *testing.T) {
	c, err := NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{"": "en", "nl-BE,nl;q=0.9": "nl", "fr-FR": "fr", "de;q=0.5,nl;q=0.8": "nl", "garbage;;": "en",
		"de-AT": "de", "es-419": "es", "ja,fr;q=0.1": "fr", "ja": "en"} {
		l := c.Match(header)
		if l.Lang != want {
			t.Errorf("%q → %s, want %s", header, l.Lang, want)
		}
	}
	if got := c.Match("nl").T("OwnedByMe"); got != "Mijn tickets" {
		t.Errorf("nl OwnedByMe = %q", got)
	}
	if got := c.Match("de").T("KnowledgeBase"); got != "Wissensdatenbank" {
		t.Errorf("de KnowledgeBase = %q", got)
	}
	// Pick: contact > switcher > browser > portal default; unsupported codes are skipped.
	for _, tc := range []struct{ contact, cookie, accept, def, want string }{
		{"nl", "es", "fr", "de", "nl"}, {"", "es", "fr", "de", "es"}, {"xx", "", "fr", "de", "fr"},
		{"", "", "ja", "de", "de"}, {"", "bogus", "", "es", "es"}, {"", "", "", "", "en"},
	} {
		if got := c.Pick(tc.contact, tc.cookie, tc.accept, tc.def).Lang; got != tc.want {
			t.Errorf("Pick(%q, %q, %q, %q) = %s, want %s", tc.contact, tc.cookie, tc.accept, tc.def, got, tc.want)
		}
	}
	// Dates and numbers per locale.
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	for lang, want := range map[string][2]string{"en": {"Mar 5, 2026, 14:07", "1,234,567"}, "de": {"5. März 2026, 14:07", "1.234.567"},
		"nl": {"5 mrt 2026 14:07", "1.234.567"}, "es": {"5 mar 2026, 14:07", "1.234.567"}} {
		l := c.Match(lang)
		if got := l.DateTime(when); got != want[0] {
			t.Errorf("%s DateTime = %q, want %q", lang, got, want[0])
		}
		if got := l.Number(1234567); got != want[1] {
			t.Errorf("%s Number = %q, want %q", lang, got, want[1])
		}
	}
	// French writes octets (Mo, ko) with a non-breaking space; the others keep MB.
	for lang, want := range map[string]string{"fr": "1,5\u00a0Mo", "de": "1,5 MB", "en": "1.5 MB", "nl": "1,5 MB"} {
		if got := c.Match(lang).Size(1_500_000); got != want {
			t.Errorf("%s Size = %q, want %q", lang, got, want)
		}
	}
	if got := c.Match("fr").Size(2_000); got != "2\u00a0ko" {
		t.Errorf("fr Size(2000) = %q", got)
	}
}

func TestZoneFromCookie(t *testing.T) {
	if z := ZoneFromCookie("Europe/Amsterdam"); z == nil || z.String() != "Europe/Amsterdam" {
		t.Fatalf("Europe/Amsterdam → %v", z)
	}
	for _, bad := range []string{"", "Not/AZone", "../../etc/passwd", "/etc/localtime", "Europe/Amsterdam\x00", "<script>"} {
		if z := ZoneFromCookie(bad); z != nil {
			t.Errorf("%q accepted as %v", bad, z)
		}
	}
	c, _ := NewCatalogue()
	l := c.Match("en")
	when := time.Date(2026, 3, 5, 23, 30, 0, 0, time.UTC)
	l.Zone = ZoneFromCookie("Europe/Amsterdam")
	if got := l.DateTime(when); got != "Mar 6, 2026, 00:30" {
		t.Errorf("Amsterdam time = %q", got)
	}
}
