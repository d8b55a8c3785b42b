package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// contrastScan is run in the page: for every visible element with text of its own it takes
// the computed text colour and the background behind it (composited up the ancestors, the
// page's own background under all), computes the WCAG 2.1 contrast ratio and returns the
// elements below 4.5:1, how many it checked, and how many sat on the brand colour itself.
const contrastScan = `(brand) => {
	const parse = (s) => {
		let m = s.match(/^rgba?\(([\d.]+),?\s*([\d.]+),?\s*([\d.]+)(?:\s*[,/]\s*([\d.]+))?\)$/);
		if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
		m = s.match(/^color\(srgb\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.e-]+)(?:\s*\/\s*([\d.]+))?\)$/);
		if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
		return null;
	};
	const over = (top, under) => {
		const a = top[3];
		return [top[0] * a + under[0] * (1 - a), top[1] * a + under[1] * (1 - a), top[2] * a + under[2] * (1 - a), 1];
	};
	const lum = (c) => {
		const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
	};
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const bgOf = (el) => {
		const layers = [];
		for (let e = el; e; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
		}
		let base = parse(getComputedStyle(document.documentElement).backgroundColor) || [255, 255, 255, 1];
		if (base[3] < 1) base = over(base, matchMedia("(prefers-color-scheme: dark)").matches ? [19, 23, 31, 1] : [255, 255, 255, 1]);
		let out = base;
		for (let i = layers.length - 1; i >= 0; i--) out = over(layers[i], out);
		return out;
	};
	const brandRGB = parse(brand);
	const bad = [], unparsed = [];
	let checked = 0, onBrand = 0;
	for (const el of document.body.querySelectorAll("*")) {
		if (!el.checkVisibility || !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
		if (el.closest(".visually-hidden, [disabled], [aria-hidden=true]")) continue;
		const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
		if (!own) continue;
		const r = el.getBoundingClientRect();
		if (r.width < 2 || r.height < 2) continue;
		const st = getComputedStyle(el);
		let fg = parse(st.color);
		if (!fg) { unparsed.push(st.color); continue; }
		const bg = bgOf(el);
		if (fg[3] < 1) fg = over(fg, bg);
		checked++;
		if (Math.abs(bg[0] - brandRGB[0]) < 1.5 && Math.abs(bg[1] - brandRGB[1]) < 1.5 && Math.abs(bg[2] - brandRGB[2]) < 1.5) onBrand++;
		const c = ratio(fg, bg);
		if (c < 4.5) bad.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "") +
			" «" + el.textContent.trim().slice(0, 30) + "» " + c.toFixed(2) + ":1 (" + st.color + " on rgb(" + bg.slice(0, 3).map(Math.round).join(",") + "))");
	}
	return JSON.stringify({bad: bad.slice(0, 8), nbad: bad.length, checked, onBrand, unparsed: [...new Set(unparsed)]});
}`

// TestBrandColourContrastInBrowser sets a dozen brand colours (yellow, white and other very
// light ones, saturated and dark ones) and measures, in Chromium with getComputedStyle, the
// contrast of every text on the home page, the ticket list, the help center and an article, in
// the light and the dark scheme: all at least 4.5:1, and text on the brand colour itself (banner,
// primary buttons) present on every colour.
func TestBrandColourContrastInBrowser(t *testing.T) {
	p := startPortal(t)
	seedKB(t, p)
	connectSupportForm(t, p)
	ctx := context.Background()
	colours := []string{"#ffdd00", "#ffff00", "#ffffff", "#f0f0f0", "#fef9c3", "#e0f2fe", "#00ff00", "#1d4ed8", "#e11d48", "#0d9488", "#767676", "#000000"}
	pages := []string{"/", "/tickets", "/kb", "/kb/understanding-invoices"}
	for _, colour := range colours {
		t.Run(colour, func(t *testing.T) {
			if err := p.Store.SettingSet(ctx, "brand_color", colour); err != nil {
				t.Fatalf("brand colour %s refused: %v", colour, err)
			}
			b := newBrowser(t, p.URL, browserOptions{})
			b.navigate("/login")
			signIn(b, p.Std.AliceEmail, p.Std.Password)
			brand := run(b, "read the brand token", chromedp.Evaluate[string](`getComputedStyle(document.documentElement).getPropertyValue("--portico-brand").trim()`))
			if brand != colour {
				t.Fatalf("--portico-brand is %q, want %q", brand, colour)
			}
			rgb := fmt.Sprintf("rgb(%d, %d, %d)", hexByte(colour[1:3]), hexByte(colour[3:5]), hexByte(colour[5:7]))
			onBrand := 0
			for _, scheme := range []string{"light", "dark"} {
				colorScheme(b, scheme)
				for _, path := range pages {
					if st := b.follow("open "+path, chromedp.Navigate(p.URL+path)); st != http.StatusOK {
						t.Fatalf("%s: %d", path, st)
					}
					var res struct {
						Bad      []string
						NBad     int
						Checked  int
						OnBrand  int
						Unparsed []string
					}
					js := run(b, "scan "+path, chromedp.Evaluate[string](`(`+contrastScan+`)(`+fmt.Sprintf("%q", rgb)+`)`))
					if err := jsonUnmarshal(js, &res); err != nil {
						t.Fatal(err)
					}
					if res.Checked < 10 {
						t.Errorf("%s (%s): only %d texts checked", path, scheme, res.Checked)
					}
					if len(res.Unparsed) > 0 {
						t.Errorf("%s (%s): colours the scan cannot read: %q", path, scheme, res.Unparsed)
					}
					for _, m := range res.Bad {
						t.Errorf("%s %s (%s): %s", colour, path, scheme, m)
					}
					onBrand += res.OnBrand
				}
			}
			if onBrand == 0 {
				t.Errorf("%s: no text sat on the brand colour; the banner and primary buttons should", colour)
			}
		})
	}
}

func hexByte(s string) int {
	var v int
	fmt.Sscanf(s, "%02x", &v)
	return v
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
