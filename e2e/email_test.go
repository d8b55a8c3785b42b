package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/sql/store"
)

// TestEmailAdminPages: the inbox email settings and the held-mail list pass axe (WCAG 2.1 AA)
// and fit a 360 px and a 1280 px wide screen without sideways scrolling; a screenshot of each
// is logged for review.
func TestEmailAdminPages(t *testing.T) {
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
	var inbox int64
	if err := p.Store.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.InboxEmailSet(ctx, store.Staff{Name: "t"}, store.InboxEmail{InboxID: inbox, Address: "help@portico.test", AllowNewContacts: true}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/admin/login")
	b.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	if st := b.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
		t.Fatalf("staff sign-in: %d", st)
	}
	for _, w := range []int64{360, 1280} {
		b.do("resize", chromedp.EmulateViewport(w, 900))
		for _, path := range []string{"/admin/inboxes/" + strconv.FormatInt(inbox, 10) + "/mail", "/admin/mail"} {
			if st := b.follow("open "+path, chromedp.Navigate(p.URL+path)); st != http.StatusOK {
				t.Fatalf("%s: %d", path, st)
			}
			axeCheck(b, path)
			fits := run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
			b.screenshot(strconv.FormatInt(w, 10) + "px")
			if !fits {
				t.Errorf("%s scrolls sideways at %d px", path, w)
			}
		}
	}
}
