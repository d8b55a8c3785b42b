package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portico/sql/store"
)

// openRows returns the ticket ids of the inbox list's links, in order.
func openRows(b *browser) []string {
	b.t.Helper()
	return run(b, "read the inbox rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#inbox-list a.inbox-open")].map(a => a.dataset.ticket)`))
}

// shownTicket returns the id of the ticket in the detail pane ("" = none).
func shownTicket(b *browser) string {
	b.t.Helper()
	return run(b, "read the detail pane", chromedp.Evaluate[string](`(document.querySelector("#inbox-detail #inbox-ticket") || {dataset: {}}).dataset.ticket || ""`))
}

// press sends one printable key to the focused element as a person's key press does: one
// keyDown that carries the text (so that a handler that prevents the keydown also prevents the
// character, unlike chromedp.KeyEvent's separate char event), then keyUp.
func press(b *browser, key string) {
	b.t.Helper()
	evs := kb.Encode([]rune(key)[0])
	down, up := *evs[0], *evs[len(evs)-1]
	if len(evs) == 3 {
		down.Text, down.UnmodifiedText = evs[1].Text, evs[1].UnmodifiedText
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for _, ev := range []input.DispatchKeyEventParams{down, up} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
			b.fail("press "+key, err)
		}
	}
}

// TestInboxSplitViewInBrowser: at 1280 px a click on a ticket swaps the detail pane beside the
// list (no page load), the URL becomes the ticket's and Back returns through the tickets to the
// list; j/k step through the list, r moves to the reply box, / to the search, c to the Stage
// menu (which offers only the ticket's pipeline's stages), ? opens the shortcuts dialog (Esc
// closes it, focus returns); typing a j in a field types it. At 360 px the list and the ticket
// are separate pages.
func TestInboxSplitViewInBrowser(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	sales, err := p.Store.PipelineCreate(ctx, store.CLIEditor, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StageCreate(ctx, store.CLIEditor, sales, "Won", true); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, p.URL, browserOptions{})
	b.do("resize", chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, p, b)
	b.navigate("/admin/inbox")
	b.visible("#inbox-placeholder")
	b.waitHTMX()
	rows := openRows(b)
	if len(rows) < 3 {
		t.Fatalf("inbox rows: %v", rows)
	}
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))

	// Click: the detail pane swaps, the URL is the ticket's, the list stays.
	b.do("click the first ticket", chromedp.Click(chromedp.CSS(`#inbox-list a.inbox-open[data-ticket="`+rows[0]+`"]`)))
	b.waitUntil("the first ticket is shown", `id => document.querySelector("#inbox-detail #inbox-ticket[data-ticket='" + id + "']")`, rows[0])
	if loc := b.location(); loc != "/admin/inbox/"+rows[0] {
		t.Errorf("URL after the click = %q", loc)
	}
	if !run(b, "same page?", chromedp.Evaluate[bool](`window.__samePage === true`)) {
		t.Error("the click loaded a new page instead of swapping the pane")
	}
	if !b.present(`#inbox-list a[aria-current][data-ticket="` + rows[0] + `"]`) {
		t.Error("the shown ticket is not marked in the list")
	}
	if title := run(b, "title", chromedp.Title()); !strings.HasPrefix(title, b.text("#ticket-subject")) {
		t.Errorf("title %q does not name the ticket", title)
	}
	checkFits(b, "split view at 1280 px")
	saveShot(b, shotsDir(t), "staff-split-1280")
	// The Stage menu: only the Support pipeline's stages.
	for _, o := range run(b, "stage options", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#stage option")].map(o => o.textContent)`)) {
		if strings.Contains(o, "Won") {
			t.Errorf("the Stage menu offers %q of the Sales pipeline", o)
		}
	}

	// j and k.
	press(b, "j")
	b.waitUntil("j shows the second ticket", `id => document.querySelector("#inbox-detail #inbox-ticket[data-ticket='" + id + "']")`, rows[1])
	press(b, "j")
	b.waitUntil("j shows the third ticket", `id => document.querySelector("#inbox-detail #inbox-ticket[data-ticket='" + id + "']")`, rows[2])
	press(b, "k")
	b.waitUntil("k shows the second ticket again", `id => document.querySelector("#inbox-detail #inbox-ticket[data-ticket='" + id + "']")`, rows[1])
	if loc := b.location(); loc != "/admin/inbox/"+rows[1] {
		t.Errorf("URL after j, j, k = %q", loc)
	}

	// r: the reply box; a j typed there is text, not a shortcut.
	press(b, "r")
	if id := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "compose-body" {
		t.Fatalf("r focused %q, want the reply box", id)
	}
	b.do("type in the reply box", chromedp.KeyEvent("just j"))
	if v := run(b, "reply text", chromedp.Evaluate[string](`document.querySelector("#compose-body").value`)); v != "just j" {
		t.Errorf("reply box = %q", v)
	}
	if got := shownTicket(b); got != rows[1] {
		t.Errorf("typing j in the reply box moved to ticket %s", got)
	}
	b.do("leave the box", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	press(b, "c")
	if id := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "stage" {
		t.Errorf("c focused %q, want the Stage menu", id)
	}
	b.do("leave the menu", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	press(b, "/")
	if id := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "f-q" {
		t.Errorf("/ focused %q, want the search", id)
	}
	b.do("leave the search", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))

	// ?: the dialog lists the shortcuts; axe is clean with it open; Esc closes it and focus
	// goes back to the button that opened it.
	b.do("focus the shortcuts button", chromedp.Focus(chromedp.CSS("#shortcuts-open")))
	press(b, "?")
	b.visible("#shortcuts-dialog")
	if !run(b, "modal?", chromedp.Evaluate[bool](`document.querySelector("#shortcuts-dialog").matches(":modal")`)) {
		t.Error("the shortcuts dialog is not modal")
	}
	if txt := b.text("#shortcuts-table"); !strings.Contains(txt, "Next ticket in the list") || !strings.Contains(txt, "Write a reply") {
		t.Errorf("shortcuts table = %q", txt)
	}
	axeCheck(b, "shortcuts dialog")
	press(b, "j") // shortcuts are off while the dialog is open
	if got := shownTicket(b); got != rows[1] {
		t.Errorf("j behind the open dialog moved to ticket %s", got)
	}
	b.do("press Escape", chromedp.KeyEvent(kb.Escape))
	b.waitUntil("the dialog closes", `() => !document.querySelector("#shortcuts-dialog").open`)
	if id := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); id != "shortcuts-open" {
		t.Errorf("after Esc focus is on %q, want the shortcuts button", id)
	}
	b.do("open with the button", chromedp.Click(chromedp.CSS("#shortcuts-open")))
	b.visible("#shortcuts-dialog")
	b.do("close with the button", chromedp.Click(chromedp.CSS("#shortcuts-close")))
	b.waitUntil("the dialog closes", `() => !document.querySelector("#shortcuts-dialog").open`)

	// Back: through the tickets shown (each URL loads as a whole page) to the list.
	for _, want := range []string{rows[2], rows[1], rows[0]} {
		b.do("go back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		b.visible(`#inbox-detail #inbox-ticket[data-ticket="` + want + `"]`)
		if loc := b.location(); loc != "/admin/inbox/"+want {
			t.Errorf("Back: URL %q, want ticket %s", loc, want)
		}
	}
	b.do("go back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.visible("#inbox-placeholder")
	if loc := b.location(); loc != "/admin/inbox" {
		t.Errorf("Back to the list: URL %q", loc)
	}

	// Phones: a click opens the ticket as its own page, with the way back to the list.
	b.do("resize", chromedp.EmulateViewport(360, 800))
	b.navigate("/admin/inbox")
	b.waitHTMX()
	if st := b.follow("tap the first ticket", chromedp.Click(chromedp.CSS(`#inbox-list a.inbox-open[data-ticket="`+rows[0]+`"]`))); st != http.StatusOK {
		t.Fatalf("ticket page: %d", st)
	}
	b.visible("#inbox-back")
	if b.location() != "/admin/inbox/"+rows[0] {
		t.Errorf("phone: URL %q", b.location())
	}
	if run(b, "list shown?", chromedp.Evaluate[bool](`document.querySelector("#inbox-pane-list").offsetParent !== null`)) {
		t.Error("phone: the list is shown beside the ticket")
	}
	checkFits(b, fmt.Sprintf("ticket %s at 360 px", rows[0]))
	press(b, "j") // on the ticket's own page j opens the next ticket's page
	b.visible(`#inbox-ticket[data-ticket="` + rows[1] + `"]`)
	if st := b.follow("back to the list", chromedp.Click(chromedp.CSS("#inbox-back"))); st != http.StatusOK {
		t.Fatalf("list: %d", st)
	}
	b.visible("#inbox-list")

	// The phone header: one row (brand and Menu); the menu opens in place, Administration inside
	// it as a disclosure of its own.
	if !run(b, "one row?", chromedp.Evaluate[bool](`(() => {
		const a = document.querySelector("#brand").getBoundingClientRect(), m = document.querySelector("#nav-toggle-label").getBoundingClientRect();
		return m.top < a.bottom && a.top < m.bottom && document.querySelector("#site-nav").offsetParent === null;
	})()`)) {
		t.Error("phone header: the brand and the Menu button are not one row, or the navigation shows before the menu opens")
	}
	b.do("open the menu", chromedp.Click(chromedp.CSS("#nav-toggle-label")))
	b.visible("#nav-inbox")
	b.do("open Administration", chromedp.Click(chromedp.CSS("#admin-menu-toggle")))
	b.visible("#nav-providers")
	checkFits(b, "open staff menu at 360 px")
	if bottom := run(b, "menu bottom", chromedp.Evaluate[float64](`document.querySelector("#site-nav").getBoundingClientRect().bottom`)); bottom > 800 {
		t.Errorf("the open staff menu ends at %.0f px, below the first screen (800 px)", bottom)
	}
	saveShot(b, shotsDir(t), "staff-menu-360-open")
}

// TestFormBuilderInBrowser: the builder saves two edited fields with one click; removing a field
// asks first (the step opens in place, the field stays until the second button), then removes it.
func TestFormBuilderInBrowser(t *testing.T) {
	p := startPortal(t)
	connectSupportForm(t, p)
	ctx := context.Background()
	var formID, subjectID, prioID int64
	if err := p.Pool.QueryRow(ctx, `SELECT f.id, (SELECT id FROM support_form_fields WHERE form_id = f.id AND property = 'subject'),
		(SELECT id FROM support_form_fields WHERE form_id = f.id AND property = 'priority') FROM support_forms f ORDER BY f.id LIMIT 1`).Scan(&formID, &subjectID, &prioID); err != nil {
		t.Fatal(err)
	}
	label := func(id int64) string {
		var l string
		p.Pool.QueryRow(ctx, `SELECT label FROM support_form_fields WHERE id = $1`, id).Scan(&l)
		return l
	}
	b := newBrowser(t, p.URL, browserOptions{})
	b.do("resize", chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, p, b)
	path := fmt.Sprintf("/admin/forms/%d", formID)
	b.navigate(path)
	sub, pri := fmt.Sprintf("#field-%d-label", subjectID), fmt.Sprintf("#field-%d-label", prioID)
	b.visible(sub)
	b.do("edit two labels", chromedp.Evaluate[chromedp.Void](`document.querySelector("`+sub+`").value = ""; document.querySelector("`+pri+`").value = ""`),
		chromedp.SendKeys(chromedp.CSS(sub), "What went wrong?"), chromedp.SendKeys(chromedp.CSS(pri), "How urgent is it?"))
	if st := b.follow("save all fields", chromedp.Click(chromedp.CSS("#fields-save"))); st != http.StatusOK {
		t.Fatalf("save: %d", st)
	}
	b.visible("#saved")
	if a, c := label(subjectID), label(prioID); a != "What went wrong?" || c != "How urgent is it?" {
		t.Errorf("after one save: %q, %q", a, c)
	}
	saveShot(b, shotsDir(t), "staff-form-builder-1280")

	step := fmt.Sprintf("#field-%d-remove", prioID)
	b.do("open the remove step", chromedp.Click(chromedp.CSS(step+" > summary")))
	b.visible(step + "-yes")
	if txt := b.text(step + " p"); !strings.Contains(txt, "Tickets already submitted keep their answers") {
		t.Errorf("confirmation text = %q", txt)
	}
	axeCheck(b, "form builder with the remove step open")
	if r := textContrast(b, step+"-yes"); r < 4.5 {
		t.Errorf("the confirming button's text has contrast %.2f:1 against its background, want ≥ 4.5", r)
	}
	if !b.present(fmt.Sprintf("#field-%d", prioID)) || label(prioID) == "" {
		t.Fatal("opening the step removed the field")
	}
	if st := b.follow("confirm", chromedp.Click(chromedp.CSS(step+"-yes"))); st != http.StatusOK {
		t.Fatalf("remove: %d", st)
	}
	b.visible("#fields-form")
	if b.present(fmt.Sprintf("#field-%d", prioID)) {
		t.Error("the field is still on the form after the confirmation")
	}
	var n int
	p.Pool.QueryRow(ctx, `SELECT count(*) FROM support_form_fields WHERE id = $1`, prioID).Scan(&n)
	if n != 0 {
		t.Error("the field is still stored")
	}
	b.do("resize", chromedp.EmulateViewport(360, 800))
	b.navigate(path)
	b.visible("#fields-form")
	checkFits(b, "form builder at 360 px")
	saveShot(b, shotsDir(t), "staff-form-builder-360")
}
