package handlers

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"portico/partials"
)

// catalogueTexts returns lang → id → every text of the message (plural forms included).
func catalogueTexts(t *testing.T) map[string]map[string][]string {
	t.Helper()
	files, _ := fs.Glob(partials.FS, "locales/*.toml")
	out := map[string]map[string][]string{}
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(path.Base(f), ".toml"), ".")
		lang := parts[len(parts)-1]
		var m map[string]any
		b, _ := fs.ReadFile(partials.FS, f)
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out[lang] == nil {
			out[lang] = map[string][]string{}
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out[lang][k] = []string{x}
			case map[string]any:
				for _, form := range x {
					if s, ok := form.(string); ok {
						out[lang][k] = append(out[lang][k], s)
					}
				}
			}
		}
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z]+)\s*\}\}`)

// placeholders returns the sorted, distinct variables a text substitutes ({{.Name}} → Name).
func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestSubstitutedNamesAreWholeMessages: every message that substitutes a name ({{.Portal}},
// {{.Ticket}}, {{.Name}}, …) is one whole message in every language: each language substitutes
// the same names (none dropped, none added), around words of its own (never a bare name), and
// no message is a fragment meant to be glued to another (leading or trailing spaces). Templates
// never glue a translated label to a name with a bare space or colon: such a sentence must be
// one message with the name substituted (a title separator " · " and a count in brackets are
// not sentences).
func TestSubstitutedNamesAreWholeMessages(t *testing.T) {
	cat := catalogueTexts(t)
	langs := []string{"en", "nl", "de", "fr", "es"}
	checked := 0
	for id, enTexts := range cat["en"] {
		want := placeholders(strings.Join(enTexts, " "))
		for _, lang := range langs {
			texts, ok := cat[lang][id]
			if !ok {
				continue // TestCataloguesComplete reports it
			}
			for _, s := range texts {
				if s != strings.TrimSpace(s) {
					t.Errorf("%s/%s %q starts or ends with a space: a fragment to be glued to another", lang, id, s)
				}
			}
			if len(want) == 0 {
				continue
			}
			checked++
			if got := placeholders(strings.Join(texts, " ")); !slices.Equal(got, want) {
				t.Errorf("%s/%s substitutes %v, English %v: each language must say the whole sentence with the same names", lang, id, got, want)
			}
			for _, s := range texts {
				words := placeholder.ReplaceAllString(s, "")
				if strings.IndexFunc(words, func(r rune) bool {
					return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r > 0x7f && r != 0xa0 && r != 0x202f
				}) < 0 &&
					len(placeholders(s)) == 1 && strings.TrimSpace(words) == "" {
					t.Errorf("%s/%s %q is a bare name, not a message", lang, id, s)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d messages with substituted names checked; the catalogue did not load", checked)
	}

	// Templates: {{.T "Label"}}: {{.Name}} or {{.Name}} {{.T "Label"}} builds a sentence by
	// concatenation. Allowed between them: a title separator or a bracketed count, or nothing
	// when the label is a whole sentence of its own (ends with . ! ?).
	glued := regexp.MustCompile(`\{\{-?\s*\$?\.T "([A-Za-z_]+)"\s*-?\}\}([^<{]{0,3})\{\{-?\s*\$?\.[A-Z][A-Za-z.]*\s*-?\}\}|\{\{-?\s*\$?\.[A-Z][A-Za-z.]*\s*-?\}\}([^<{>]{0,3})\{\{-?\s*\$?\.T "([A-Za-z_]+)"\s*-?\}\}`)
	err := fs.WalkDir(partials.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, _ := fs.ReadFile(partials.FS, p)
		for _, m := range glued.FindAllStringSubmatch(string(b), -1) {
			id, sep := m[1], m[2]
			if id == "" {
				id, sep = m[4], m[3]
			}
			if sep == " · " || strings.HasPrefix(sep, " (") || strings.HasPrefix(sep, "(") {
				continue
			}
			if en := strings.Join(cat["en"][id], " "); strings.HasSuffix(en, ".") || strings.HasSuffix(en, "!") || strings.HasSuffix(en, "?") {
				continue // two sentences side by side
			}
			t.Errorf("%s: %q glues a translated label to a name; make it one message with the name substituted", p, m[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
