package store

import (
	"fmt"
	"math"
	"strconv"
)

// The brand palette: every colour the portal paints from the one brand colour, chosen so that
// all text on or in it keeps WCAG 2.1 AA contrast (SC 1.4.3: 4.5:1 for normal text). The
// surfaces below are Pico CSS 2's backgrounds (and the tints portico.css mixes from the brand);
// static/css/portico.css documents where each token is used.

const (
	// OnBrandLight and OnBrandDark are the two text colours offered on a brand-coloured
	// background (buttons, banners): white or near-black, whichever contrasts more.
	OnBrandLight = "#ffffff"
	OnBrandDark  = "#111827"
	// MinContrast is WCAG 2.1 AA for normal text; the palette aims a little higher so that
	// rounding in the browser never lands below it.
	MinContrast = 4.5
	aimContrast = 4.6
)

// Surfaces that brand-coloured text (links, outline buttons, the current navigation entry) sits
// on, per colour scheme: the page, a card, a striped table row or a muted panel.
var (
	lightSurfaces = []string{"#ffffff", "#f1f3f5"}
	darkSurfaces  = []string{"#13171f", "#181c25", "#202632"}
)

// BrandPalette is what branding.css sets from a brand colour ("#rrggbb" each).
type BrandPalette struct {
	// Brand is the colour as set: the background of primary buttons and banners.
	Brand string
	// OnBrand is the text on Brand (OnBrandLight or OnBrandDark).
	OnBrand string
	// BrandHover is Brand moved away from OnBrand (hover and active backgrounds): the contrast
	// of OnBrand on it is at least that on Brand.
	BrandHover string
	// TextLight and TextDark are the brand as text (links, outline buttons) on the light and
	// the dark scheme's surfaces: Brand darkened or lightened just enough for 4.5:1.
	TextLight, TextDark string
	// BorderLight and BorderDark outline brand-coloured shapes on each scheme's page: Brand
	// itself when it stands out from the page (3:1, WCAG 2.1 SC 1.4.11), else the Text colour.
	BorderLight, BorderDark string
	// Contrast is the ratio of OnBrand on Brand.
	Contrast float64
}

// NewBrandPalette derives the palette from c ("#rrggbb"). ok is false when neither text colour
// reaches 4.5:1 on c: such a brand colour is refused (see BrandColorSetting).
func NewBrandPalette(c string) (BrandPalette, bool) {
	p := BrandPalette{Brand: c, OnBrand: OnBrandLight}
	white, dark := ContrastRatio(c, OnBrandLight), ContrastRatio(c, OnBrandDark)
	p.Contrast = white
	toward := "#000000"
	if dark > white {
		p.OnBrand, p.Contrast, toward = OnBrandDark, dark, "#ffffff"
	}
	p.BrandHover = mixColors(c, toward, 0.15)
	tint := func(bg string, share float64) string { return mixColors(bg, c, share) }
	p.TextLight = readableOn(c, "#000000", append([]string{tint("#ffffff", 0.12)}, lightSurfaces...))
	p.TextDark = readableOn(c, "#ffffff", append([]string{tint("#13171f", 0.2)}, darkSurfaces...))
	p.BorderLight, p.BorderDark = p.TextLight, p.TextDark
	if ContrastRatio(c, lightSurfaces[0]) >= 3 {
		p.BorderLight = c
	}
	if ContrastRatio(c, darkSurfaces[0]) >= 3 {
		p.BorderDark = c
	}
	return p, p.Contrast >= MinContrast
}

// readableOn mixes c toward toward (black or white) in 2 % steps until it reaches aimContrast on
// every surface.
func readableOn(c, toward string, surfaces []string) string {
	for share := 0.0; share <= 1.0; share += 0.02 {
		m := mixColors(c, toward, share)
		ok := true
		for _, s := range surfaces {
			if ContrastRatio(m, s) < aimContrast {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return toward
}

// mixColors returns a mixed with b by share (0 = a, 1 = b), in sRGB like CSS color-mix(in srgb).
func mixColors(a, b string, share float64) string {
	ch := func(c string, i int) float64 {
		n, _ := strconv.ParseUint(c[1+2*i:3+2*i], 16, 8)
		return float64(n)
	}
	out := "#"
	for i := 0; i < 3; i++ {
		v := ch(a, i)*(1-share) + ch(b, i)*share
		out += fmt.Sprintf("%02x", int(math.Round(v)))
	}
	return out
}
