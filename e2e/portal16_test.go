package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/sql/store"
)

// TestSharingAcceptAndRatingPages (issue 16): the ticket page with its "Shared with" box and
// "Is this solved?" question, a closed ticket's "How did we do?" box, the rating link's page and
// a participant's read-only view pass axe (WCAG 2.1 AA) and fit 360 px and 1280 px without
// sideways scrolling; a screenshot of each is logged for review.
func TestSharingAcceptAndRatingPages(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	fx := p.Std
	for k, v := range map[string]string{"csat_enabled": "true", "ticket_sharing": "anyone"} {
		if err := p.Store.SettingSet(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	alice := store.NewViewer(fx.Alice, fx.Acme, store.DefaultSettings(), "")
	st, _ := p.Store.SettingsGet(ctx)
	if _, err := p.Store.TicketShareForViewer(ctx, alice, st, fx.AliceOpen, fx.BobEmail); err != nil {
		t.Fatal(err)
	}
	var solved int64
	if err := p.Store.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE asks_confirmation`).Scan(&solved); err != nil {
		t.Fatal(err)
	}
	if err := p.Store.InboxTicketSetStage(ctx, fx.AliceOpen, solved); err != nil {
		t.Fatal(err)
	}
	var closedAt int64
	if err := p.Store.Pool.QueryRow(ctx, `SELECT (extract(epoch FROM closed_at) * 1000000)::bigint FROM tickets WHERE id = $1`, fx.AliceClosed).Scan(&closedAt); err != nil {
		t.Fatal(err)
	}
	rate := "/rate/" + p.Handlers.RatingLinks.Token(store.RatingRef{TicketID: fx.AliceClosed, ContactID: fx.Alice, ClosedAt: closedAt}) + "?score=good"
	check := func(b *browser, pages []string) {
		t.Helper()
		for _, w := range []int64{360, 1280} {
			b.do("resize", chromedp.EmulateViewport(w, 900))
			for _, path := range pages {
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
	anon := newBrowser(t, p.URL, browserOptions{})
	check(anon, []string{rate})
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, fx.AliceEmail, fx.Password)
	check(b, []string{fmt.Sprintf("/tickets/%d", fx.AliceOpen), fmt.Sprintf("/tickets/%d", fx.AliceClosed)})
	b.visible("#rating-form")
	bob := newBrowser(t, p.URL, browserOptions{})
	bob.navigate("/login")
	signIn(bob, fx.BobEmail, fx.Password)
	check(bob, []string{fmt.Sprintf("/tickets/%d", fx.AliceOpen), "/tickets?view=shared"})
}
