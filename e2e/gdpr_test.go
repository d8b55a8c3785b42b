package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portico/server"
)

// TestCustomerDataPages (issue 16.6) in Chromium: with JavaScript, "Prepare a copy of my data"
// swaps in the progress box, which polls until the download link appears; a running export
// shows its progress bar; the deletion confirmation refuses an unticked box beside the field and
// records the request; without JavaScript the same export works through the form and the
// "Check again" link. The account page, the confirmation page and the admins' deletion requests
// and erasure page pass axe and fit 360 and 1280 px; screenshots are saved for review.
func TestCustomerDataPages(t *testing.T) {
	p := startPortal(t, func(o *server.Options) { o.JobPollInterval = 50 * time.Millisecond })
	ctx := context.Background()
	if err := p.StartJobs(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.StopJobs(5 * time.Second) })
	fx := p.Std
	dir := shotsDir(t)
	shoot := func(b *browser, name string, paths ...string) {
		t.Helper()
		for _, w := range []int64{360, 1280} {
			b.do("resize", chromedp.EmulateViewport(w, 900))
			for _, path := range paths {
				if path != "" {
					if st := b.follow("open "+path, chromedp.Navigate(p.URL+path)); st != http.StatusOK {
						t.Fatalf("%s: %d", path, st)
					}
				}
				axeCheck(b, name)
				if !run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`)) {
					t.Errorf("%s scrolls sideways at %d px", name, w)
				}
				saveShot(b, dir, "gdpr-"+name+"-"+strconv.FormatInt(w, 10))
			}
		}
	}

	// Bob's export is half done: the box shows the progress bar.
	if _, err := p.Store.Pool.Exec(ctx, `INSERT INTO contact_exports (contact_id, status, items_done, items_total, expires_at)
		VALUES ($1, 'running', 3, 7, now() + interval '7 days')`, fx.Bob); err != nil {
		t.Fatal(err)
	}
	bob := newBrowser(t, p.URL, browserOptions{})
	bob.navigate("/login")
	signIn(bob, fx.BobEmail, fx.Password)
	bob.navigate("/account")
	if got := bob.text("#export-state"); !strings.Contains(got, "3 of 7") {
		t.Errorf("running export reads %q", got)
	}
	shoot(bob, "account-running", "")

	// Alice asks for her copy; the box polls until the download link is there.
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, fx.AliceEmail, fx.Password)
	b.navigate("/account")
	b.waitHTMX()
	b.do("ask for the copy", chromedp.Click(chromedp.CSS("#export-request")))
	b.waitUntil("download link", `() => document.querySelector('#export-download') !== null`)
	if loc := b.location(); !strings.HasPrefix(loc, "/account") {
		t.Errorf("after the request the browser is on %q", loc)
	}
	shoot(b, "account-ready", "")

	// Deletion: the confirmation page, the refusal beside the box, the request.
	shoot(b, "delete-confirm", "/account/delete")
	if st := b.follow("send without the tick", chromedp.Click(chromedp.CSS("#deletion-submit"))); st != http.StatusUnprocessableEntity {
		t.Errorf("unticked request: %d", st)
	}
	b.visible("#confirm-error")
	shoot(b, "delete-refused", "")
	b.do("tick", chromedp.Click(chromedp.CSS("#confirm")))
	if st := b.follow("send", chromedp.Click(chromedp.CSS("#deletion-submit"))); st != http.StatusOK {
		t.Errorf("request: %d", st)
	}
	b.visible("#deletion-state")
	shoot(b, "account-deletion-pending", "")

	// Without JavaScript: the form posts, "Check again" reloads until the link is there.
	nojs := newBrowser(t, p.URL, browserOptions{noJavaScript: true})
	nojs.navigate("/login")
	signIn(nojs, fx.CarolEmail, fx.Password)
	nojs.navigate("/account")
	if st := nojs.follow("ask for the copy", chromedp.Click(chromedp.CSS("#export-request"))); st != http.StatusOK {
		t.Fatalf("no-JS request: %d", st)
	}
	for deadline := time.Now().Add(60 * time.Second); !nojs.present("#export-download"); {
		if time.Now().After(deadline) {
			t.Fatalf("no-JS export never became ready: %q", nojs.text("#data-export"))
		}
		time.Sleep(300 * time.Millisecond)
		nojs.follow("check again", chromedp.Click(chromedp.CSS("#export-refresh")))
	}

	// The admins' side.
	admin := newBrowser(t, p.URL, browserOptions{})
	staffSignIn(t, p, admin)
	shoot(admin, "admin-privacy", "/admin/privacy")
	shoot(admin, "admin-erase", "/admin/contacts/"+strconv.FormatInt(fx.Alice, 10)+"/erase")
	shoot(admin, "admin-contact", "/admin/contacts/"+strconv.FormatInt(fx.Alice, 10))
	t.Logf("screenshots in %s (gdpr-*.png)", dir)
}
