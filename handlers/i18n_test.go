package handlers

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"

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
	for header, want := range map[string]string{"": "en", "nl-BE,nl;q=0.9": "nl", "fr-FR": "en", "de;q=0.5,nl;q=0.8": "nl", "garbage;;": "en"} {
		l := c.Match(header)
		if l.Lang != want {
			t.Errorf("%q → %s, want %s", header, l.Lang, want)
		}
	}
	if got := c.Match("nl").T("OwnedByMe"); got != "Eigendom van mij" {
		t.Errorf("nl OwnedByMe = %q", got)
	}
}
