package handlers

import (
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// RetryAfterSeconds is the Retry-After of a 503 for a dependency outage (issue 11).
const RetryAfterSeconds = "5"

// localFormFields holds the text fields a streamed form reader has read (readMessageForm): the
// body is gone by the time an error reaches the error table, the fields are not.
const localFormFields = "portico.form_fields"

// keptField is one field of a form kept across a dependency outage.
type keptField struct{ Name, Value string }

// unavailableView is the 503 page: the message and, for a plain form, what was typed.
type unavailableView struct {
	Title, Text string
	// Action is the form's own URL ("" = nothing to send again).
	Action string
	// Texts are shown in text boxes (the message body); Hidden travel along unseen.
	Texts, Hidden []keptField
}

// Unavailable answers a request that failed because PostgreSQL, Redis or the blob store did
// not answer in time (503, Retry-After). The session is untouched. htmx gets the error fragment,
// which static/js/portico.js shows beside the form while the form keeps what was typed; a plain
// form POST gets the page again with every typed text field in a form that sends them to the
// same URL (files cannot be kept by a browser). Nothing is ever shown as sent.
func (h *Handlers) Unavailable(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, RetryAfterSeconds)
	if c.Method() != fiber.MethodPost || HTMXRequest(c) {
		return h.ErrorPage(c, fiber.StatusServiceUnavailable)
	}
	p := h.newPage(c, "", nil)
	v := unavailableView{Title: p.T("DependencyUnavailableTitle"), Text: p.T("DependencyUnavailableText")}
	fields, _ := c.Locals(localFormFields).(map[string]string)
	if fields == nil {
		fields = postedFields(c, true)
	}
	csrf := csrfTokenOf(c)
	if t, ok := fields["_csrf"]; ok && (csrf == "" || strings.HasPrefix(c.Path(), "/guest/")) {
		// The browser's own token: the session could not be read, or a guest link's session
		// (its own token) was not reached.
		csrf = t
	}
	names := make([]string, 0, len(fields))
	typed := false
	for k, val := range fields {
		if k != "_csrf" {
			names = append(names, k)
			typed = typed || strings.TrimSpace(val) != ""
		}
	}
	sort.Strings(names)
	if ret := c.OriginalURL(); typed && LocalPath(ret) {
		v.Action = ret
		v.Hidden = append(v.Hidden, keptField{"_csrf", csrf})
		for _, k := range names {
			if k == "body" || strings.Contains(fields[k], "\n") || len(fields[k]) > 200 {
				v.Texts = append(v.Texts, keptField{k, fields[k]})
			} else {
				v.Hidden = append(v.Hidden, keptField{k, fields[k]})
			}
		}
	}
	p.Title, p.Data = v.Title, v
	return h.renderPage(c, fiber.StatusServiceUnavailable, "pages/unavailable", p)
}

// BadForm answers a form body that could not be parsed (ErrBadForm, a malformed multipart
// body): 400 with the translated "could not be read" text; htmx shows it beside the form, which
// keeps what was typed.
func (h *Handlers) BadForm(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	p.Title = p.T("ErrorTitle")
	p.Data = map[string]string{"Title": p.Title, "Text": p.T("InvalidForm"), "BackHref": "/tickets", "BackLabel": p.T("BackToList")}
	if IsHTMX(c) {
		return h.renderFragment(c, fiber.StatusBadRequest, "shared/error", p)
	}
	return h.renderPage(c, fiber.StatusBadRequest, "pages/error", p)
}
