package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// setStage moves the ticket to the first open or closed stage of its pipeline, as an agent does
// in the inbox, and tells the open pages (live updates).
func setStage(t *testing.T, p *portal, ticketID int64, closed bool) {
	t.Helper()
	ctx := context.Background()
	var stage int64
	if err := p.Pool.QueryRow(ctx, `SELECT st.id FROM stages st JOIN tickets t ON t.pipeline_id = st.pipeline_id
		WHERE t.id = $1 AND st.is_closed = $2 ORDER BY st.position LIMIT 1`, ticketID, closed).Scan(&stage); err != nil {
		t.Fatal(err)
	}
	if err := p.Store.InboxTicketSetStage(ctx, ticketID, stage); err != nil {
		t.Fatal(err)
	}
	p.Handlers.Live.Publish(ctx, ticketID)
}

// TestLiveCloseAndReopen: an agent closes the ticket while the customer has its page open (and
// has typed a reply): the status, the Close button and the reply box follow without a reload,
// the typed text stays readable; reopening brings the box back with the text; closing from the
// portal confirms it. With reopen_on_reply the box stays and says that a reply reopens it.
func TestLiveCloseAndReopen(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	if err := p.Store.SettingSet(ctx, "allow_close_from_portal", "true"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	b.navigate(fmt.Sprintf("/tickets/%d", p.Std.AliceOpen))
	b.visible("#close-ticket")
	b.waitHTMX()
	// The event stream is connected once its first "changed" event has been fetched.
	b.waitUntil("the live stream is connected", `() => { const es = document.querySelector("[sse-connect]"); return es && es["htmx-internal-data"] && es["htmx-internal-data"].sseEventSource && es["htmx-internal-data"].sseEventSource.readyState === 1 }`)

	typed := "Half a thought that must not get lost"
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), typed))
	setMarker(b)

	setStage(t, p, p.Std.AliceOpen, true)
	b.waitUntil("the page shows the ticket closed, without Close button or reply box", `(typed) =>
		document.querySelector("#ticket-status").textContent.trim() === "Closed" &&
		!document.querySelector("#close-ticket") && !document.querySelector("#reply-body") &&
		!!document.querySelector("#closed-notice") &&
		document.querySelector("#unsent-body")?.value === typed && !document.querySelector("#unsent").hidden`, typed)
	if !markerKept(b) {
		t.Fatal("the page reloaded; want a live update in place")
	}
	if got := b.text("#closed-notice"); !strings.Contains(got, "closed") {
		t.Errorf("closed notice reads %q", got)
	}
	focusOn(b, "the ticket was closed while typing", "#unsent-body, #closed-notice")

	// The agent reopens it: the box comes back with the text, and so does the Close button.
	setStage(t, p, p.Std.AliceOpen, false)
	b.waitUntil("the page shows the ticket open again with the reply box", `(typed) =>
		document.querySelector("#ticket-status").textContent.trim() === "Open" &&
		!!document.querySelector("#close-ticket") && document.querySelector("#reply-body")?.value === typed`, typed)

	// The customer closes it from the portal (confirm first): a confirmation says so.
	b.do("open the close dialog", chromedp.Click(chromedp.CSS("#close-ticket summary")))
	b.visible("#close-confirm")
	if st := b.follow("confirm closing", chromedp.Click(chromedp.CSS("#close-confirm"))); st != http.StatusOK {
		t.Fatalf("closing answered %d", st)
	}
	b.visible("#ticket-notice")
	if got := b.text("#ticket-notice"); got != "You closed this ticket. You can still read it here." {
		t.Errorf("confirmation reads %q", got)
	}
	if b.present("#close-ticket") || b.present("#reply-body") {
		t.Error("after closing, the page still offers Close ticket or the reply box")
	}

	// With reopen_on_reply the reply box stays on a closed ticket and says what a reply does.
	if err := p.Store.SettingSet(ctx, "reopen_on_reply", "true"); err != nil {
		t.Fatal(err)
	}
	setStage(t, p, p.Std.AliceOpen, false)
	b.navigate(fmt.Sprintf("/tickets/%d", p.Std.AliceOpen))
	b.visible("#reply-body")
	b.waitHTMX()
	b.waitUntil("the live stream is connected", `() => { const es = document.querySelector("[sse-connect]"); return es && es["htmx-internal-data"] && es["htmx-internal-data"].sseEventSource && es["htmx-internal-data"].sseEventSource.readyState === 1 }`)
	setStage(t, p, p.Std.AliceOpen, true)
	b.waitUntil("the closed ticket keeps a reply box that reopens it", `() =>
		document.querySelector("#ticket-status").textContent.trim() === "Closed" && !document.querySelector("#close-ticket") &&
		!!document.querySelector("#reply-body") && (document.querySelector("#reply-notice")?.textContent || "").includes("reopens")`)
	reply := "Actually it is broken again."
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), reply))
	b.do("send it", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the reply reopened the ticket in place", `(reply) =>
		[...document.querySelectorAll("#messages .message-body")].some(m => m.textContent.trim() === reply) &&
		document.querySelector("#ticket-status").textContent.trim() === "Open" && !!document.querySelector("#close-ticket") &&
		!document.querySelector("#reply-notice")`, reply)
}
