package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestSmoke(t *testing.T) {
	p := startPortal(t)
	b := newBrowser(t, p.URL, browserOptions{noJavaScript: true})
	b.navigate("/tickets")
	t.Log(b.location())
	b.visible("#email")
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`typeof window.htmx`))
	t.Log(v, err)
	t.Log(b.text("h1"))
	t.Log(b.present("#email"), b.present("#nope"))
}
