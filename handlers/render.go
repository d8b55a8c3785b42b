// Package handlers holds Portico's HTTP handlers: thin adapters that parse input, call one store
// or auth method with the Viewer, and render a page or an htmx fragment.
package handlers

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"portico/auth"
	"portico/sql/store"
)

// Page is the typed envelope every template receives.
type Page struct {
	// Title is the page's own title; the layout appends the portal's page title.
	Title string
	// PortalTitle is the admin-set page title (or the translated "Customer portal").
	PortalTitle string
	// TicketsLabel is the admin-set name of tickets (or the translated "Tickets").
	TicketsLabel string
	// Locale translates; templates call {{.T "MessageID"}}.
	Locale *Locale
	// CSRF is the session's CSRF token, for forms (field _csrf) and htmx (header X-CSRF-Token).
	CSRF string
	// Contact is the signed-in customer, nil on public pages.
	Contact *store.Contact
	// Staff is the signed-in agent or admin, nil outside /admin.
	Staff *store.Staff
	// LogoURL is the uploaded brand logo's versioned URL ("" = none).
	LogoURL string
	// SupportForm is the menu text of the support form connected to the portal ("" = none
	// connected): the nav link and the ticket list's button to /tickets/new.
	SupportForm string
	// Flash is a one-line notice shown above the content (already translated).
	Flash string
	// Assets maps a static file name to its checksummed URL.
	Assets func(string) string
	// RequestID identifies the request in logs (shown on error pages).
	RequestID string
	// Data is the page-specific view model.
	Data any
	// Languages feed the language switcher (every supported language, the current one marked).
	Languages []LanguageOption
	// ReturnTo is this page's local URL, for forms that come back here (language switcher).
	ReturnTo string
	// KBLink shows the knowledge-base link in the portal navigation (setting kb_link_in_portal).
	KBLink bool
}

// LanguageOption is one entry of the language switcher: the code and the language's own name.
type LanguageOption struct {
	Code, Name string
	Current    bool
}

// languageNames are the endonyms shown by the switcher (never translated).
var languageNames = map[string]string{"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français", "es": "Español"}

// monthNames are the abbreviated month names per language (CLDR "abbreviated" format, without
// the trailing dot where CLDR has one); dateLayouts say where day, month, year and time go.
var (
	monthNames = map[string][12]string{
		"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		"nl": {"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"},
		"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
		"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	}
	// dateLayouts: %d day, %m month name, %y year, %t time (24 h).
	dateLayouts = map[string]string{"en": "%m %d, %y, %t", "nl": "%d %m %y %t", "de": "%d. %m %y, %t", "fr": "%d %m %y à %t", "es": "%d %m %y, %t"}
)

// ZoneCookie carries the browser's IANA time-zone name, set by static/js/portico.js.
const ZoneCookie = "portico_tz"

// ZoneFromCookie returns the time zone a ZoneCookie names, or nil (UTC) when it is missing or
// not a known IANA zone name. Only names of the tz database are loaded, never paths.
func ZoneFromCookie(v string) *time.Location {
	if v == "" || len(v) > 64 || strings.Contains(v, "..") || strings.HasPrefix(v, "/") {
		return nil
	}
	for _, r := range v {
		if !(r == '/' || r == '_' || r == '-' || r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return nil
		}
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return nil
	}
	return loc
}

// DateTime formats t in the viewer's time zone (UTC until the browser told it) the way the locale writes
// dates: "Mar 5, 2026, 14:07", "5 mrt 2026 14:07", "5. März 2026, 14:07", "5 mars 2026 à 14:07".
func (l *Locale) DateTime(t time.Time) string {
	t = t.UTC()
	if l != nil && l.Zone != nil {
		t = t.In(l.Zone)
	}
	lang := "en"
	if l != nil {
		if _, ok := dateLayouts[l.Lang]; ok {
			lang = l.Lang
		}
	}
	// One pass over the layout into one buffer: this runs twice per listing row.
	layout := dateLayouts[lang]
	b := make([]byte, 0, len(layout)+16)
	for i := 0; i < len(layout); i++ {
		if layout[i] != '%' || i+1 == len(layout) {
			b = append(b, layout[i])
			continue
		}
		i++
		switch layout[i] {
		case 'd':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'm':
			b = append(b, monthNames[lang][t.Month()-1]...)
		case 'y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 't':
			b = t.AppendFormat(b, "15:04")
		default:
			b = append(b, '%', layout[i])
		}
	}
	return string(b)
}

// Times returns t formatted for people (DateTime) and for machines (RFC 3339, for <time datetime>).
func (l *Locale) Times(t time.Time) (string, string) {
	return l.DateTime(t), t.UTC().Format(time.RFC3339)
}

// Number formats n with the locale's digit grouping ("1,234", "1.234", "1 234").
func (l *Locale) Number(n int64) string {
	tag := language.English
	if l != nil && l.tag != language.Und {
		tag = l.tag
	}
	return message.NewPrinter(tag).Sprintf("%d", n)
}

// Decimal formats f with prec decimals and the locale's decimal separator ("1.5", "1,5").
func (l *Locale) Decimal(f float64, prec int) string {
	tag := language.English
	if l != nil && l.tag != language.Und {
		tag = l.tag
	}
	return message.NewPrinter(tag).Sprint(number.Decimal(f, number.Scale(prec)))
}

// Size formats a byte count in SI units with the locale's decimal separator and unit symbol
// ("1.5 MB", "1,5 MB", "1,5 Mo"): the unit comes from the catalogue (SizeBytes, SizeKB, SizeMB).
func (l *Locale) Size(n int64) string {
	id, num := "SizeMB", ""
	switch {
	case n < 1000:
		id, num = "SizeBytes", l.Number(n)
	case n < store.MB:
		id, num = "SizeKB", l.Decimal(float64(n)/1000, 0)
	default:
		num = l.Decimal(float64(n)/store.MB, 1)
	}
	if l == nil || l.loc == nil {
		return num + map[string]string{"SizeBytes": " B", "SizeKB": " kB", "SizeMB": " MB"}[id]
	}
	return l.T(id, "N", num)
}

// T translates message id for the request's locale (see Locale.T).
func (p *Page) T(id string, args ...any) string { return p.Locale.T(id, args...) }

// Asset returns the checksummed URL of a static file.
func (p *Page) Asset(name string) string { return p.Assets(name) }

// Context keys for values the middleware puts in fiber.Ctx Locals.
const (
	localSession   = "portico.session"
	localLocale    = "portico.locale"
	localRequestID = "portico.request_id"
	localContact   = "portico.contact"
	localSettings  = "portico.settings"
)

// SetSession, SessionOf and the other accessors below carry request state between middleware
// and handlers.
func SetSession(c *fiber.Ctx, s *auth.Session) { c.Locals(localSession, s) }

// SessionOf returns the request's session (nil when none).
func SessionOf(c *fiber.Ctx) *auth.Session {
	s, _ := c.Locals(localSession).(*auth.Session)
	return s
}

// SetLocale stores the request's locale.
func SetLocale(c *fiber.Ctx, l *Locale) { c.Locals(localLocale, l) }

// LocaleOf returns the request's locale.
func LocaleOf(c *fiber.Ctx) *Locale {
	l, _ := c.Locals(localLocale).(*Locale)
	return l
}

// SetRequestID stores the request id.
func SetRequestID(c *fiber.Ctx, id string) { c.Locals(localRequestID, id) }

// RequestIDOf returns the request id.
func RequestIDOf(c *fiber.Ctx) string {
	s, _ := c.Locals(localRequestID).(string)
	return s
}

// SetContact stores the signed-in contact.
func SetContact(c *fiber.Ctx, ct *store.Contact) { c.Locals(localContact, ct) }

// ContactOf returns the signed-in contact, nil when none.
func ContactOf(c *fiber.Ctx) *store.Contact {
	ct, _ := c.Locals(localContact).(*store.Contact)
	return ct
}

// SetSettings stores the portal settings read for this request.
func SetSettings(c *fiber.Ctx, s store.Settings) { c.Locals(localSettings, s) }

// SettingsOf returns the request's portal settings.
func SettingsOf(c *fiber.Ctx) store.Settings {
	s, ok := c.Locals(localSettings).(store.Settings)
	if !ok {
		return store.DefaultSettings()
	}
	return s
}

// IsHTMX reports whether the request wants a fragment: HX-Request set and not a boosted navigation.
func IsHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true"
}

// HTMXRequest reports whether htmx sent the request at all (boosted or not).
func HTMXRequest(c *fiber.Ctx) bool { return c.Get("HX-Request") == "true" }

// VaryHTMX marks a response that differs by HX-Request (caches must key on it).
func VaryHTMX(c *fiber.Ctx) { c.Vary("HX-Request") }

// newPage builds the envelope for this request.
func (h *Handlers) newPage(c *fiber.Ctx, title string, data any) *Page {
	loc := LocaleOf(c)
	if loc == nil {
		loc = h.Catalogue.Match("")
	}
	st := SettingsOf(c)
	p := &Page{Title: title, Locale: loc, Assets: h.Assets, RequestID: RequestIDOf(c), Data: data, Contact: ContactOf(c)}
	p.PortalTitle = st.PageTitle
	if p.PortalTitle == "" {
		p.PortalTitle = loc.T("CustomerPortal")
	}
	p.TicketsLabel = st.TicketsLabel
	if p.TicketsLabel == "" {
		p.TicketsLabel = loc.T("Tickets")
	}
	if s := SessionOf(c); s != nil {
		p.CSRF = s.CSRFToken
	}
	p.Staff = StaffOf(c)
	p.SupportForm = supportFormMenu(loc, st)
	if st.BrandLogo != "" {
		p.LogoURL = "/branding/logo?v=" + st.BrandLogo
	}
	p.KBLink = st.KBLinkInPortal
	if ret := c.OriginalURL(); LocalPath(ret) && c.Method() == fiber.MethodGet && !HTMXRequest(c) {
		p.ReturnTo = ret
	}
	for _, code := range h.Catalogue.Languages() {
		p.Languages = append(p.Languages, LanguageOption{Code: code, Name: languageNames[code], Current: code == loc.Lang})
	}
	return p
}

// renderPage renders a whole page in the base layout with status.
func (h *Handlers) renderPage(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	return c.Render(name, p, "layouts/base")
}

// renderFragment renders one template without layout (the htmx path).
func (h *Handlers) renderFragment(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	return c.Render(name, p)
}

// Redirect answers a successful POST: 303 to target, or HX-Redirect for htmx (a full navigation).
func Redirect(c *fiber.Ctx, target string) error {
	if HTMXRequest(c) {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// LoginRedirect sends an unauthenticated request to the sign-in page, keeping return_to. For
// htmx it answers HX-Redirect (never a login form swapped into a fragment).
func LoginRedirect(c *fiber.Ctx, expired bool) error {
	q := url.Values{}
	ret := c.OriginalURL()
	if HTMXRequest(c) {
		if cu := c.Get("HX-Current-URL"); cu != "" {
			if u, err := url.Parse(cu); err == nil {
				ret = u.RequestURI()
			}
		}
	}
	if c.Method() == fiber.MethodGet || HTMXRequest(c) {
		if LocalPath(ret) {
			q.Set("return_to", ret)
		}
	}
	if expired {
		q.Set("expired", "1")
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if HTMXRequest(c) {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// LocalPath reports whether p is a path on this site: it starts with one "/", has no scheme,
// host, backslash or control characters (open-redirect defence, OWASP Unvalidated Redirects).
func LocalPath(p string) bool {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// ErrorPage renders the error page for status (404, 403, 429 or 500) in the request's language.
// For htmx requests it renders the bare error fragment.
func (h *Handlers) ErrorPage(c *fiber.Ctx, status int) error {
	var title, text string
	p := h.newPage(c, "", nil)
	switch status {
	case fiber.StatusNotFound:
		title, text = p.T("NotFoundTitle"), p.T("NotFoundText")
	case fiber.StatusForbidden:
		title, text = p.T("ForbiddenTitle"), p.T("FormExpired")
	case fiber.StatusTooManyRequests:
		title, text = p.T("ErrorTitle"), p.T("TooManyRequests")
	case fiber.StatusBadRequest:
		title, text = p.T("ErrorTitle"), p.T("InvalidCharacters")
	case fiber.StatusRequestEntityTooLarge:
		title, text = p.T("ErrorTitle"), p.T("RequestTooLarge")
	case fiber.StatusServiceUnavailable:
		title, text = p.T("DependencyUnavailableTitle"), p.T("DependencyUnavailableText")
	case fiber.StatusMethodNotAllowed:
		title, text = p.T("NotFoundTitle"), p.T("NotFoundText")
	default:
		title, text = p.T("ErrorTitle"), p.T("ErrorText")
	}
	p.Title = title
	p.Data = map[string]string{"Title": title, "Text": text, "BackHref": "/tickets", "BackLabel": p.T("BackToList")}
	if kbPath(c.Path()) || (ContactOf(c) == nil && StaffOf(c) == nil) {
		// The knowledge base is what an anonymous reader (or one lost under /kb) can go back to.
		p.Data = map[string]string{"Title": title, "Text": text, "BackHref": "/kb", "BackLabel": p.T("KBBackToIndex")}
	}
	if IsHTMX(c) {
		return h.renderFragment(c, status, "shared/error", p)
	}
	return h.renderPage(c, status, "pages/error", p)
}

// kbPath reports whether path is the knowledge base or one of its pages.
func kbPath(path string) bool { return path == "/kb" || strings.HasPrefix(path, "/kb/") }

// With returns a copy of the page whose Data is data: how a page hands a sub-template its own
// view model ({{template "tickets/reply_form" (.With .Data.Reply)}}).
func (p *Page) With(data any) *Page {
	cp := *p
	cp.Data = data
	return &cp
}

// TriggerEvent asks htmx to fire event name on the page after this response (HX-Trigger).
func TriggerEvent(c *fiber.Ctx, name string) { c.Set("HX-Trigger", name) }
