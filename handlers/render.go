// Package handlers holds Portico's HTTP handlers: thin adapters that parse input, call one store
// or auth method with the Viewer, and render a page or an htmx fragment.
package handlers

import (
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

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
	// Languages feed the language switcher (every supported language, the current one marked;
	// shared between requests: read-only).
	Languages []LanguageOption
	// ReturnTo is this page's local URL, for forms that come back here (language switcher).
	ReturnTo string
	// KBLink shows the knowledge-base link in the portal navigation (setting kb_link_in_portal).
	KBLink bool
	// Body is the page's own content, rendered before its layout; set by Views.Render while
	// the layout renders ({{.Body}}), empty otherwise.
	Body template.HTML
}

// T translates message id for the request's locale (see Locale.T).
func (p *Page) T(id string, args ...any) string { return p.Locale.T(id, args...) }

// Asset returns the checksummed URL of a static file.
func (p *Page) Asset(name string) string { return p.Assets(name) }

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
	p.CSRF = csrfTokenOf(c)
	p.Staff = StaffOf(c)
	p.SupportForm = supportFormMenu(loc, st)
	if st.BrandLogo != "" {
		p.LogoURL = "/branding/logo?v=" + st.BrandLogo
	}
	p.KBLink = st.KBLinkInPortal
	if ret := c.OriginalURL(); LocalPath(ret) && c.Method() == fiber.MethodGet && !HTMXRequest(c) {
		p.ReturnTo = ret
	}
	p.Languages = h.Catalogue.LanguageOptions(loc)
	if guestOf(c) != nil {
		// A guest link's page (issue 16.3): no signed-in contact or staff, no return_to (the
		// language switcher is not shown).
		p.Contact, p.Staff, p.ReturnTo = nil, nil, ""
	}
	return p
}

// csrfTokenOf is the CSRF token the request's forms carry: the guest session's on a guest
// link's routes (after RequireGuest), else the browser session's ("" without one). CheckCSRF
// checks against the same.
func csrfTokenOf(c *fiber.Ctx) string {
	if g := guestOf(c); g != nil {
		return g.Session.CSRFToken
	}
	if s := SessionOf(c); s != nil {
		return s.CSRFToken
	}
	return ""
}

// renderPage renders a whole page in the base layout with status.
func (h *Handlers) renderPage(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	if guestOf(c) != nil {
		return c.Render(name, p, "layouts/guest") // a guest link: no navigation
	}
	return c.Render(name, p, "layouts/base")
}

// renderFragment renders one template without layout (the htmx path).
func (h *Handlers) renderFragment(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	return c.Render(name, p)
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
