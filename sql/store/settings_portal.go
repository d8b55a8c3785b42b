package store

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// PortalSettings are the portal's presentation settings managed in the admin console
// (branding). Their definitions are registered in init below.
type PortalSettings struct {
	// BrandColor is the primary colour, "#rrggbb" (lower case); "" means Portico's default.
	BrandColor string
	// BrandFont names one of FontStacks; "system" is the platform's UI font.
	BrandFont string
	// BrandLogo is the version (sha256 prefix) of the uploaded logo; "" means no logo. It is
	// set by the logo upload, never typed, so the generated forms do not show it.
	BrandLogo string
}

// SettingHidden marks a setting that the generated admin forms do not show (it is set by a
// dedicated page, e.g. the logo upload) but that is stored, audited and cached like any other.
const SettingHidden SettingKind = "hidden"

// FontStacks maps the brand_font choices to CSS font-family stacks (system fonts only: no font
// files are downloaded, and the CSP allows none from elsewhere).
var FontStacks = map[string]string{
	"system":    `system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif`,
	"humanist":  `Seravek, "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", source-sans-pro, sans-serif`,
	"geometric": `Avenir, Montserrat, Corbel, "URW Gothic", source-sans-pro, sans-serif`,
	"serif":     `Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif`,
	"mono":      `ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace`,
}

// fontNames is the order the choices are offered in.
var fontNames = []string{"system", "humanist", "geometric", "serif", "mono"}

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// NormalizeColor accepts "#rgb" or "#rrggbb" (any case, "#" optional) and returns "#rrggbb" in
// lower case; "" stays "". ok is false for anything else.
func NormalizeColor(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", true
	}
	if !strings.HasPrefix(v, "#") {
		v = "#" + v
	}
	if len(v) == 4 {
		v = "#" + strings.Repeat(v[1:2], 2) + strings.Repeat(v[2:3], 2) + strings.Repeat(v[3:4], 2)
	}
	return v, hexColor.MatchString(v)
}

// ContrastRatio returns the WCAG 2.1 contrast ratio (1–21) between two "#rrggbb" colours
// (WCAG 2.1 §1.4.3, relative luminance definition). Unreadable colours count as black.
func ContrastRatio(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c string) float64 {
	if len(c) != 7 {
		return 0
	}
	ch := func(s string) float64 {
		n, _ := strconv.ParseUint(s, 16, 8)
		v := float64(n) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c[1:3]) + 0.7152*ch(c[3:5]) + 0.0722*ch(c[5:7])
}

// ColorSetting defines a "#rrggbb" colour setting ("" = default).
func ColorSetting(key, section string, ptr func(*Settings) *string) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingText, Default: "",
		parse: func(v string) (any, error) {
			c, ok := NormalizeColor(v)
			if !ok {
				return nil, refuse("SettingColor", nil, "must be a colour such as #1d4ed8")
			}
			return c, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return *ptr(&s) },
	}
}

// BrandColorSetting defines the brand colour: a ColorSetting that also refuses a colour on which
// neither white nor near-black text reaches WCAG 2.1 AA (4.5:1), so that no setting can make the
// text of a button or banner unreadable (message "SettingBrandContrast" with both ratios).
func BrandColorSetting(key, section string, ptr func(*Settings) *string) SettingDef {
	d := ColorSetting(key, section, ptr)
	parse := d.parse
	d.parse = func(v string) (any, error) {
		c, err := parse(v)
		if err != nil || c == "" {
			return c, err
		}
		if _, ok := NewBrandPalette(c.(string)); !ok {
			white, dark := fmt.Sprintf("%.2f:1", ContrastRatio(c.(string), OnBrandLight)), fmt.Sprintf("%.2f:1", ContrastRatio(c.(string), OnBrandDark))
			return nil, refuse("SettingBrandContrast", map[string]any{"White": white, "Dark": dark},
				"leaves text below 4.5:1 (white %s, near-black %s)", white, dark)
		}
		return c, nil
	}
	return d
}

var logoVersion = regexp.MustCompile(`^[0-9a-f]{0,64}$`)

func init() {
	logo := SettingDef{Key: "brand_logo", Section: "branding", Kind: SettingHidden, Default: "",
		parse: func(v string) (any, error) {
			v = strings.TrimSpace(v)
			if !logoVersion.MatchString(v) {
				return nil, refuse("SettingLogoOnly", nil, "is set by uploading a logo")
			}
			return v, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.BrandLogo) },
		format: func(s Settings) string { return s.BrandLogo },
	}
	defineSettings(
		BrandColorSetting("brand_color", "branding", func(s *Settings) *string { return &s.BrandColor }),
		EnumSetting("brand_font", "branding", fontNames, "system", func(s *Settings) *string { return &s.BrandFont }),
		logo,
	)
}
