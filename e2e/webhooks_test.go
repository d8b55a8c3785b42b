package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/server"
	"portico/sql/store"
)

// TestWebhookConsoleInBrowser: the admin's webhooks pages, as an admin uses them in English and
// German: empty, a refused private URL (the message beside the field), a new webhook with its
// secret shown once, its page after "Send test event" (the log fills in by itself, htmx) and
// the delete confirmation; each passes axe (WCAG 2.1 AA) and its content fits 360 px and
// 1280 px. Screenshots are logged.
func TestWebhookConsoleInBrowser(t *testing.T) {
	p := startPortal(t, func(o *server.Options) { o.JobPollInterval = 100 * time.Millisecond })
	ctx := context.Background()
	if err := p.StartJobs(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.StopJobs(5 * time.Second) })
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := p.Store.StaffAdd(ctx, email, "Ada Admin", store.RoleAdmin, hash)
	if err != nil {
		t.Fatal(err)
	}
	adminID := admin.ID
	check := func(b *browser, label string) {
		t.Helper()
		for _, w := range []int64{360, 1280} {
			px := strconv.FormatInt(w, 10) + "px"
			b.do("resize", chromedp.EmulateViewport(w, 900))
			axeCheck(b, label+" "+px)
			fits := run(b, "measure", chromedp.Evaluate[bool](`Array.from(document.querySelectorAll('main *')).every(e => {
				const r = e.getBoundingClientRect(); return r.width === 0 || r.right <= window.innerWidth + 1; })`))
			b.screenshot(strings.ReplaceAll(label, " ", "-") + "-" + px)
			if !fits {
				t.Errorf("%s: content wider than the window at %s", label, px)
			}
		}
	}
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			if _, err := p.Store.SettingsSetAudited(ctx, adminID, map[string]string{"webhooks_allow_private": "false"}); err != nil {
				t.Fatal(err)
			}
			a := newBrowser(t, p.URL, browserOptions{})
			a.navigate("/kb")
			chooseLanguage(a, lang)
			a.navigate("/admin/login")
			a.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
			if st := a.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
				t.Fatalf("staff sign-in: %d", st)
			}
			a.navigate("/admin/webhooks")
			check(a, "webhooks list")
			// The receiver is on 127.0.0.1: refused while private addresses are not allowed.
			a.do("fill the form", chromedp.SendKeys(chromedp.CSS("#webhook-url"), receiver.URL+"/portico/events/with/a/rather/long/path?source=portico"),
				chromedp.SendKeys(chromedp.CSS("#webhook-description"), "CRM sync"),
				chromedp.Click(chromedp.CSS(`input[value="ticket.created"]`)), chromedp.Click(chromedp.CSS(`input[value="message.added"]`)))
			if st := a.follow("add", chromedp.Click(chromedp.CSS("#webhook-submit"))); st != http.StatusUnprocessableEntity {
				t.Fatalf("private URL: %d", st)
			}
			a.visible("#webhook-url-error")
			check(a, "webhooks refused")
			if _, err := p.Store.SettingsSetAudited(ctx, adminID, map[string]string{"webhooks_allow_private": "true"}); err != nil {
				t.Fatal(err)
			}
			if st := a.follow("add again", chromedp.Click(chromedp.CSS("#webhook-submit"))); st != http.StatusOK {
				t.Fatalf("add: %d", st)
			}
			secret := run(a, "read the secret", chromedp.Evaluate[string](`document.querySelector('#webhook-secret-value').value`))
			if !strings.HasPrefix(secret, "whsec_") {
				t.Fatalf("secret %q", secret)
			}
			check(a, "webhooks new")
			if st := a.follow("open it", chromedp.Click(chromedp.CSS("#webhook-new-link"))); st != http.StatusOK {
				t.Fatalf("open: %d", st)
			}
			if st := a.follow("send a test event", chromedp.Click(chromedp.CSS("#webhook-test"))); st != http.StatusOK {
				t.Fatalf("test: %d", st)
			}
			a.waitHTMX()
			a.visible("#webhook-delivery-table tr.delivery-delivered") // swapped in by the log's own polling
			if a.present("#webhook-test-pending") {
				t.Error("the pending notice stayed")
			}
			check(a, "webhook page")
			a.do("open the delete step", chromedp.Click(chromedp.CSS("#webhook-delete summary")))
			a.visible("#webhook-delete-yes")
			check(a, "webhook delete step")
			if st := a.follow("delete", chromedp.Click(chromedp.CSS("#webhook-delete-yes"))); st != http.StatusOK {
				t.Fatalf("delete: %d", st)
			}
			a.visible("#webhook-notice")
			if !a.present("#webhook-none") {
				t.Error("the deleted webhook is still listed")
			}
		})
	}
}
