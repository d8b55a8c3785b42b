package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// mustArticle stores an article with one translation per lang→{title, body}, all published.
func mustArticle(t *testing.T, ts *testServer, slug, visibility string, tr map[string][2]string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	for lang, tb := range tr {
		var err error
		id, err = ts.Store.KBArticleSave(ctx, 0, id, store.KBArticleInput{Slug: slug, Visibility: visibility, Lang: lang, Title: tb[0], BodyMD: tb[1]})
		if err != nil {
			t.Fatalf("article %s/%s: %v", slug, lang, err)
		}
		if err := ts.Store.KBTranslationPublish(ctx, 0, id, lang, true); err != nil {
			t.Fatalf("publish %s/%s: %v", slug, lang, err)
		}
	}
	return id
}

// kbTitles returns the article titles a page lists.
func kbTitles(c *client, path string) (int, []string) {
	resp, doc := c.get(path, false)
	return resp.StatusCode, texts(doc, ".kb-entries li > a")
}

func TestKBAdminWritesPreviewsPublishesAndGermanSearchStems(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	mustStaff(t, pool, "admin@example.com", "Ada Admin", "admin")
	admin := ts.client()
	admin.staffSignIn("admin@example.com")

	// A category, then a German article written in Markdown.
	if resp, _ := admin.post("/admin/kb/categories", url.Values{"category_slug": {"billing"}, "category_name": {"Abrechnung"}, "category_lang": {"de"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create category: %d", resp.StatusCode)
	}
	cats, _ := ts.Store.KBCategoryList(context.Background())
	if len(cats) != 1 {
		t.Fatalf("categories: %v", cats)
	}
	body := "## Zahlungen\n\nAlle **Rechnungen** werden monatlich versendet.\n\n<script>alert(1)</script>\n\n[klick](javascript:alert(1))"
	form := url.Values{"slug": {"rechnungen-verstehen"}, "title": {"Ihre Rechnungen verstehen"}, "body": {body}, "visibility": {"public"},
		"category": {itoa(cats[0].ID)}, "lang": {"de"}}

	// Preview renders the Markdown, sanitised, and stores nothing.
	form.Set("action", "preview")
	resp, doc := admin.post("/admin/kb", form, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d", resp.StatusCode)
	}
	prev := doc.Find("#kb-preview-box .kb-body")
	if prev.Find("strong").Text() != "Rechnungen" || prev.Find("h2").Text() != "Zahlungen" {
		t.Errorf("preview HTML %q lacks the rendered Markdown", must(prev.Html()))
	}
	if h, _ := prev.Html(); strings.Contains(h, "<script") || strings.Contains(h, "javascript:") {
		t.Errorf("preview is not sanitised: %q", h)
	}
	if arts, _ := ts.Store.KBArticleList(context.Background()); len(arts) != 0 {
		t.Fatalf("preview stored %d articles", len(arts))
	}

	// Save: a draft, not visible to anyone outside.
	form.Set("action", "save")
	resp, _ = admin.post("/admin/kb", form, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	edit := resp.Header.Get("Location")
	if !strings.HasPrefix(edit, "/admin/kb/") || !strings.Contains(edit, "lang=de") {
		t.Fatalf("save redirected to %q", edit)
	}
	id := strings.TrimPrefix(strings.SplitN(edit, "?", 2)[0], "/admin/kb/")
	visitor := ts.client()
	visitor.lang = "de-DE,de;q=0.9"
	if st, titles := kbTitles(visitor, "/kb/search?q=Rechnung"); st != http.StatusOK || len(titles) != 0 {
		t.Fatalf("a draft is found: %d %q", st, titles)
	}
	if resp, _ := visitor.get("/kb/rechnungen-verstehen", false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a draft answers %d, want 404", resp.StatusCode)
	}

	// Publish; the German reader finds it by an inflected word (Rechnung → Rechnungen).
	admin.get(edit, false)
	if resp, _ := admin.post("/admin/kb/"+id+"/publish", url.Values{"lang": {"de"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	for _, q := range []string{"Rechnung", "rechnung", "monatlichen Rechnung"} {
		if _, titles := kbTitles(visitor, "/kb/search?q="+url.QueryEscape(q)); len(titles) != 1 || titles[0] != "Ihre Rechnungen verstehen" {
			t.Errorf("German search %q finds %q, want the article", q, titles)
		}
	}
	// Stemming is the point: the simple configuration would not match "Rechnung" with "Rechnungen".
	var simple bool
	if err := pool.QueryRow(context.Background(), `SELECT to_tsvector('simple', 'Rechnungen') @@ plainto_tsquery('simple', 'Rechnung')`).Scan(&simple); err != nil || simple {
		t.Fatalf("control: simple matched=%v err=%v", simple, err)
	}
	if _, titles := kbTitles(visitor, "/kb/search?q=Kühlschrank"); len(titles) != 0 {
		t.Errorf("an unrelated word finds %q", titles)
	}
	resp, doc = visitor.get("/kb/rechnungen-verstehen", false)
	if resp.StatusCode != http.StatusOK || doc.Find("#kb-title").Text() != "Ihre Rechnungen verstehen" {
		t.Fatalf("article: %d %q", resp.StatusCode, doc.Find("#kb-title").Text())
	}
	if h, _ := doc.Find("#kb-body").Html(); strings.Contains(h, "<script") || strings.Contains(h, "javascript:") || !strings.Contains(h, "<strong>Rechnungen</strong>") {
		t.Errorf("article body %q", h)
	}
	if got := doc.Find(".breadcrumb").Text(); !strings.Contains(got, "Abrechnung") {
		t.Errorf("breadcrumb %q lacks the category", got)
	}
	if _, titles := kbTitles(visitor, "/kb"); len(titles) != 1 {
		t.Errorf("index lists %q", titles)
	}

	// An English reader gets the German article as the fallback (portal default is English, no
	// English text), marked as such.
	english := ts.client()
	english.lang = "en"
	resp, doc = english.get("/kb/rechnungen-verstehen", false)
	if resp.StatusCode != http.StatusOK || doc.Find("#kb-fallback").Length() != 1 || doc.Find("#kb-article").AttrOr("lang", "") != "de" {
		t.Errorf("fallback: %d notice=%d lang=%q", resp.StatusCode, doc.Find("#kb-fallback").Length(), doc.Find("#kb-article").AttrOr("lang", ""))
	}

	// Unpublish: gone again, and the change is audited.
	admin.get(edit, false)
	if resp, _ := admin.post("/admin/kb/"+id+"/unpublish", url.Values{"lang": {"de"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unpublish: %d", resp.StatusCode)
	}
	if resp, _ := visitor.get("/kb/rechnungen-verstehen", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unpublished article answers %d", resp.StatusCode)
	}
	// The route decides publish vs unpublish, not the path's spelling: Fiber matches
	// case-insensitively and ignores a trailing slash, so these still publish.
	for _, p := range []string{"/PUBLISH", "/publish/", "/Publish/"} {
		admin.get(edit, false)
		if resp, _ := admin.post("/admin/kb/"+id+p, url.Values{"lang": {"de"}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("publish via %s: %d", p, resp.StatusCode)
		}
		if resp, _ := visitor.get("/kb/rechnungen-verstehen", false); resp.StatusCode != http.StatusOK {
			t.Errorf("after POST …%s the article answers %d, want 200 (published)", p, resp.StatusCode)
		}
	}
	admin.get(edit, false)
	if resp, _ := admin.post("/admin/kb/"+id+"/UNPUBLISH/", url.Values{"lang": {"de"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unpublish via /UNPUBLISH/: %d", resp.StatusCode)
	}
	if resp, _ := visitor.get("/kb/rechnungen-verstehen", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after /UNPUBLISH/ the article answers %d, want 404", resp.StatusCode)
	}
	var audits int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE key LIKE 'kb.%'`).Scan(&audits); err != nil || audits < 4 {
		t.Errorf("kb audit rows %d (%v), want ≥ 4 (category, save, publish, unpublish)", audits, err)
	}

	// Refused input comes back with errors beside the fields (422).
	resp, doc = admin.post("/admin/kb", url.Values{"slug": {"Bad Slug!"}, "title": {""}, "visibility": {"public"}, "lang": {"en"}, "action": {"save"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-slug").Length() != 1 || doc.Find("#e-title").Length() != 1 {
		t.Errorf("bad input: %d slug-error=%d title-error=%d", resp.StatusCode, doc.Find("#e-slug").Length(), doc.Find("#e-title").Length())
	}
}

func must(s string, _ error) string { return s }

func TestKBVisibilityAcrossTheLine(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)
	mustStaff(t, pool, "agent@example.com", "Andy Agent", "agent")
	mustArticle(t, ts, "public-howto", store.KBPublic, map[string][2]string{"en": {"Public howto", "Everyone reads this zebra text."}})
	mustArticle(t, ts, "portal-howto", store.KBPortal, map[string][2]string{"en": {"Portal howto", "Customers read this zebra text."}})
	mustArticle(t, ts, "internal-howto", store.KBInternal, map[string][2]string{"en": {"Internal howto", "Staff read this zebra text."}})

	visitor := ts.client()
	customer := ts.client()
	customer.signIn(std.AliceEmail, std.Password)
	staff := ts.client()
	staff.staffSignIn("agent@example.com")

	for _, tc := range []struct {
		name string
		c    *client
		see  map[string]bool
	}{
		{"visitor", visitor, map[string]bool{"public-howto": true}},
		{"customer", customer, map[string]bool{"public-howto": true, "portal-howto": true}},
		{"staff", staff, map[string]bool{"public-howto": true, "portal-howto": true, "internal-howto": true}},
	} {
		for _, slug := range []string{"public-howto", "portal-howto", "internal-howto"} {
			resp, _ := tc.c.get("/kb/"+slug, false)
			want := http.StatusNotFound
			if tc.see[slug] {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("%s opens %s: %d, want %d", tc.name, slug, resp.StatusCode, want)
			}
		}
		for _, path := range []string{"/kb", "/kb/search?q=zebra"} {
			_, titles := kbTitles(tc.c, path)
			if len(titles) != len(tc.see) {
				t.Errorf("%s: %s lists %q, want %d articles", tc.name, path, titles, len(tc.see))
			}
			for _, title := range titles {
				slug := strings.ToLower(strings.ReplaceAll(title, " ", "-"))
				if !tc.see[slug] {
					t.Errorf("%s: %s lists %q, which they may not read", tc.name, path, title)
				}
			}
		}
	}

	// A customer's signed-out twin is a visitor again.
	if resp, _ := customer.post("/logout", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := customer.get("/kb/portal-howto", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("signed-out customer opens a portal-only article: %d", resp.StatusCode)
	}
	// Customers never reach the admin console.
	customer.signIn(std.AliceEmail, std.Password)
	if resp, _ := customer.get("/admin/kb", false); resp.StatusCode == http.StatusOK {
		t.Errorf("a customer opens /admin/kb")
	}
	// Agents may read internal articles but not administer the knowledge base.
	if resp, _ := staff.get("/admin/kb", false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an agent opens /admin/kb: %d, want 403", resp.StatusCode)
	}
}

func TestKBPortalLinkFollowsItsSetting(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)
	mustArticle(t, ts, "hello", store.KBPublic, map[string][2]string{"en": {"Hello", "Hi."}, "nl": {"Hallo", "Hoi."}})
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "page_title", "Acme Support"); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	for _, path := range []string{"/kb", "/kb/hello", "/kb/search?q=hello"} {
		_, doc := c.get(path, false)
		if got := strings.TrimSpace(doc.Find("#go-to-portal").Text()); got != "Go to Acme Support" {
			t.Errorf("%s: go-to-portal link %q, want \"Go to Acme Support\"", path, got)
		}
	}
	c.lang = "nl"
	if _, doc := c.get("/kb", false); strings.TrimSpace(doc.Find("#go-to-portal").Text()) != "Ga naar Acme Support" {
		t.Errorf("Dutch go-to-portal link %q", doc.Find("#go-to-portal").Text())
	}
	if err := ts.Store.SettingSet(ctx, "kb_show_portal_link", "false"); err != nil {
		t.Fatal(err)
	}
	ts.Settings.Invalidate()
	for _, path := range []string{"/kb", "/kb/hello", "/kb/search?q=hello"} {
		if _, doc := c.get(path, false); doc.Find("#go-to-portal").Length() != 0 {
			t.Errorf("%s shows the go-to-portal link with the setting off", path)
		}
	}

	// The portal links back to the knowledge base, also by setting.
	c.signIn(std.AliceEmail, std.Password)
	if _, doc := c.get("/tickets", false); doc.Find(`#nav-kb[href="/kb"]`).Length() != 1 {
		t.Errorf("the portal does not link to the knowledge base")
	}
	if err := ts.Store.SettingSet(ctx, "kb_link_in_portal", "false"); err != nil {
		t.Fatal(err)
	}
	ts.Settings.Invalidate()
	if _, doc := c.get("/tickets", false); doc.Find("#nav-kb").Length() != 0 {
		t.Errorf("the portal links to the knowledge base with the setting off")
	}
}
