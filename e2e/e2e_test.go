package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// signIn fills the sign-in form that the browser shows now and waits for the ticket list.
// signOut clicks Sign out and checks that the sign-in page shows, also for /tickets afterwards.
func signOut(b *browser) {
	b.t.Helper()
	if st := b.follow("click Sign out", chromedp.Click(chromedp.CSS("#sign-out"))); st != http.StatusOK {
		b.t.Fatalf("sign-out landed with status %d", st)
	}
	b.visible("#email")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		b.t.Fatalf("after sign-out the browser is on %q, want the sign-in page", loc)
	}
	b.navigate("/tickets")
	b.visible("#email")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		b.t.Fatalf("/tickets after sign-out shows %q, want the sign-in page", loc)
	}
}

func signIn(b *browser, email, password string) {
	b.t.Helper()
	b.visible("#email")
	b.do("type the credentials",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	if st := b.follow("click Sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
		b.t.Fatalf("sign-in landed with status %d on %s", st, b.location())
	}
	b.visible("#tickets-table")
	if loc := b.location(); loc != "/tickets" {
		b.t.Fatalf("after sign-in the browser is on %q, want /tickets", loc)
	}
}

// setMarker puts a value on window that survives htmx swaps but not a full page load.
func setMarker(b *browser) {
	b.t.Helper()
	b.do("set the page marker", chromedp.Evaluate[chromedp.Void](`window.__marker = 1`))
}

// markerKept reports whether the page set by setMarker is still the one shown.
func markerKept(b *browser) bool {
	b.t.Helper()
	return run(b, "read the page marker", chromedp.Evaluate[bool](`window.__marker === 1`))
}

const (
	orgLabel  = "Organization tickets"
	mineLabel = "Owned by me"
	bobTicket = "VPN keeps dropping"
)

func TestCustomerJourney(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{})

	// A visitor who is not signed in is sent to the sign-in page.
	b.navigate("/tickets")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("/tickets while signed out shows %q, want the sign-in page", loc)
	}
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	b.waitHTMX()

	// Company permissions: the list starts on the organization's tickets, Bob's included.
	if got := b.text("#view-menu"); !strings.Contains(got, orgLabel) {
		t.Fatalf("view menu reads %q, want it to name %q", got, orgLabel)
	}
	if rows := b.rowSubjects(); !contains(rows, bobTicket) || !contains(rows, "Printer on fire") {
		t.Fatalf("organization view lists %q, want Bob's %q and Alice's tickets", rows, bobTicket)
	}

	// Switch to "Owned by me" through the menu: htmx swaps the list in place and pushes the URL.
	setMarker(b)
	b.do("open the view menu", chromedp.Click(chromedp.CSS("#view-menu")))
	b.do("choose Owned by me", chromedp.Click(chromedp.CSS("#view-mine")))
	b.waitUntil("the list shows Owned by me without Bob's ticket", `(bob, label) =>
		location.search.includes("view=mine") &&
		document.querySelector("#view-menu")?.textContent.includes(label) &&
		!!document.querySelector("#tickets-table") &&
		![...document.querySelectorAll("#tickets-table tbody a")].some(a => a.textContent.trim() === bob)`,
		bobTicket, mineLabel)
	if !markerKept(b) {
		t.Fatal("switching the view reloaded the whole page; want an htmx swap in place")
	}
	if rows := b.rowSubjects(); !contains(rows, "Printer on fire") || len(rows) != 25 {
		t.Errorf("Owned by me lists %d rows %q, want 25 of Alice's tickets with Printer on fire", len(rows), rows)
	}

	// The view lives in the URL: a reload keeps it.
	b.do("reload the page", chromedp.Reload())
	b.visible("#tickets-table")
	if got := b.text("#view-menu"); !strings.Contains(got, mineLabel) {
		t.Fatalf("after a reload the view menu reads %q, want %q", got, mineLabel)
	}
	if rows := b.rowSubjects(); contains(rows, bobTicket) {
		t.Fatalf("after a reload Owned by me lists Bob's %q", bobTicket)
	}

	// Back returns to the organization view.
	b.do("go back", chromedp.NavigateBack())
	b.visible("#tickets-table")
	b.waitHTMX()
	b.waitUntil("the organization view is back", `(bob, label) =>
		!location.search.includes("view=mine") &&
		document.querySelector("#view-menu")?.textContent.includes(label) &&
		[...document.querySelectorAll("#tickets-table tbody a")].some(a => a.textContent.trim() === bob)`,
		bobTicket, orgLabel)

	// Search swaps the list to exactly the matching ticket.
	setMarker(b)
	b.do("search for Printer", chromedp.SendKeys(chromedp.CSS("#q"), "Printer\n"))
	b.waitUntil("the list shows only the search result", `() => {
		const rows = [...document.querySelectorAll("#tickets-table tbody tr")];
		return location.search.includes("q=Printer") && rows.length === 1 &&
			rows[0].querySelector("a")?.textContent.trim() === "Printer on fire";
	}`)
	if !markerKept(b) {
		t.Fatal("searching reloaded the whole page; want an htmx swap in place")
	}
	if got := b.rowSubjects(); !slices.Equal(got, []string{"Printer on fire"}) {
		t.Fatalf("search for Printer lists %q, want exactly [Printer on fire]", got)
	}

	// Open the ticket: the public conversation shows, the internal note does not.
	if st := b.follow("open Printer on fire", chromedp.Click(chromedp.CSS(`#tickets-table tbody a`))); st != http.StatusOK {
		t.Fatalf("ticket page answered %d", st)
	}
	b.visible("#messages")
	b.waitHTMX()
	if got := b.text("#ticket-subject"); got != "Printer on fire" {
		t.Fatalf("ticket page subject %q, want Printer on fire", got)
	}
	msgs := b.text("#messages")
	for _, want := range []string{"The printer is on fire.", "Please unplug it."} {
		if !strings.Contains(msgs, want) {
			t.Errorf("conversation %q lacks %q", msgs, want)
		}
	}
	if body := b.text("body"); strings.Contains(body, "SECRET-NOTE") {
		t.Fatalf("the customer sees the internal note: %q", body)
	}
	ticketURL := b.location()

	// Reply with htmx: the message appears, the box empties, last activity moves.
	before := run(b, "read the last activity", chromedp.AttributeValue(chromedp.CSS("#last-activity"), "datetime"))
	if !before.Exists {
		t.Fatal("#last-activity has no datetime")
	}
	reply := fmt.Sprintf("Unplugged it, still smoking (%d).", time.Now().UnixNano())
	setMarker(b)
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), reply))
	b.do("send the reply", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the reply shows, the box is empty and last activity changed", `(reply, before) =>
		[...document.querySelectorAll("#messages .message-body")].some(m => m.textContent.trim() === reply) &&
		document.querySelector("#reply-body")?.value === "" &&
		document.querySelector("#last-activity")?.getAttribute("datetime") !== before`,
		reply, before.Value)
	if !markerKept(b) {
		t.Fatal("replying reloaded the whole page; want an htmx swap in place")
	}
	if n := run(b, "count the reply", chromedp.Evaluate[int](fmt.Sprintf(
		`[...document.querySelectorAll("#messages .message-body")].filter(m => m.textContent.trim() === %q).length`, reply))); n != 1 {
		t.Errorf("the reply shows %d times in #messages, want once", n)
	}
	if got := b.text("#messages > article:last-of-type header strong"); got != "Alice Archer" {
		t.Errorf("the new reply is signed %q, want Alice Archer", got)
	}
	if b.present("#reply-error") {
		t.Errorf("a successful reply shows an error: %q", b.text("#reply-error"))
	}

	// An empty reply is refused beside the box.
	b.do("send an empty reply", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the reply error shows", `() => !!document.querySelector("#reply-error")`)
	b.visible("#reply-error")
	if got := b.text("#reply-error"); got == "" {
		t.Error("#reply-error is empty")
	}
	if loc := b.location(); loc != ticketURL {
		t.Errorf("after an empty reply the browser is on %q, want %q", loc, ticketURL)
	}
	if inv := run(b, "read aria-invalid", chromedp.AttributeValue(chromedp.CSS("#reply-body"), "aria-invalid")); inv.Value != "true" {
		t.Errorf("the refused reply box has aria-invalid=%q, want true", inv.Value)
	}

	// Correcting the reply clears the error and sends it.
	second := "And now it is out."
	b.do("type a second reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), second))
	b.do("send the second reply", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the second reply shows and the error is gone", `(reply) =>
		[...document.querySelectorAll("#messages .message-body")].some(m => m.textContent.trim() === reply) &&
		!document.querySelector("#reply-error") && document.querySelector("#reply-body")?.value === ""`, second)
	if !markerKept(b) {
		t.Fatal("the replies reloaded the whole page; want htmx swaps in place")
	}

	// Sign out, and the tickets are closed again.
	signOut(b)
}

func TestPagination(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	b.waitHTMX()

	first := b.rowSubjects()
	// Organization view: Alice's 2 + 30 extra tickets and Bob's one, newest activity first.
	if len(first) != 25 || first[0] != "Printer on fire" {
		t.Fatalf("page 1 lists %d rows starting %q, want 25 starting with Printer on fire", len(first), first[:min(1, len(first))])
	}
	if b.present("a[rel=prev]") {
		t.Error("page 1 offers a previous page")
	}

	setMarker(b)
	b.do("click Next", chromedp.Click(chromedp.CSS("a[rel=next]")))
	b.waitUntil("page 2 is swapped in", `() => location.search.includes("cursor=") &&
		!!document.querySelector("a[rel=prev]") && !document.querySelector("a[rel=next]")`)
	if !markerKept(b) {
		t.Fatal("Next reloaded the whole page; want an htmx swap in place")
	}
	second := b.rowSubjects()
	want := p.Extra[len(p.Extra)-8:] // the 8 oldest
	if !slices.Equal(second, want) {
		t.Fatalf("page 2 lists %q, want %q", second, want)
	}
	for _, s := range second {
		if contains(first, s) {
			t.Errorf("%q is on both pages", s)
		}
	}

	b.do("click Previous", chromedp.Click(chromedp.CSS("a[rel=prev]")))
	b.waitUntil("page 1 is swapped back", `() => !!document.querySelector("a[rel=next]") &&
		document.querySelectorAll("#tickets-table tbody tr").length === 25`)
	if got := b.rowSubjects(); !slices.Equal(got, first) {
		t.Fatalf("back on page 1 the list is %q, want %q", got, first)
	}
	if !markerKept(b) {
		t.Fatal("Previous reloaded the whole page; want an htmx swap in place")
	}
}

// TestNoJavaScript walks the same journey with JavaScript off: every link and form works as
// plain HTML (full page loads, 303 after a POST).
func TestNoJavaScript(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{noJavaScript: true})

	b.navigate("/tickets")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("/tickets while signed out shows %q, want the sign-in page", loc)
	}
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	if htmx := run(b, "look for htmx", chromedp.Evaluate[string](`typeof window.htmx`)); htmx != "undefined" {
		t.Fatalf("htmx is %s; JavaScript should be off in this tab", htmx)
	}
	if rows := b.rowSubjects(); !contains(rows, bobTicket) {
		t.Fatalf("organization view lists %q, want Bob's %q", rows, bobTicket)
	}

	// The view menu is a <details>: it opens without script, and its links are plain links.
	b.do("open the view menu", chromedp.Click(chromedp.CSS("#view-menu")))
	if st := b.follow("choose Owned by me", chromedp.Click(chromedp.CSS("#view-mine"))); st != http.StatusOK {
		t.Fatalf("Owned by me answered %d", st)
	}
	b.visible("#tickets-table")
	if loc := b.location(); !strings.Contains(loc, "view=mine") {
		t.Fatalf("after choosing Owned by me the browser is on %q", loc)
	}
	if got := b.text("#view-menu"); !strings.Contains(got, mineLabel) {
		t.Fatalf("view menu reads %q, want %q", got, mineLabel)
	}
	if rows := b.rowSubjects(); contains(rows, bobTicket) {
		t.Fatalf("Owned by me lists Bob's %q", bobTicket)
	}

	// Search with the plain GET form (it keeps the view).
	b.do("type Printer", chromedp.SendKeys(chromedp.CSS("#q"), "Printer"))
	if st := b.follow("submit the search", chromedp.Click(chromedp.CSS("#search-form button[type=submit]"))); st != http.StatusOK {
		t.Fatalf("search answered %d", st)
	}
	b.visible("#tickets-table")
	if loc := b.location(); !strings.Contains(loc, "q=Printer") || !strings.Contains(loc, "view=mine") {
		t.Errorf("search URL %q, want q=Printer and view=mine", loc)
	}
	if got := b.rowSubjects(); !slices.Equal(got, []string{"Printer on fire"}) {
		t.Fatalf("search for Printer lists %q, want exactly [Printer on fire]", got)
	}

	// Open the ticket.
	if st := b.follow("open Printer on fire", chromedp.Click(chromedp.CSS(`#tickets-table tbody a`))); st != http.StatusOK {
		t.Fatalf("ticket page answered %d", st)
	}
	b.visible("#messages")
	if msgs := b.text("#messages"); !strings.Contains(msgs, "The printer is on fire.") {
		t.Errorf("conversation %q lacks the first message", msgs)
	}
	if body := b.text("body"); strings.Contains(body, "SECRET-NOTE") {
		t.Fatalf("the customer sees the internal note: %q", body)
	}
	ticketPath := b.location()

	// Reply with the plain form: POST, 303 back to the ticket, the reply is on the new page.
	reply := fmt.Sprintf("Sent without JavaScript (%d).", time.Now().UnixNano())
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), reply))
	if st := b.follow("send the reply", chromedp.Click(chromedp.CSS("#reply-send"))); st != http.StatusOK {
		t.Fatalf("reply landed with status %d on %s", st, b.location())
	}
	b.visible("#messages")
	loc := b.location()
	if !strings.HasPrefix(loc, ticketPath+"#message-") {
		t.Errorf("after the reply the browser is on %q, want %s#message-…", loc, ticketPath)
	}
	if msgs := b.text("#messages"); !strings.Contains(msgs, reply) {
		t.Fatalf("after the reply the conversation %q lacks it", msgs)
	}
	if v := run(b, "read the reply box", chromedp.Value(chromedp.CSS("#reply-body"))); v != "" {
		t.Errorf("the reply box still holds %q", v)
	}

	// An empty reply: the whole page again, with the error beside the box (422).
	if st := b.follow("send an empty reply", chromedp.Click(chromedp.CSS("#reply-send"))); st != http.StatusUnprocessableEntity {
		t.Errorf("empty reply answered %d, want 422", st)
	}
	b.visible("#reply-error")

	// Sign out.
	signOut(b)
}

// TestRefusedHTMXRequestIsShown: a request the server refuses without a fragment to swap (here a
// 400 for a NUL byte, typed by script) shows the server's message beside the form, and the text
// stays in the box.
func TestRefusedHTMXRequestIsShown(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	b.navigate(fmt.Sprintf("/tickets/%d", p.Std.AliceOpen))
	b.waitHTMX()
	b.do("type a NUL byte by script", chromedp.Evaluate[chromedp.Void](`document.querySelector("#reply-body").value = "before\u0000after"`))
	b.do("send", chromedp.Click(chromedp.CSS("#reply-send")))
	b.visible("#reply-form .request-error")
	if got := b.text("#reply-form .request-error"); !strings.Contains(got, "cannot be processed") {
		t.Fatalf("message beside the form = %q", got)
	}
	if n := run(b, "read the reply box", chromedp.Evaluate[int](`document.querySelector("#reply-body").value.length`)); n != len("before\x00after") {
		t.Fatalf("reply box holds %d characters, want the typed text kept", n)
	}
}
