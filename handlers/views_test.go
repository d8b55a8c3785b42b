package handlers

import (
	"bytes"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/gofiber/template/html/v2"

	"portico/partials"
	"portico/sql/store"
)

// engineFS is partials.FS with the layouts as the gofiber engine expects them ({{embed}} where
// Views prints {{.Body}}): the reference Views.Render must match byte for byte.
func engineFS(t testing.TB) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(partials.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(partials.FS, path)
		if err != nil {
			return err
		}
		m[path] = &fstest.MapFile{Data: bytes.ReplaceAll(b, []byte("{{.Body}}"), []byte("{{embed}}"))}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newEngine(fsys fs.FS) *html.Engine {
	e := html.NewFileSystem(http.FS(fsys), ".html")
	e.AddFunc("ssoButtons", func() []any { return nil })
	return e
}

// TestViewsRenderLikeTheEngine: pages in each of the three layouts, and fragments, render
// byte for byte as gofiber/template/html's layout embedding rendered them, also when many
// renders run at once (Views holds no lock and changes no shared state), and Body is cleared.
func TestViewsRenderLikeTheEngine(t *testing.T) {
	cat, err := NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	ref := newEngine(engineFS(t))
	if err := ref.Load(); err != nil {
		t.Fatal(err)
	}
	v := NewViews(newEngine(partials.FS))
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	newPage := func(lang string) *Page {
		loc := cat.Match(lang)
		p := &Page{Title: "Tickets <&>", PortalTitle: "Acme's \"portal\"", TicketsLabel: "Tickets", Locale: loc, CSRF: "tok'en",
			Contact: &store.Contact{ID: 7, Name: "Bob <b>"}, Assets: func(n string) string { return "/static/" + n + "?v=1" },
			SupportForm: "New ticket", KBLink: true, ReturnTo: "/tickets?q=a&b", LogoURL: "/branding/logo?v=3"}
		for _, code := range cat.Languages() {
			p.Languages = append(p.Languages, LanguageOption{Code: code, Name: languageNames[code], Current: code == loc.Lang})
		}
		return p
	}
	lv := &listView{State: listState{View: "org", Q: `"x"`, Status: store.StatusAll, Sort: "-activity"}, CanSeeOrg: true,
		RowsHTML: listRowsHTML([]listRow{{Href: "/tickets/1", Subject: "<i>s</i>", Status: "Open", StatusClass: "open"}}, rowLabels{Requester: "By <x>"}),
		NextHref: "/tickets?cursor=abc", Announce: "1 ticket"}
	errData := map[string]string{"Title": "Oops", "Text": "It <broke>", "BackHref": "/kb", "BackLabel": "Back"}
	cases := []struct {
		name, layout string
		data         any
	}{
		{"pages/tickets", "layouts/base", lv},
		{"pages/error", "layouts/base", errData},
		{"pages/error", "layouts/admin", errData},
		{"pages/error", "kb/layout", errData},
		{"tickets/list", "", lv},
		{"shared/error", "", errData},
	}
	for _, lang := range []string{"en", "nl"} {
		for _, tc := range cases {
			var want, got bytes.Buffer
			p := newPage(lang)
			p.Data = tc.data
			var layouts []string
			if tc.layout != "" {
				layouts = []string{tc.layout}
			}
			if err := ref.Render(&want, tc.name, p, layouts...); err != nil {
				t.Fatal(err)
			}
			if err := v.Render(&got, tc.name, p, layouts...); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("%s in %q (%s) differs from the engine:\n got %q\nwant %q", tc.name, tc.layout, lang, got.String(), want.String())
			}
			if p.Body != "" {
				t.Fatalf("%s: Body left set after the render", tc.name)
			}
			if tc.layout != "" && !strings.Contains(got.String(), "</html>") {
				t.Fatalf("%s in %s: no layout around the page", tc.name, tc.layout)
			}
			// Concurrent renders of the same page agree with the single one.
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					p := newPage(lang)
					p.Data = tc.data
					var b bytes.Buffer
					if err := v.Render(&b, tc.name, p, layouts...); err != nil || b.String() != want.String() {
						t.Errorf("%s: concurrent render differs (%v)", tc.name, err)
					}
				})
			}
			wg.Wait()
		}
	}
	if err := v.Render(&bytes.Buffer{}, "pages/error", errData, "layouts/base"); err == nil {
		t.Fatal("a layout without a *Page must fail")
	}
	if err := v.Render(&bytes.Buffer{}, "pages/nope", nil); err == nil {
		t.Fatal("an unknown template must fail")
	}
}
