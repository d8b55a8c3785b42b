package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestKnowledgeBaseWithoutJavaScript reads the knowledge base with JavaScript off: the language
// switcher, a stemmed German search, an article, the fallback, the "Go to portal" link (and its
// setting), then into the portal and back.
func TestKnowledgeBaseWithoutJavaScript(t *testing.T) {
	p := startPortal(t)
	seedKB(t, p)
	if err := p.Store.SettingSet(context.Background(), "page_title", "Acme Support"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, p.URL, browserOptions{noJavaScript: true})

	b.navigate("/kb")
	b.visible("#kb-home")
	if got := b.text("#go-to-portal"); got != "Go to Acme Support" {
		t.Errorf("go-to-portal link reads %q", got)
	}
	if b.present(`a[href^="/kb/vpn-setup"]`) {
		t.Error("a visitor sees the portal-only article in the list")
	}
	chooseLanguage(b, "de")
	if got := b.text("#go-to-portal"); got != "Acme Support öffnen" {
		t.Errorf("German go-to-portal link reads %q", got)
	}
	if got := b.text("h1"); got != "Wissensdatenbank" {
		t.Errorf("German heading %q", got)
	}

	// Search by an inflected German word: the article says "Rechnungen".
	b.do("type Rechnung", chromedp.SendKeys(chromedp.CSS("#kb-q"), "Rechnung"))
	if st := b.follow("search", chromedp.Click(chromedp.CSS("#kb-search"))); st != http.StatusOK {
		t.Fatalf("search answered %d", st)
	}
	b.visible("#kb-summary")
	if got := b.text("#kb-results .kb-entries"); !strings.Contains(got, "Ihre Rechnungen verstehen") {
		t.Fatalf("German search for Rechnung lists %q", got)
	}
	if st := b.follow("open the article", chromedp.Click(chromedp.CSS(`#kb-results a[href^="/kb/understanding-invoices"]`))); st != http.StatusOK {
		t.Fatalf("article answered %d", st)
	}
	b.visible("#kb-title")
	if got := b.text("#kb-title"); got != "Ihre Rechnungen verstehen" {
		t.Errorf("article title %q", got)
	}
	if got := b.text("#kb-body strong"); got != "Rechnungen" {
		t.Errorf("rendered Markdown: strong %q", got)
	}
	// The English translation is one link away.
	if st := b.follow("open the English version", chromedp.Click(chromedp.CSS(`.kb-translations a[hreflang="en"]`))); st != http.StatusOK {
		t.Fatalf("English version answered %d", st)
	}
	if got := b.text("#kb-title"); got != "Understanding your invoices" {
		t.Errorf("English version title %q", got)
	}

	// The portal-only article: refused to a visitor, readable after signing in.
	if st := b.follow("open the portal-only article", chromedp.Navigate(p.URL+"/kb/vpn-setup")); st != http.StatusNotFound {
		t.Errorf("visitor opens the portal-only article: %d", st)
	}
	b.navigate("/kb")
	if st := b.follow("go to the portal", chromedp.Click(chromedp.CSS("#go-to-portal"))); st != http.StatusOK {
		t.Fatalf("go to portal answered %d", st)
	}
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	if st := b.follow("follow the portal's link to the knowledge base", chromedp.Click(chromedp.CSS("#nav-kb"))); st != http.StatusOK {
		t.Fatalf("portal → kb answered %d", st)
	}
	b.visible("#kb-home")
	if !b.present(`a[href^="/kb/vpn-setup"]`) {
		t.Error("a signed-in customer does not see the portal-only article")
	}

	// The setting hides the link; nothing else changes.
	if err := p.Store.SettingSet(context.Background(), "kb_show_portal_link", "false"); err != nil {
		t.Fatal(err)
	}
	b.navigate("/kb")
	b.visible("#kb-home")
	if b.present("#go-to-portal") {
		t.Error("the go-to-portal link shows with its setting off")
	}
	if err := p.Store.SettingSet(context.Background(), "kb_show_portal_link", "true"); err != nil {
		t.Fatal(err)
	}
	b.navigate("/kb/understanding-invoices")
	b.visible("#kb-title")
	if !b.present("#go-to-portal") {
		t.Error("the go-to-portal link does not come back with its setting on")
	}
}

// TestCustomerFlowsWithoutJavaScript covers what TestNoJavaScript does not: the language
// switcher while signed in, closing a ticket (a <details> disclosure and a plain form), the
// support form when it exists, and the status filter by its submit button.
func TestCustomerFlowsWithoutJavaScript(t *testing.T) {
	p := startPortal(t)
	connectSupportForm(t, p)
	b := newBrowser(t, p.URL, browserOptions{noJavaScript: true})
	b.navigate("/login")
	signIn(b, p.Std.AliceEmail, p.Std.Password)

	chooseLanguage(b, "fr")
	if got := b.text("#sign-out"); got != "Se déconnecter" {
		t.Errorf("French sign-out reads %q", got)
	}
	if loc := b.location(); !strings.HasPrefix(loc, "/tickets") {
		t.Errorf("the switcher left the list for %q", loc)
	}

	// Status filter: the select has no script; the form's button submits it.
	b.do("choose closed", chromedp.SetValue(chromedp.CSS("#status"), "closed"))
	if st := b.follow("submit the filter", chromedp.Click(chromedp.CSS("#search-form button[type=submit]"))); st != http.StatusOK {
		t.Fatalf("filter answered %d", st)
	}
	if loc := b.location(); !strings.Contains(loc, "status=closed") {
		t.Errorf("filter URL %q", loc)
	}
	for _, s := range b.rowSubjects() {
		if s == "Printer on fire" {
			t.Errorf("the closed filter lists the open ticket")
		}
	}

	// Close a ticket: open the disclosure, confirm with the plain form (303 back, now closed).
	b.navigate(fmt.Sprintf("/tickets/%d", p.Std.AliceOpen))
	b.visible("#ticket-status")
	b.do("open the close disclosure", chromedp.Click(chromedp.CSS("#close-ticket summary")))
	b.visible("#close-confirm")
	if st := b.follow("confirm closing", chromedp.Click(chromedp.CSS("#close-confirm"))); st != http.StatusOK {
		t.Fatalf("close answered %d", st)
	}
	b.visible("#ticket-status")
	if got := b.text("#ticket-status"); got != "Fermé" {
		t.Errorf("after closing the status reads %q, want Fermé", got)
	}
	if b.present("#close-ticket") {
		t.Error("a closed ticket still offers Close")
	}

	// The support form: a plain multipart form (CSRF token as its first part), 303 to the ticket.
	if st := b.follow("open the support form", chromedp.Navigate(p.URL+"/tickets/new")); st != http.StatusOK {
		t.Fatalf("support form answered %d", st)
	}
	subject := "Filed without JavaScript"
	b.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS("[name=subject]"), subject),
		chromedp.SendKeys(chromedp.CSS("[name=description]"), "Typed in a browser without script."))
	if st := b.follow("submit the support form", chromedp.Click(chromedp.CSS("form[action='/tickets/new'] button[type=submit]"))); st != http.StatusOK {
		t.Fatalf("support form answered %d on %s", st, b.location())
	}
	if got := b.text("#ticket-subject"); got != subject {
		t.Errorf("landed on %s showing %q, want the new ticket %q", b.location(), got, subject)
	}
}
