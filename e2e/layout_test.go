package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/sql/store"
)

// layoutWidths are the viewport widths every page is checked at: a phone, a tablet, a laptop.
var layoutWidths = []int64{360, 768, 1280}

// shotsDir is where the layout tests write their screenshots: $PORTICO_SHOTS_DIR when set, else
// a folder under the system temp dir (printed by the test) that outlives the test.
func shotsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PORTICO_SHOTS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "portico-shots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// saveShot writes a full-page screenshot of the page shown now to dir/name.png.
func saveShot(b *browser, dir, name string) {
	b.t.Helper()
	buf := run(b, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// colorScheme emulates prefers-color-scheme (light or dark) in the tab.
func colorScheme(b *browser, scheme string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
		b.t.Fatalf("emulate %s: %v", scheme, err)
	}
}

// testLogo returns a PNG of w×h pixels (a coloured band with a dark square), like a real logo.
func testLogo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0x1d, 0x4e, 0xd8, 0xff}
			if x < h {
				c = color.RGBA{0x11, 0x11, 0x11, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkFits fails when the page is wider than the viewport (it would scroll sideways) and names
// the widest elements that stick out.
func checkFits(b *browser, label string) {
	b.t.Helper()
	wide := run(b, "measure "+label, chromedp.Evaluate[string](`(() => {
		const w = window.innerWidth;
		if (document.documentElement.scrollWidth <= w) return "";
		return document.documentElement.scrollWidth + " px: " + [...document.querySelectorAll("body *")]
			.filter(e => e.getBoundingClientRect().right > w + 1)
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " right=" + Math.round(e.getBoundingClientRect().right)).join(", ");
	})()`))
	if wide != "" {
		b.t.Errorf("%s is wider than the viewport (%d px): %s", label, run(b, "width", chromedp.Evaluate[int](`window.innerWidth`)), wide)
	}
}

// checkHeader opens the header's menu when it is collapsed, then checks that every link, button
// and select of the header is visible, inside the viewport and the topmost element at its centre
// (so a click reaches it).
func checkHeader(b *browser, label string) {
	b.t.Helper()
	if run(b, "look for a collapsed menu", chromedp.Evaluate[bool](`(() => {
		const l = document.querySelector("header .nav-toggle-label"), c = document.querySelector("#nav-toggle");
		return !!l && l.offsetParent !== null && !c.checked;
	})()`)) {
		b.do("open the menu", chromedp.Click(chromedp.CSS("header .nav-toggle-label")))
		if !run(b, "read the menu", chromedp.Evaluate[bool](`document.querySelector("#site-nav").offsetParent !== null`)) {
			b.t.Errorf("%s: the menu button does not open the menu", label)
		}
	}
	bad := run(b, "check the header controls of "+label, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const e of document.querySelectorAll("header a[href], header button, header select, header summary, header label.nav-toggle-label")) {
			if (e.closest("details:not([open])") && e.tagName !== "SUMMARY") continue;
			const r = e.getBoundingClientRect(), name = e.id || e.textContent.trim().slice(0, 30) || e.outerHTML.slice(0, 60);
			if (e.id === "language-apply" && document.documentElement.classList.contains("js")) continue; // replaced by the select's change
			if (e.matches(".nav-toggle-label") && getComputedStyle(e).display === "none") continue; // wide screens: no menu button
			if (r.width === 0 || r.height === 0) { out.push(name + " is not visible"); continue; }
			if (r.left < -1 || r.right > window.innerWidth + 1) { out.push(name + " sticks out (" + Math.round(r.left) + "–" + Math.round(r.right) + ")"); continue; }
			e.scrollIntoView({block: "nearest"});
			const r2 = e.getBoundingClientRect();
			const hit = document.elementFromPoint(r2.left + r2.width / 2, r2.top + r2.height / 2);
			if (!hit || !(e === hit || e.contains(hit) || hit.contains(e) && hit.tagName === "LABEL")) out.push(name + " is covered by " + (hit ? hit.outerHTML.slice(0, 60) : "nothing"));
		}
		return out;
	})()`))
	for _, m := range bad {
		b.t.Errorf("%s header: %s", label, m)
	}
}

// staffSignIn signs in a new admin in b.
func staffSignIn(t *testing.T, p *portal, b *browser) {
	t.Helper()
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StaffAdd(context.Background(), email, "Ada Admin", store.RoleAdmin, hash); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	b.navigate("/admin/login")
	b.visible("#email")
	b.do("type the staff credentials", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	if st := b.follow("sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
		t.Fatalf("staff sign-in: %d", st)
	}
}

// layoutPass visits paths at every width and colour scheme: no sideways scrolling, header
// controls reachable, axe clean; a screenshot of each (light scheme, and dark at 360 px).
// Each width gets a fresh browser from open (and with it a fresh time budget).
func layoutPass(t *testing.T, open func(t *testing.T) *browser, p *portal, dir, prefix string, paths map[string]string) {
	t.Helper()
	widths := layoutWidths
	if env := os.Getenv("PORTICO_LAYOUT_WIDTHS"); env != "" { // e.g. "360,1280" for a quick look
		widths = nil
		for _, f := range strings.Split(env, ",") {
			var w int64
			fmt.Sscan(f, &w)
			widths = append(widths, w)
		}
	}
	for _, w := range widths {
		for _, scheme := range []string{"light", "dark"} {
			t.Run(fmt.Sprintf("%d-%s", w, scheme), func(t *testing.T) {
				b := open(t)
				b.do("resize", chromedp.EmulateViewport(w, 900))
				colorScheme(b, scheme)
				for name, path := range paths {
					if st := b.follow("open "+path, chromedp.Navigate(p.URL+path)); st != http.StatusOK {
						t.Errorf("%s: status %d", path, st)
						continue
					}
					label := fmt.Sprintf("%s at %d px (%s)", path, w, scheme)
					checkFits(b, label)
					if scheme == "light" || w == 360 {
						saveShot(b, dir, fmt.Sprintf("%s-%s-%d-%s", prefix, name, w, scheme))
					}
					axeCheck(b, label)
					if scheme == "light" {
						checkHeader(b, label)
					}
				}
			})
		}
	}
}

// TestResponsiveLayout checks the customer and staff pages at 360, 768 and 1280 px in both colour
// schemes, with a wide logo (600×200) and a support form connected: nothing scrolls sideways, the
// header controls are visible and clickable (through the menu on phones), axe finds nothing.
// Screenshots go to shotsDir.
func TestResponsiveLayout(t *testing.T) {
	p := startPortal(t)
	seedKB(t, p)
	connectSupportForm(t, p)
	ctx := context.Background()
	if _, err := p.Store.LogoSet(ctx, 0, "image/png", testLogo(t, 600, 200)); err != nil {
		t.Fatal(err)
	}
	dir := shotsDir(t)
	t.Logf("screenshots in %s", dir)

	t.Run("customer", func(t *testing.T) {
		layoutPass(t, func(t *testing.T) *browser {
			b := newBrowser(t, p.URL, browserOptions{})
			b.navigate("/login")
			signIn(b, p.Std.AliceEmail, p.Std.Password)
			return b
		}, p, dir, "customer", map[string]string{
			"home":    "/",
			"list":    "/tickets",
			"ticket":  fmt.Sprintf("/tickets/%d", p.Std.AliceOpen),
			"new":     "/tickets/new",
			"kb":      "/kb",
			"article": "/kb/understanding-invoices",
			"account": "/account",
		})
	})
	var formID int64
	if err := p.Pool.QueryRow(ctx, `SELECT id FROM support_forms ORDER BY id LIMIT 1`).Scan(&formID); err != nil {
		t.Fatal(err)
	}
	t.Run("staff", func(t *testing.T) {
		layoutPass(t, func(t *testing.T) *browser {
			b := newBrowser(t, p.URL, browserOptions{})
			staffSignIn(t, p, b)
			return b
		}, p, dir, "staff", map[string]string{
			"inbox":     "/admin/inbox",
			"ticket":    fmt.Sprintf("/admin/inbox/%d", p.Std.AliceOpen),
			"branding":  "/admin/settings/branding",
			"settings":  "/admin/settings/tickets",
			"form":      fmt.Sprintf("/admin/forms/%d", formID),
			"providers": "/admin/providers",
			"groups":    "/admin/groups",
			"inboxes":   "/admin/inboxes",
			"kb":        "/admin/kb",
		})
	})
}
