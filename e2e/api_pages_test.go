package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/sql/store"
)

// TestAPITokenPagesInBrowser: the customer's API tokens page and the admin's API keys page,
// empty, with a refused form and with a new token shown once, pass axe (WCAG 2.1 AA) in English
// and German, and their content fits 360 px and 1280 px (the shared header is the layout's
// business). Screenshots are logged.
func TestAPITokenPagesInBrowser(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StaffAdd(ctx, email, "Ada Admin", store.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	check := func(b *browser, label string) {
		t.Helper()
		for _, w := range []int64{360, 1280} {
			px := strconv.FormatInt(w, 10) + "px"
			b.do("resize", chromedp.EmulateViewport(w, 900))
			axeCheck(b, label+" "+px)
			// The page's own content (main) must fit; the shared header is the layout's.
			fits := run(b, "measure", chromedp.Evaluate[bool](`Array.from(document.querySelectorAll('main *')).every(e => {
				const r = e.getBoundingClientRect(); return r.width === 0 || r.right <= window.innerWidth + 1 || e.closest('pre, .token-example'); })`))
			b.screenshot(strings.ReplaceAll(label, " ", "-") + "-" + px)
			if !fits {
				t.Errorf("%s: content wider than the window at %s", label, px)
			}
		}
	}
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, p.URL, browserOptions{})
			b.navigate("/kb")
			chooseLanguage(b, lang)
			b.navigate("/login")
			signIn(b, p.Std.AliceEmail, p.Std.Password)
			b.navigate("/account/tokens")
			check(b, "tokens empty")
			if st := b.follow("create without a name", chromedp.Click(chromedp.CSS("#token-create-submit"))); st != http.StatusUnprocessableEntity {
				t.Fatalf("empty name: %d", st)
			}
			b.visible("#token-name-error")
			check(b, "tokens refused")
			b.do("name the token", chromedp.SendKeys(chromedp.CSS("#token-name"), "Reporting script with a rather long descriptive name"))
			if st := b.follow("create", chromedp.Click(chromedp.CSS("#token-create-submit"))); st != http.StatusOK {
				t.Fatalf("create: %d", st)
			}
			tok := run(b, "read the token", chromedp.Evaluate[string](`document.querySelector('#token-value').value`))
			if !strings.HasPrefix(tok, store.CustomerTokenPrefix) {
				t.Fatalf("token %q", tok)
			}
			check(b, "tokens new")

			a := newBrowser(t, p.URL, browserOptions{})
			a.navigate("/kb")
			chooseLanguage(a, lang)
			a.navigate("/admin/login")
			a.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
			if st := a.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
				t.Fatalf("staff sign-in: %d", st)
			}
			a.navigate("/admin/api-keys")
			if st := a.follow("create without scopes", chromedp.Click(chromedp.CSS("#key-create-submit"))); st != http.StatusUnprocessableEntity {
				t.Fatalf("no scopes: %d", st)
			}
			check(a, "keys refused")
			a.do("fill the key form", chromedp.SendKeys(chromedp.CSS("#token-name"), "CRM sync"),
				chromedp.Click(chromedp.CSS(`input[value="tickets:read"]`)), chromedp.Click(chromedp.CSS(`input[value="contacts"]`)))
			if st := a.follow("create", chromedp.Click(chromedp.CSS("#key-create-submit"))); st != http.StatusOK {
				t.Fatalf("create key: %d", st)
			}
			check(a, "keys new")
		})
	}
}
