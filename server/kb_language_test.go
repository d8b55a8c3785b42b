package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// htmlLang returns <html lang> of path for c.
func htmlLang(c *client, path string) string {
	_, doc := c.get(path, false)
	return doc.Find("html").AttrOr("lang", "")
}

// TestLanguagePrecedence: contact choice > switcher cookie > Accept-Language > portal default.
func TestLanguagePrecedence(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)
	ctx := context.Background()

	c := ts.client()
	for accept, want := range map[string]string{"": "en", "fr-FR,fr;q=0.9": "fr", "de-AT": "de", "es-MX": "es", "nl-BE": "nl", "ja": "en"} {
		c.lang = accept
		if got := htmlLang(c, "/kb"); got != want {
			t.Errorf("Accept-Language %q → %s, want %s", accept, got, want)
		}
	}

	// The portal default applies when the browser names nothing we speak.
	if err := ts.Store.SettingSet(ctx, "portal_language", "de"); err != nil {
		t.Fatal(err)
	}
	ts.Settings.Invalidate()
	c.lang = "ja, zh;q=0.5"
	if got := htmlLang(c, "/login"); got != "de" {
		t.Errorf("unsupported browser language with default de → %s", got)
	}
	c.lang = "fr"
	if got := htmlLang(c, "/login"); got != "fr" {
		t.Errorf("the browser's supported language loses to the default: %s", got)
	}

	// The switcher (a plain form) beats the browser, and comes back to the page it was on.
	_, doc := c.get("/kb", false)
	if doc.Find("#language-form select#language-select option").Length() != 5 {
		t.Fatalf("switcher offers %d languages, want 5", doc.Find("#language-select option").Length())
	}
	resp, _ := c.post("/language", url.Values{"lang": {"es"}, "return_to": {"/kb?x=1"}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/kb?x=1" {
		t.Fatalf("switch: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := htmlLang(c, "/kb"); got != "es" {
		t.Errorf("after choosing es the page is %s", got)
	}
	if resp, _ := c.post("/language", url.Values{"lang": {"es"}, "return_to": {"https://evil.example/"}}, false); resp.Header.Get("Location") != "/kb" {
		t.Errorf("switcher followed a foreign return_to: %q", resp.Header.Get("Location"))
	}
	if resp, _ := c.post("/language", url.Values{"lang": {"es"}, "_csrf": {"wrong"}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("switcher without CSRF token: %d, want 403", resp.StatusCode)
	}

	// A signed-in contact's own language beats the cookie; the switcher sets it.
	if _, err := pool.Exec(ctx, `UPDATE contacts SET language = 'nl' WHERE id = $1`, std.Alice); err != nil {
		t.Fatal(err)
	}
	c.signIn(std.AliceEmail, std.Password)
	if got := htmlLang(c, "/tickets"); got != "nl" {
		t.Errorf("contact language nl with cookie es → %s", got)
	}
	c.get("/tickets", false)
	if resp, _ := c.post("/language", url.Values{"lang": {"fr"}, "return_to": {"/tickets"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed-in switch: %d", resp.StatusCode)
	}
	var stored string
	if err := pool.QueryRow(ctx, `SELECT language FROM contacts WHERE id = $1`, std.Alice).Scan(&stored); err != nil || stored != "fr" {
		t.Errorf("contact language after switching: %q (%v), want fr", stored, err)
	}
	_, doc = c.get("/tickets", false)
	if got := doc.Find("html").AttrOr("lang", ""); got != "fr" {
		t.Errorf("after switching to fr the portal is %s", got)
	}
	if got := strings.TrimSpace(doc.Find("#sign-out").Text()); got != "Se déconnecter" {
		t.Errorf("French sign-out button %q", got)
	}
}

// TestDatesAndNumbersPerLocale: the ticket list writes dates the locale's way.
func TestDatesAndNumbersPerLocale(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	std := storetest.MustStandard(t, pool)
	when := time.Date(2026, 3, 5, 14, 7, 0, 0, time.UTC)
	storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Dated ticket", RequesterID: std.Alice, CompanyID: std.Acme, Activity: when})
	c := ts.client()
	c.signIn(std.AliceEmail, std.Password)
	for lang, want := range map[string]string{"en": "Mar 5, 2026, 14:07", "nl": "5 mrt 2026 14:07", "de": "5. März 2026, 14:07",
		"fr": "5 mars 2026 à 14:07", "es": "5 mar 2026, 14:07"} {
		c.post("/language", url.Values{"lang": {lang}}, false)
		_, doc := c.get("/tickets?q=Dated", false)
		got := texts(doc, `#tickets-table time[datetime="2026-03-05T14:07:00Z"]`)
		if len(got) == 0 || got[0] != want {
			t.Errorf("%s: last activity reads %q, want %q", lang, got, want)
		}
		if v, ok := doc.Find("input[name=_csrf]").First().Attr("value"); ok {
			c.csrf = v
		}
	}
	c.post("/language", url.Values{"lang": {"es"}}, false)
	_, doc := c.get("/tickets/"+itoa(std.AliceOpen), false)
	if got := doc.Find("#reply-files-help").Text(); !strings.Contains(got, "25,0 MB") {
		t.Errorf("Spanish attachment limits %q, want a decimal comma (25,0 MB)", got)
	}
}

// TestLanguageSwitchKeepsLoginReturnTo: switching language on /login?return_to=… comes back to
// the same sign-in page with its return_to, so signing in still lands on the page asked for.
func TestLanguageSwitchKeepsLoginReturnTo(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	c := ts.client()
	_, doc := c.get("/login?return_to=%2Ftickets%2F42", false)
	ret, ok := doc.Find(`#language-form input[name="return_to"]`).Attr("value")
	if !ok {
		t.Fatal("the sign-in page's language form carries no return_to")
	}
	resp, _ := c.post("/language", url.Values{"lang": {"de"}, "return_to": {ret}}, false)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/login" || loc.Query().Get("return_to") != "/tickets/42" {
		t.Fatalf("after switching language: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, doc = c.get(loc.String(), false)
	if got := doc.Find(`#login-form input[name="return_to"]`).AttrOr("value", ""); got != "/tickets/42" {
		t.Errorf("sign-in form return_to after the switch = %q", got)
	}
	// A refused sign-in re-renders the page from a POST: its switcher still comes back here.
	csrf := doc.Find(`#login-form input[name="_csrf"]`).AttrOr("value", "")
	_, doc = c.post("/login", url.Values{"_csrf": {csrf}, "email": {"nobody@example.com"}, "password": {"wrong-password"}, "return_to": {"/tickets/42"}}, false)
	if got := doc.Find(`#language-form input[name="return_to"]`).AttrOr("value", ""); got != "/login?return_to=%2Ftickets%2F42" {
		t.Errorf("switcher return_to on a refused sign-in = %q", got)
	}
}

// TestFavicon: /favicon.ico leads to the icon every page links, served as SVG.
func TestFavicon(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	c := ts.client()
	_, doc := c.get("/login", false)
	href, ok := doc.Find(`link[rel="icon"]`).Attr("href")
	if !ok {
		t.Fatal("no <link rel=icon> on the sign-in page")
	}
	resp, _ := c.get("/favicon.ico", false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != href {
		t.Fatalf("/favicon.ico: %d → %q, want 303 → %q", resp.StatusCode, resp.Header.Get("Location"), href)
	}
	resp, _ = c.get(href, false)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/svg+xml") {
		t.Errorf("%s: %d %s", href, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
