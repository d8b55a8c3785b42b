package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/sql/store"
)

// TestAdminAccessibility runs axe-core (WCAG 2.1 A and AA) on the staff console's pages, as an
// admin, in English and Dutch.
func TestAdminAccessibility(t *testing.T) {
	p := startPortal(t)
	seedKB(t, p)
	connectSupportForm(t, p)
	ctx := context.Background()
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StaffAdd(ctx, email, "Ada Admin", store.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	pages := []string{"/admin/inbox", fmt.Sprintf("/admin/inbox/%d", p.Std.AliceOpen), "/admin/inbox/new",
		"/admin/contacts", fmt.Sprintf("/admin/contacts/%d", p.Std.Alice), "/admin/companies",
		fmt.Sprintf("/admin/companies/%d", p.Std.Acme), "/admin/settings/tickets", "/admin/settings/portal",
		"/admin/audit", "/admin/groups", "/admin/pipelines", "/admin/inboxes", "/admin/forms", "/admin/kb",
		"/admin/providers", "/admin/preview", fmt.Sprintf("/admin/preview?contact=%d", p.Std.Alice), "/admin/account/totp"}
	var catID int64
	if err := p.Pool.QueryRow(ctx, `SELECT id FROM kb_categories WHERE slug = 'billing'`).Scan(&catID); err != nil {
		t.Fatal(err)
	}
	pages = append(pages, fmt.Sprintf("/admin/kb/categories/%d", catID))
	for _, lang := range []string{"en", "nl"} {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, p.URL, browserOptions{})
			if lang != "en" {
				b.navigate("/kb")
				chooseLanguage(b, lang)
			}
			b.navigate("/admin/login")
			b.visible("#email")
			axeCheck(b, "/admin/login")
			b.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
			if st := b.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
				t.Fatalf("staff sign-in: %d", st)
			}
			for _, path := range pages {
				if st := b.follow("open "+path, chromedp.Navigate(p.URL+path)); st != http.StatusOK {
					t.Errorf("%s: status %d", path, st)
					continue
				}
				axeCheck(b, path)
			}
		})
	}
}
