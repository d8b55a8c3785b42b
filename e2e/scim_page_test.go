package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/sql/store"
)

// TestSCIMPageInBrowser: an identity provider's provisioning page (issue 17.4), reached from
// the provider's page, empty, with a refused form and with a new SCIM token shown once, passes
// axe (WCAG 2.1 AA) in every portal language and its content fits 360 px and 1280 px.
// Screenshots go to PORTICO_SHOTS_DIR (default $TMPDIR/portico-shots) as scim-LANG-STATE-WIDTH.
func TestSCIMPageInBrowser(t *testing.T) {
	p := startPortal(t)
	prov, err := p.Store.IdentityProviderCreate(context.Background(), store.CLIEditor, store.IdentityProvider{
		Slug: "okta", Kind: store.KindOkta, Name: "Okta (Example Corporation)", Audience: store.AudienceAll})
	if err != nil {
		t.Fatal(err)
	}
	dir := shotsDir(t)
	page := "/admin/providers/" + strconv.FormatInt(prov.ID, 10)
	check := func(b *browser, lang, state string) {
		t.Helper()
		for _, w := range []int64{360, 1280} {
			px := strconv.FormatInt(w, 10)
			b.do("resize", chromedp.EmulateViewport(w, 900))
			axeCheck(b, "scim "+lang+" "+state+" "+px+"px")
			fits := run(b, "measure", chromedp.Evaluate[bool](`Array.from(document.querySelectorAll('main *')).every(e => {
				const r = e.getBoundingClientRect(); return r.width === 0 || r.right <= window.innerWidth + 1; })`))
			saveShot(b, dir, "scim-"+lang+"-"+state+"-"+px)
			if !fits {
				t.Errorf("scim %s %s: content wider than the window at %s px", lang, state, px)
			}
		}
	}
	for i, lang := range []string{"en", "de", "fr", "es", "nl"} {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, p.URL, browserOptions{})
			b.navigate("/kb")
			chooseLanguage(b, lang)
			staffSignIn(t, p, b)
			b.navigate(page)
			if st := b.follow("open provisioning", chromedp.Click(chromedp.CSS("#provider-scim"))); st != http.StatusOK {
				t.Fatalf("provisioning page: %d", st)
			}
			if got := b.text("#scim-base-url"); !strings.HasSuffix(got, "/scim/v2") {
				t.Errorf("base URL %q", got)
			}
			check(b, lang, "empty")
			if st := b.follow("create without a name", chromedp.Click(chromedp.CSS("#scim-token-submit"))); st != http.StatusUnprocessableEntity {
				t.Fatalf("empty name: %d", st)
			}
			b.visible("#token-name-error")
			check(b, lang, "refused")
			b.do("name the token", chromedp.SendKeys(chromedp.CSS("#token-name"), "Okta production tenant "+strconv.Itoa(i)))
			if st := b.follow("create", chromedp.Click(chromedp.CSS("#scim-token-submit"))); st != http.StatusOK {
				t.Fatalf("create: %d", st)
			}
			tok := run(b, "read the token", chromedp.Evaluate[string](`document.querySelector('#token-value').value`))
			if !strings.HasPrefix(tok, store.SCIMTokenPrefix) {
				t.Fatalf("token %q", tok)
			}
			check(b, lang, "new")
		})
	}
}
