package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// defaultPrimary is portico.css's --portico-primary, the colour when none is set.
const defaultPrimary = "#1d4ed8"

// brandingView is the extra part of the branding settings page: logo, contrast check, preview.
type brandingView struct {
	LogoURL   string
	LogoError string
	// LogoRemoved confirms a removal just made.
	LogoRemoved bool
	Color       string
	// OnBrand names the text colour chosen for the brand colour; Contrast is its ratio.
	OnBrand  string
	Contrast string
	// Warning is set when a colour stored before the contrast rule still fails it.
	Warning string
	MaxKB   int
}

func (h *Handlers) brandingView(c *fiber.Ctx, p *Page) (*brandingView, error) {
	st, err := h.Store.SettingsGet(c.UserContext())
	if err != nil {
		return nil, err
	}
	b := &brandingView{Color: st.BrandColor, MaxKB: store.MaxLogoBytes / 1024}
	if b.Color == "" {
		b.Color = defaultPrimary
	}
	if st.BrandLogo != "" {
		b.LogoURL = "/branding/logo?v=" + st.BrandLogo
	}
	b.LogoRemoved = c.Query("logo_removed") == "1"
	pal, ok := store.NewBrandPalette(b.Color)
	b.Contrast = p.Locale.Decimal(pal.Contrast, 2) + ":1"
	b.OnBrand = p.T("OnBrandWhite")
	if pal.OnBrand == store.OnBrandDark {
		b.OnBrand = p.T("OnBrandDark")
	}
	if !ok { // WCAG 2.1 SC 1.4.3 (AA), normal text: a colour saved before the rule
		b.Warning = p.T("ContrastWarning", "Ratio", b.Contrast)
	}
	return b, nil
}

// brandingCSS returns the stylesheet for st: the brand palette (store.NewBrandPalette) and the
// font as the custom properties that static/css/portico.css documents and maps onto Pico CSS
// (a selector strong enough to win over Pico's theme rules).
func brandingCSS(st store.Settings) string {
	c := st.BrandColor
	if c == "" {
		c = defaultPrimary
	}
	pal, _ := store.NewBrandPalette(c)
	var b strings.Builder
	b.WriteString("/* Portico branding (generated from the admin settings; the tokens are documented in portico.css). */\n")
	b.WriteString(":root:root:root {\n")
	fmt.Fprintf(&b, "  --portico-brand: %s;\n  --portico-on-brand: %s;\n  --portico-brand-hover: %s;\n", pal.Brand, pal.OnBrand, pal.BrandHover)
	fmt.Fprintf(&b, "  --portico-brand-text-light: %s;\n  --portico-brand-text-dark: %s;\n", pal.TextLight, pal.TextDark)
	fmt.Fprintf(&b, "  --portico-brand-border-light: %s;\n  --portico-brand-border-dark: %s;\n", pal.BorderLight, pal.BorderDark)
	if stack, ok := store.FontStacks[st.BrandFont]; ok && st.BrandFont != "system" {
		fmt.Fprintf(&b, "  --pico-font-family: %s;\n  --pico-font-family-sans-serif: %s;\n", stack, stack)
	}
	b.WriteString("}\n")
	return b.String()
}

// BrandingCSS serves /branding.css: generated from the settings, revalidated on every use
// (Cache-Control: no-cache) with an ETag so an unchanged brand costs a 304.
func (h *Handlers) BrandingCSS(c *fiber.Ctx) error {
	css := brandingCSS(SettingsOf(c))
	sum := sha256.Sum256([]byte(css))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	c.Set("Cache-Control", "no-cache")
	c.Set("ETag", etag)
	if c.Get("If-None-Match") == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set("Content-Type", "text/css; charset=utf-8")
	return c.SendString(css)
}

// BrandingLogo serves the uploaded logo (GET /branding/logo?v=VERSION). The URL changes with the
// logo, so it may be cached for a year. No logo: 404.
func (h *Handlers) BrandingLogo(c *fiber.Ctx) error {
	ct, data, v, err := h.Store.LogoGet(c.UserContext())
	if err != nil {
		return err
	}
	if c.Query("v") == v {
		c.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Set("Cache-Control", "no-cache")
	}
	c.Set("Content-Type", ct)
	return c.Send(data)
}

// logoTypes are the accepted logo formats, as http.DetectContentType names them. SVG is refused:
// it can carry script.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// AdminLogoUpload stores a new logo (POST /admin/branding/logo, multipart field "logo"): at most
// 512 KB, PNG/JPEG/GIF/WebP by content (http.DetectContentType, never the client's claim).
// Refused: 422 on the branding page with the message beside the field.
func (h *Handlers) AdminLogoUpload(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	refuse := func(msg string) error {
		raw, err := h.Store.SettingsRaw(c.UserContext())
		if err != nil {
			return err
		}
		v := h.settingsView(p, "branding", raw, nil)
		b, err := h.brandingView(c, p)
		if err != nil {
			return err
		}
		b.LogoError = p.T(msg, "Max", store.MaxLogoBytes/1024)
		v.Branding = b
		p.Title, p.Data = p.T("Settings"), v
		return h.renderAdmin(c, fiber.StatusUnprocessableEntity, "admin/settings", p)
	}
	fh, err := c.FormFile("logo")
	if err != nil {
		return refuse("LogoMissing")
	}
	if fh.Size > store.MaxLogoBytes {
		return refuse("LogoTooLarge")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, store.MaxLogoBytes+1))
	if err != nil {
		return err
	}
	if len(data) > store.MaxLogoBytes {
		return refuse("LogoTooLarge")
	}
	ct := http.DetectContentType(data)
	if !logoTypes[ct] {
		return refuse("LogoType")
	}
	if _, err := h.Store.LogoSet(c.UserContext(), StaffOf(c).ID, ct, data); err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return refuse(ve.Fields["file"])
		}
		return err
	}
	if err := h.settingsChanged(c); err != nil {
		return err
	}
	return Redirect(c, "/admin/settings/branding?saved=1")
}

// AdminLogoDelete removes the logo (POST /admin/branding/logo/delete), then 303 back to the
// branding page with a notice.
func (h *Handlers) AdminLogoDelete(c *fiber.Ctx) error {
	if err := h.Store.LogoDelete(c.UserContext(), StaffOf(c).ID); err != nil {
		return err
	}
	if err := h.settingsChanged(c); err != nil {
		return err
	}
	return Redirect(c, "/admin/settings/branding?logo_removed=1")
}
