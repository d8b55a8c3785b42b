package partials

import (
	"html/template"
	"io/fs"
	"strings"
	"testing"
)

// loadAll parses every template of FS under its name (path without ".html"), as the server's
// engine does, with stand-ins for the engine's functions.
func loadAll(t *testing.T) *template.Template {
	t.Helper()
	set := template.New("").Funcs(template.FuncMap{"embed": func() string { return "" }, "ssoButtons": func() []any { return nil }})
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		_, err = set.New(strings.TrimSuffix(path, ".html")).Parse(string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestEveryPartialExists: every {{template}} call of the shipped templates names a template.
func TestEveryPartialExists(t *testing.T) {
	if err := Check(loadAll(t)); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsAMissingPartial: a call to an undefined partial, also nested in if/range/with,
// is reported with its caller.
func TestCheckFindsAMissingPartial(t *testing.T) {
	set := loadAll(t)
	template.Must(set.New("pages/broken").Parse(`{{if .}}{{range .}}{{with .}}{{template "shared/nope" .}}{{end}}{{end}}{{end}}`))
	err := Check(set)
	if err == nil || !strings.Contains(err.Error(), "pages/broken → shared/nope") {
		t.Fatalf("Check = %v", err)
	}
}
