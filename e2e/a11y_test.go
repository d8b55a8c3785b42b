package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portico/sql/store"
)

// axeSource is axe-core, vendored from npm (see testdata/README.md for version and licence).
//
//go:embed testdata/axe.min.js
var axeSource string

// wcagTags are the axe-core rule tags of WCAG 2.1 level A and AA.
var wcagTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// axeViolation is one failed rule with a few of its nodes.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axeCheck injects axe-core into the page shown now, runs the WCAG 2.1 A/AA rules and fails
// the test with every violation found. It returns how many rules passed.
func axeCheck(b *browser, label string) int {
	b.t.Helper()
	passes, violations := axeRun(b, label)
	for _, v := range violations {
		b.t.Errorf("axe on %s (%s): %s [%s] %s\n\t%s", label, b.location(), v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
	return passes
}

// axeRun injects axe-core when needed and returns the number of passed rules and the violations.
func axeRun(b *browser, label string) (int, []axeViolation) {
	b.t.Helper()
	if !run(b, "look for axe", chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
		b.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axeSource+";void 0"))
	}
	tags, _ := json.Marshal(wcagTags)
	res := run(b, "run axe on "+label, chromedp.Evaluate[string](`(async () => {
		const r = await axe.run(document, {runOnly: {type: "tag", values: `+string(tags)+`}, resultTypes: ["violations"]});
		return JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help,
			Nodes: v.nodes.slice(0, 6).map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " "))}))});
	})()`, chromedp.EvalAwaitPromise))
	var out struct {
		Passes     int
		Violations []axeViolation
	}
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		b.t.Fatalf("axe result on %s: %v", label, err)
	}
	return out.Passes, out.Violations
}

// chooseLanguage uses the language switcher (applied on change with JavaScript, by its button
// without) and waits for the new page.
func chooseLanguage(b *browser, lang string) {
	b.t.Helper()
	b.visible("#language-select")
	// With JavaScript the choice applies itself on change (the button is hidden); without,
	// the button submits it.
	apply := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const s = document.querySelector("#language-select"), btn = document.querySelector("#language-apply");
		s.value = %q;
		if (btn.offsetParent !== null) btn.click(); else s.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, lang))
	if st := b.follow("apply the language", apply); st != http.StatusOK {
		b.t.Fatalf("language switch to %s answered %d", lang, st)
	}
	if got := run(b, "read html lang", chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
		b.t.Fatalf("after choosing %s the page is in %q", lang, got)
	}
}

// seedKB stores a small knowledge base: a category and articles in English and German, one of
// them for signed-in customers only.
func seedKB(t *testing.T, p *portal) {
	t.Helper()
	ctx := context.Background()
	cat, err := p.Store.KBCategoryCreate(ctx, 0, "billing", "en", "Billing", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Store.KBCategoryRename(ctx, 0, cat.ID, "de", "Abrechnung"); err != nil {
		t.Fatal(err)
	}
	save := func(id int64, slug, vis, lang, title, body string) int64 {
		id, err := p.Store.KBArticleSave(ctx, 0, id, store.KBArticleInput{Slug: slug, CategoryID: cat.ID, Visibility: vis, Lang: lang, Title: title, BodyMD: body})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Store.KBTranslationPublish(ctx, 0, id, lang, true); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := save(0, "understanding-invoices", store.KBPublic, "en", "Understanding your invoices",
		"## Payments\n\nAll **invoices** are sent monthly. See the table:\n\n| Plan | Price |\n|---|---|\n| Basic | 10 |\n\n[Contact us](https://example.com)")
	save(id, "understanding-invoices", store.KBPublic, "de", "Ihre Rechnungen verstehen",
		"## Zahlungen\n\nAlle **Rechnungen** werden monatlich versendet.\n\n- Erstens\n- Zweitens")
	save(0, "vpn-setup", store.KBPortal, "en", "Setting up the VPN", "1. Install the client.\n2. Sign in.")
}

// TestAccessibility runs axe-core (WCAG 2.1 A and AA) on every customer and knowledge-base page,
// in English and in German, signed out and signed in.
func TestAccessibility(t *testing.T) {
	p := startPortal(t)
	seedKB(t, p)
	connectSupportForm(t, p)
	b := newBrowser(t, p.URL, browserOptions{})
	ctx := context.Background()
	if err := p.Store.SettingSet(ctx, "allow_reply_on_closed", "false"); err != nil {
		t.Fatal(err)
	}
	public := []string{"/login", "/kb", "/kb/understanding-invoices", "/kb/search?q=invoice", "/kb/search?q=nothing-matches-this",
		"/register", "/password/forgot", "/login/link", "/no-such-page"}
	private := []string{"/tickets", "/tickets?view=mine", "/tickets?q=Printer&status=open", fmt.Sprintf("/tickets/%d", p.Std.AliceOpen),
		fmt.Sprintf("/tickets/%d", p.Std.AliceClosed), "/tickets/new", "/account", "/kb/vpn-setup"}
	// The check can fail: a planted image without alternative text is reported.
	b.navigate("/kb")
	b.do("plant a violation", chromedp.Evaluate[chromedp.Void](`document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="/static/none.png" id="planted">')`))
	if _, v := axeRun(b, "planted violation"); len(v) == 0 || v[0].ID != "image-alt" {
		t.Fatalf("axe did not report the planted image without alt: %+v", v)
	}
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, p.URL, browserOptions{}) // a fresh browser (and time budget) per language
			checked, passes := 0, 0
			visit := func(path string) {
				t.Helper()
				st := b.follow("open "+path, chromedp.Navigate(p.URL+path))
				if st == http.StatusNotFound && path != "/no-such-page" {
					t.Logf("%s answers 404 (not built yet?): skipped", path)
					return
				}
				passes += axeCheck(b, path)
				checked++
			}
			b.navigate("/kb")
			chooseLanguage(b, lang)
			for _, path := range public {
				visit(path)
			}
			b.navigate("/login")
			signIn(b, p.Std.AliceEmail, p.Std.Password)
			for _, path := range private {
				visit(path)
			}
			// The refused reply (422) and the open View menu are states of their own.
			b.navigate(fmt.Sprintf("/tickets/%d", p.Std.AliceOpen))
			b.follow("send an empty reply without htmx", chromedp.Evaluate[chromedp.Void](`document.querySelector("#reply-form").submit()`))
			b.visible("#reply-error")
			passes += axeCheck(b, "refused reply")
			b.navigate("/tickets")
			b.do("open the view menu", chromedp.Click(chromedp.CSS("#view-menu")))
			passes += axeCheck(b, "open view menu")
			checked += 2
			t.Logf("axe-core (%s): %d page states, %d rule passes, violations reported above (none when passing)", lang, checked, passes)
		})
	}
}

// tabTo presses Tab until the focused element matches sel (at most max presses) and reports
// whether the focus is visible (an outline or a box shadow drawn by :focus-visible).
func tabTo(b *browser, sel string, max int) {
	b.t.Helper()
	for i := 0; i < max; i++ {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if run(b, "check focus", chromedp.Evaluate[bool](fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel))) {
			visible := run(b, "check the focus is visible", chromedp.Evaluate[bool](`(() => {
				const e = document.activeElement, s = getComputedStyle(e);
				return e.matches(":focus-visible") && ((s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none");
			})()`))
			if !visible {
				b.t.Errorf("%s has the focus but no visible focus indicator", sel)
			}
			return
		}
	}
	b.t.Fatalf("%d Tab presses never reached %s (focus on %s)", max, sel,
		run(b, "describe focus", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`)))
}

// focusOn waits (up to 3 s) until htmx is idle and the focused element matches sel, after an
// in-place swap; it fails naming where the focus is instead (e.g. <body>).
func focusOn(b *browser, what, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	fn := `(sel) => !!document.activeElement && document.activeElement.matches(sel) && ` + htmxIdle
	_, err := chromedp.Run(ctx, chromedp.PollFunction[chromedp.Void](fn,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingArgs(sel)))
	if err != nil {
		b.t.Fatalf("after %s the focus is on %s, want %s (%v)", what,
			run(b, "describe focus", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`)), sel, err)
	}
}

// TestKeyboardOnly signs in, switches the View menu and replies using only the keyboard, with a
// visible focus at every stop, and hears the swaps through the aria-live announcer. After every
// in-place swap the focus lands on a control of the new content, never on <body>.
func TestKeyboardOnly(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	b.visible("#email")
	b.waitHTMX()

	// Sign in: type into the focused fields, Tab between them, Enter submits.
	tabTo(b, "#email", 40)
	b.do("type the email", chromedp.KeyEvent(p.Std.AliceEmail))
	tabTo(b, "#password", 3)
	b.do("type the password", chromedp.KeyEvent(p.Std.Password))
	if st := b.follow("press Enter", chromedp.KeyEvent(kb.Enter)); st != http.StatusOK {
		t.Fatalf("sign-in by keyboard answered %d", st)
	}
	b.visible("#tickets-table")
	b.waitHTMX()

	// The View menu: Tab to it, Enter opens it, Tab to "Owned by me", Enter swaps the list.
	setMarker(b)
	tabTo(b, "#view-menu", 40)
	b.do("open the menu with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the menu is open", `() => document.querySelector("details.view-menu").open`)
	// Escape closes the open menu and leaves the focus on its button.
	tabTo(b, "#view-org", 3)
	b.do("press Escape", chromedp.KeyEvent(kb.Escape))
	b.waitUntil("the menu is closed", `() => !document.querySelector("details.view-menu").open`)
	focusOn(b, "Escape in the View menu", "#view-menu")
	b.do("open the menu again with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the menu is open", `() => document.querySelector("details.view-menu").open`)
	tabTo(b, "#view-mine", 3)
	b.do("choose Owned by me with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the list shows Owned by me and the swap is announced", `(label) =>
		location.search.includes("view=mine") && document.querySelector("#view-menu").textContent.includes(label) &&
		document.querySelector("#announcer").textContent.trim() !== ""`, mineLabel)
	if !markerKept(b) {
		t.Fatal("the keyboard view switch reloaded the page; want an htmx swap")
	}
	focusOn(b, "choosing Owned by me", "#view-menu")
	t.Logf("announced after the view switch: %q", b.text("#announcer"))

	// Sorting by a column keeps the focus on that column's link.
	tabTo(b, "#sort-subject", 20)
	b.do("sort by subject with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the list is sorted by subject", `() => location.search.includes("sort=subject")`)
	focusOn(b, "sorting by subject", "#sort-subject")
	b.do("sort by subject again with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the list is sorted by subject, descending", `() => location.search.includes("sort=-subject")`)
	focusOn(b, "sorting by subject again", "#sort-subject")

	// The next page has no Next link: the focus goes to Previous.
	tabTo(b, "#next-page", 80)
	b.do("next page with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("page 2 shows", `() => location.search.includes("cursor=") && !document.querySelector("#next-page")`)
	focusOn(b, "going to the last page", "#prev-page")
	b.do("previous page with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("page 1 shows", `() => !!document.querySelector("#next-page")`)
	focusOn(b, "going back to page 1", "#next-page, #prev-page")

	// Searching keeps the focus in the search field.
	b.do("focus the search field", chromedp.Focus(chromedp.CSS("#q")))
	b.do("search with Enter", chromedp.KeyEvent("Printer"+kb.Enter))
	b.waitUntil("the search result shows", `() => location.search.includes("q=Printer")`)
	focusOn(b, "searching", "#q")

	// Open the ticket from the list with Enter.
	tabTo(b, `#tickets-table tbody a[href="/tickets/`+itoa(p.Std.AliceOpen)+`"]`, 60)
	if st := b.follow("open the ticket with Enter", chromedp.KeyEvent(kb.Enter)); st != http.StatusOK {
		t.Fatalf("ticket page answered %d", st)
	}
	b.visible("#reply-body")
	b.waitHTMX()

	// Reply: Tab into the box, type, Tab to Send (past the file input), Enter.
	setMarker(b)
	reply := "Typed with the keyboard only."
	tabTo(b, "#reply-body", 40)
	b.do("type the reply", chromedp.KeyEvent(reply))
	tabTo(b, "#reply-send", 4)
	b.do("send with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the reply shows and is announced", `(reply) =>
		[...document.querySelectorAll("#messages .message-body")].some(m => m.textContent.trim() === reply) &&
		document.querySelector("#announcer").textContent.trim() !== ""`, reply)
	if !markerKept(b) {
		t.Fatal("the keyboard reply reloaded the page; want an htmx swap")
	}
	if got := b.text("#announcer"); got != "Your reply was sent." {
		t.Errorf("announcer reads %q after the reply", got)
	}
	focusOn(b, "sending a reply", "#reply-body")

	// An empty reply is refused: the focus lands on the box that needs the text.
	tabTo(b, "#reply-send", 4)
	b.do("send an empty reply with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitUntil("the reply error shows", `() => !!document.querySelector("#reply-error")`)
	focusOn(b, "an empty reply was refused", `#reply-body[aria-invalid="true"]`)
	if role := run(b, "read the announcer's role", chromedp.Evaluate[string](`document.querySelector("#announcer").getAttribute("aria-live")`)); role != "polite" {
		t.Errorf("#announcer aria-live=%q", role)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

// textContrast returns the WCAG 2.x contrast ratio of the element sel's text colour against its
// own background colour (both as computed; a transparent background counts as white). axe can
// leave a button whose text and background come from one CSS variable "incomplete", so pages
// with coloured buttons check them with this too.
func textContrast(b *browser, sel string) float64 {
	b.t.Helper()
	return run(b, "contrast of "+sel, chromedp.Evaluate[float64](`(() => {
		const s = getComputedStyle(document.querySelector(`+strconv.Quote(sel)+`));
		const rgb = c => { const m = c.match(/[\d.]+/g).map(Number); return m.length > 3 && m[3] === 0 ? [255, 255, 255] : m.slice(0, 3); };
		const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const a = lum(s.color), z = lum(s.backgroundColor);
		return (Math.max(a, z) + 0.05) / (Math.min(a, z) + 0.05);
	})()`))
}
