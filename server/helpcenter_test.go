package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestPortalHome: / sends a visitor to the sign-in page while the knowledge base has nothing
// public, and shows the public home (search, categories, sign-in) once it has; a signed-in
// customer sees the home with their own open tickets only (not a colleague's, not another
// company's, not closed ones).
func TestPortalHome(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)

	visitor := ts.client()
	resp, _ := visitor.get("/", false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("visitor on / without public articles: %d → %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	mustArticle(t, ts, "reset-password", store.KBPublic, map[string][2]string{"en": {"Reset your password", "Click the link."}})
	mustArticle(t, ts, "portal-secret", store.KBPortal, map[string][2]string{"en": {"Portal secret", "For customers."}})
	resp, doc := visitor.get("/", false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("public home: %d", resp.StatusCode)
	}
	if doc.Find("#home-search input#kb-q").Length() != 1 || doc.Find("#home-sign-in").Length() != 1 || doc.Find("#home-open").Length() != 0 {
		t.Errorf("public home lacks the search or the sign-in card, or shows tickets")
	}
	if cards := doc.Find(".kb-categories-grid").Text(); !strings.Contains(cards, "Reset your password") || strings.Contains(cards, "Portal secret") {
		t.Errorf("public home's help center cards = %q, want the public article only", cards)
	}

	for _, tc := range []struct {
		email       string
		see, notSee []string
	}{
		{std.AliceEmail, []string{"Printer on fire"}, []string{"Invoice copy", "VPN keeps dropping", "Globex payroll export"}},
		{std.CarolEmail, []string{"Globex payroll export"}, []string{"Printer on fire", "VPN keeps dropping"}},
	} {
		c := ts.client()
		c.signIn(tc.email, std.Password)
		resp, doc := c.get("/", false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: home %d", tc.email, resp.StatusCode)
		}
		open := doc.Find("#home-open").Text()
		for _, s := range tc.see {
			if !strings.Contains(open, s) {
				t.Errorf("%s: open tickets %q lack %q", tc.email, open, s)
			}
		}
		for _, s := range tc.notSee {
			if strings.Contains(open, s) {
				t.Errorf("%s: open tickets list %q, which is not theirs or not open", tc.email, s)
			}
		}
		if !strings.Contains(doc.Find(".kb-categories-grid").Text(), "Portal secret") {
			t.Errorf("%s: the signed-in home does not offer the portal-only article", tc.email)
		}
		if doc.Find("#home-sign-in").Length() != 0 {
			t.Errorf("%s: signed-in home offers to sign in", tc.email)
		}
	}
}

// TestKBHelpfulAndOutline: "was this helpful" is recorded per article (yes and no), thanks the
// reader with the tally, refuses an article the reader may not see (404, nothing stored) and a
// bad answer; the article page lists its h2/h3 headings as a table of contents whose links
// reach the headings, and related articles of the same category.
func TestKBHelpfulAndOutline(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)
	ctx := context.Background()
	cat, err := ts.Store.KBCategoryCreate(ctx, 0, "accounts", "en", "Accounts", 0)
	if err != nil {
		t.Fatal(err)
	}
	save := func(slug, vis, title, body string) int64 {
		id, err := ts.Store.KBArticleSave(ctx, 0, 0, store.KBArticleInput{Slug: slug, CategoryID: cat.ID, Visibility: vis, Lang: "en", Title: title, BodyMD: body})
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.Store.KBTranslationPublish(ctx, 0, id, "en", true); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := save("sign-in-help", store.KBPublic, "Sign-in help", "## Forgot your password\n\nAsk for a link.\n\n### The link expired\n\nAsk again.\n\n## Two-factor codes\n\nUse the app.")
	save("change-email", store.KBPublic, "Change your email", "Write to us.")
	portalID := save("portal-only", store.KBPortal, "Portal only", "For customers.")

	visitor := ts.client()
	_, doc := visitor.get("/kb/sign-in-help", false)
	var toc []string
	doc.Find("#kb-toc a").Each(func(_ int, s *goquery.Selection) {
		href := s.AttrOr("href", "")
		toc = append(toc, s.Text())
		if doc.Find("#kb-body "+href).Length() != 1 {
			t.Errorf("table of contents link %q reaches no heading", href)
		}
	})
	if strings.Join(toc, "|") != "Forgot your password|The link expired|Two-factor codes" {
		t.Errorf("table of contents = %q", toc)
	}
	if rel := doc.Find("#kb-related").Text(); !strings.Contains(rel, "Change your email") || strings.Contains(rel, "Portal only") || strings.Contains(rel, "Sign-in help") {
		t.Errorf("related articles for a visitor = %q", rel)
	}

	count := func(article int64) (yes, total int64) {
		yes, total, err := ts.Store.KBFeedbackTally(ctx, article)
		if err != nil {
			t.Fatal(err)
		}
		return yes, total
	}
	if resp, _ := visitor.post("/kb/sign-in-help/helpful", url.Values{"helpful": {"yes"}, "lang": {"en"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("helpful=yes: %d", resp.StatusCode)
	}
	resp, _ := visitor.post("/kb/sign-in-help/helpful", url.Values{"helpful": {"no"}, "lang": {"en"}}, false)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/kb/sign-in-help?") || !strings.Contains(loc, "helpful=no") {
		t.Fatalf("helpful=no: %d → %q", resp.StatusCode, loc)
	}
	if y, n := count(id); y != 1 || n != 2 {
		t.Fatalf("tally = %d of %d, want 1 of 2", y, n)
	}
	_, doc = visitor.get(loc, false)
	if got := doc.Find("#kb-helpful").Text(); !strings.Contains(got, "Thank you") || !strings.Contains(got, "1 of 2") || doc.Find("#kb-helpful-form").Length() != 0 {
		t.Errorf("after answering the article shows %q", strings.TrimSpace(got))
	}
	if resp, _ := visitor.post("/kb/sign-in-help/helpful", url.Values{"helpful": {"maybe"}}, false); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("helpful=maybe: %d, want a 4xx", resp.StatusCode)
	}
	// A visitor cannot answer for a portal-only article; a signed-in customer can.
	if resp, _ := visitor.post("/kb/portal-only/helpful", url.Values{"helpful": {"yes"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("visitor answers a portal-only article: %d, want 404", resp.StatusCode)
	}
	if _, n := count(portalID); n != 0 {
		t.Fatalf("a refused answer was stored")
	}
	customer := ts.client()
	customer.signIn(std.AliceEmail, std.Password)
	customer.get("/kb/portal-only", false)
	if resp, _ := customer.post("/kb/portal-only/helpful", url.Values{"helpful": {"yes"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("customer answers a portal-only article: %d, want 303", resp.StatusCode)
	}
	if y, n := count(portalID); y != 1 || n != 1 {
		t.Errorf("portal-only tally = %d of %d, want 1 of 1", y, n)
	}
	if y, n := count(id); y != 1 || n != 2 {
		t.Errorf("the other article's tally moved: %d of %d", y, n)
	}
}
