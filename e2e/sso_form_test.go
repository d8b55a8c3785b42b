package e2e

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/handlers"
	"portico/sql/store"
)

// TestProviderFormErrorsInBrowser (issue 15): in Chromium, the new-provider form submitted
// with several mistakes shows every error at once, next to its field and in a summary, keeps
// what was typed, passes axe (WCAG 2.1 AA) and fits 360 px and 1280 px without sideways
// scrolling; enabling an OpenID Connect provider whose discovery URL is a closed port brings
// its form back with the reason next to the field. Screenshots of each are logged for review.
func TestProviderFormErrorsInBrowser(t *testing.T) {
	p := ssoPortal(t)
	ctx := context.Background()
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StaffAdd(ctx, email, "Ada Admin", store.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/.well-known/openid-configuration"
	ln.Close()
	row := store.IdentityProvider{Slug: "corp", Name: "Corp ID", Kind: store.KindOIDC, AllowCreate: true,
		Settings: map[string]string{"client_id": "portico", "discovery_url": closed}}
	if err := handlers.ApplyProvider(&row, map[string]string{"client_secret": "op-secret"}, p.Handlers.SSODeps.Sealer, true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.IdentityProviderCreate(ctx, store.CLIEditor, row); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/admin/login")
	b.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	if st := b.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
		t.Fatalf("staff sign-in: %d", st)
	}
	for _, w := range []int64{360, 1280} {
		px := strconv.FormatInt(w, 10) + "px"
		b.do("resize", chromedp.EmulateViewport(w, 900))
		b.navigate("/admin/providers/new?kind=oidc")
		b.do("type a form full of mistakes",
			chromedp.SendKeys(chromedp.CSS("#f-slug"), "Bad Slug!"),
			chromedp.SendKeys(chromedp.CSS("#f-discovery_url"), "ftp://idp.example/config"),
			chromedp.SendKeys(chromedp.CSS("#f-clock_skew"), "999"),
		)
		if st := b.follow("save", chromedp.Click(chromedp.CSS("#provider-save"))); st != http.StatusUnprocessableEntity {
			t.Fatalf("save with mistakes: %d", st)
		}
		errs := run(b, "count the field errors", chromedp.Evaluate[int](`document.querySelectorAll('small.field-error').length`))
		summary := run(b, "count the summary", chromedp.Evaluate[int](`document.querySelectorAll('#provider-errors li').length`))
		kept := run(b, "read the typed URL", chromedp.Evaluate[string](`document.querySelector('#f-discovery_url').value`))
		described := run(b, "read aria-describedby", chromedp.Evaluate[string](`document.querySelector('#f-clock_skew').getAttribute('aria-describedby')`))
		if errs < 5 || summary != errs || kept != "ftp://idp.example/config" || described != "e-clock_skew" {
			t.Errorf("%s: %d field errors, %d in the summary, URL %q, describedby %q", px, errs, summary, kept, described)
		}
		axeCheck(b, "provider form with errors "+px)
		fits := run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
		b.screenshot("errors-" + px)
		if !fits {
			t.Errorf("the provider form with errors scrolls sideways at %s", px)
		}

		b.navigate("/admin/providers")
		if st := b.follow("enable Corp ID", chromedp.Click(chromedp.CSS("#toggle-corp"))); st != http.StatusUnprocessableEntity {
			t.Fatalf("enable with an unreachable discovery URL: %d", st)
		}
		msg := run(b, "read the discovery error", chromedp.Evaluate[string](`(document.querySelector('#e-discovery_url') || {}).textContent || ''`))
		if !strings.Contains(msg, "connection refused") {
			t.Errorf("%s: discovery error %q", px, msg)
		}
		axeCheck(b, "provider not enabled "+px)
		fits = run(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`))
		b.screenshot("not-enabled-" + px)
		if !fits {
			t.Errorf("the refused enable scrolls sideways at %s", px)
		}
	}
}
