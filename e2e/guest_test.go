package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestGuestLinkInBrowser (issue 16.3): a guest link opens its ticket in Chromium — the page has
// no navigation to the list or the account, passes axe (WCAG 2.1 AA) in English and Dutch, fits
// 360 px and 1280 px (screenshots saved for review); a reply sent with htmx appears in place and
// an agent's answer arrives live; without JavaScript the plain form replies and lands back on the
// guest page; the page sends no Referer.
func TestGuestLinkInBrowser(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	fx := p.Std
	if err := p.Store.SettingSet(ctx, "guest_links_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	mint := func() string {
		t.Helper()
		tok, _, err := p.Store.GuestLinkMint(ctx, store.GuestRef{TicketID: fx.AliceOpen, ContactID: fx.Alice}, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "/guest?token=" + tok
	}
	page := fmt.Sprintf("/guest/t/%d", fx.AliceOpen)
	dir := shotsDir(t)

	b := newBrowser(t, p.URL, browserOptions{})
	if st := b.follow("open the guest link", chromedp.Navigate(p.URL+mint())); st != http.StatusOK {
		t.Fatalf("guest link: %d", st)
	}
	if loc := b.location(); loc != page {
		t.Fatalf("guest link landed on %q, want %s (no token in the address bar)", loc, page)
	}
	b.visible("#guest-banner")
	for _, sel := range []string{"#site-nav", "#account-link", `a[href="/tickets"]`, "#close-form", "#share-form"} {
		if b.present(sel) {
			t.Errorf("the guest page has %s", sel)
		}
	}
	if got := run(b, "read the referrer policy", chromedp.Evaluate[string](`document.querySelector('meta[name=referrer]').content`)); got != "no-referrer" {
		t.Errorf("referrer meta %q", got)
	}
	for _, w := range []int64{360, 1280} {
		b.do("resize", chromedp.EmulateViewport(w, 900))
		b.navigate(page)
		b.visible("#reply-form")
		axeCheck(b, "guest page "+strconv.FormatInt(w, 10))
		if !run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`)) {
			t.Errorf("guest page scrolls sideways at %d px", w)
		}
		saveShot(b, dir, "guest-en-"+strconv.FormatInt(w, 10))
	}

	// Reply with htmx: the message appears in place, the box is cleared.
	b.waitHTMX()
	reply := fmt.Sprintf("Guest reply with htmx (%d).", time.Now().UnixNano())
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), reply))
	b.do("send", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the reply appears", `(r) => document.getElementById("messages").textContent.includes(r)`, reply)
	if loc := b.location(); loc != page {
		t.Errorf("after an htmx reply the browser is on %q", loc)
	}
	// An agent's answer arrives live.
	agent := storetest.MustStaff(t, p.Pool, "agent@portico.test", "Andy Agent", "agent", "")
	answer := fmt.Sprintf("Agent answer, live (%d).", time.Now().UnixNano())
	if _, err := p.Store.InboxMessageCreate(ctx, agent, fx.AliceOpen, answer, false, nil); err != nil {
		t.Fatal(err)
	}
	p.Handlers.Live.Publish(ctx, fx.AliceOpen)
	b.waitUntil("the agent's answer appears", `(r) => document.getElementById("messages").textContent.includes(r)`, answer)

	// In Dutch (the contact's own language).
	if _, err := p.Pool.Exec(ctx, `UPDATE contacts SET language = 'nl' WHERE id = $1`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{360, 1280} {
		b.do("resize", chromedp.EmulateViewport(w, 900))
		b.navigate(page)
		b.visible("#guest-banner")
		if got := b.text("#guest-sign-in"); got != "Log in om al je tickets te zien" {
			t.Errorf("Dutch sign-in link %q", got)
		}
		axeCheck(b, "guest page nl "+strconv.FormatInt(w, 10))
		saveShot(b, dir, "guest-nl-"+strconv.FormatInt(w, 10))
	}
	if _, err := p.Pool.Exec(ctx, `UPDATE contacts SET language = '' WHERE id = $1`, fx.Alice); err != nil {
		t.Fatal(err)
	}

	// Without JavaScript: the plain form posts, 303 back to the guest page with the reply.
	nojs := newBrowser(t, p.URL, browserOptions{noJavaScript: true})
	if st := nojs.follow("open the guest link", chromedp.Navigate(p.URL+mint())); st != http.StatusOK {
		t.Fatalf("guest link without JavaScript: %d", st)
	}
	plain := fmt.Sprintf("Guest reply without JavaScript (%d).", time.Now().UnixNano())
	nojs.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), plain))
	if st := nojs.follow("send the reply", chromedp.Click(chromedp.CSS("#reply-send"))); st != http.StatusOK {
		t.Fatalf("plain reply: %d", st)
	}
	if loc := nojs.location(); !strings.HasPrefix(loc, page+"#message-") {
		t.Errorf("after the plain reply the browser is on %q", loc)
	}
	if msgs := nojs.text("#messages"); !strings.Contains(msgs, plain) || !strings.Contains(msgs, reply) {
		t.Errorf("conversation lacks the replies: %q", msgs)
	}
	if st := nojs.follow("send an empty reply", chromedp.Click(chromedp.CSS("#reply-send"))); st != http.StatusUnprocessableEntity {
		t.Errorf("empty reply: %d, want 422", st)
	}
	nojs.visible("#reply-error")
	// The sign-in link leads to the sign-in page.
	if st := nojs.follow("sign in", chromedp.Click(chromedp.CSS("#guest-sign-in"))); st != http.StatusOK || !strings.HasPrefix(nojs.location(), "/login") {
		t.Errorf("sign-in link: %d %s", st, nojs.location())
	}

	// The agent's side: the settings section and the inbox's guest-link box with its
	// confirmation open, at both widths, axe-clean and without sideways scrolling.
	staff := newBrowser(t, p.URL, browserOptions{})
	staffSignIn(t, p, staff)
	for _, w := range []int64{360, 1280} {
		staff.do("resize", chromedp.EmulateViewport(w, 900))
		for name, path := range map[string]string{"settings": "/admin/settings/guest_links", "inbox": fmt.Sprintf("/admin/inbox/%d", fx.AliceOpen)} {
			staff.navigate(path)
			staff.visible("main")
			if name == "inbox" {
				staff.visible("#guest-links-status")
				staff.do("open the confirmation", chromedp.Click(chromedp.CSS("#guest-links-revoke summary")))
				staff.visible("#guest-links-revoke-yes")
			} else if got := staff.text("main"); !strings.Contains(got, "Days a guest link works") {
				t.Errorf("settings page lacks the guest-link days: %q", got)
			}
			axeCheck(staff, name+" "+strconv.FormatInt(w, 10))
			if !run(staff, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`)) {
				t.Errorf("%s scrolls sideways at %d px", path, w)
			}
			saveShot(staff, dir, "guest-"+name+"-"+strconv.FormatInt(w, 10))
		}
	}
	// Revoking (after the confirmation) ends the guest page.
	if st := staff.follow("revoke", chromedp.Click(chromedp.CSS("#guest-links-revoke-yes"))); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if st := nojs.follow("reload the guest page", chromedp.Navigate(p.URL+page)); st != http.StatusNotFound {
		t.Errorf("guest page after revoking: %d", st)
	}
}
