package handlers

import (
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
)

// draftLimit bounds how many drafts one address may leave in Redis (anyone can post to an
// expired session's reply route).
var draftLimit = auth.Limit{Name: "draft-ip", Max: 20, Window: 15 * time.Minute}

// draftPath matches the routes whose typed fields are kept when the session expired meanwhile:
// a reply (group 1: the ticket id) and the support form ("new").
var draftPath = regexp.MustCompile(`^/tickets/(?:([0-9]+)/replies|new)$`)

// maxDraftFields bounds how many fields of a form are kept.
const maxDraftFields = 50

// LoginRedirectKeepingDraft is LoginRedirect for a request whose session is gone. When it is a
// reply or a support-form submission, the typed fields are kept in Redis (bound to that form)
// and the customer returns to it after signing in with everything typed back in place: nothing
// is lost, and nothing is shown as sent when it was not. Attached files are not kept (the
// customer is told to attach them again).
func (h *Handlers) LoginRedirectKeepingDraft(c *fiber.Ctx, expired bool) error {
	m := draftPath.FindStringSubmatch(c.Path())
	if c.Method() != fiber.MethodPost || m == nil || !expired { // no session cookie: nothing to keep
		return LoginRedirect(c, expired)
	}
	fields := draftFields(c)
	typed := false
	for _, v := range fields {
		typed = typed || strings.TrimSpace(v) != ""
	}
	if !typed {
		return LoginRedirect(c, expired)
	}
	ctx := c.UserContext()
	if h.Limiter != nil {
		if n, err := h.Limiter.Hit(ctx, draftLimit, auth.IPKey(c.IP())); err != nil || n > draftLimit.Max {
			return LoginRedirect(c, expired) // too many from this address: keep nothing
		}
	}
	back := "/tickets/new"
	var tid int64
	if m[1] != "" {
		tid, _ = strconv.ParseInt(m[1], 10, 64)
		back = "/tickets/" + m[1]
	}
	owner := c.Cookies(h.draftCookieName())
	if len(owner) != 43 {
		owner = auth.NewToken()
	}
	id, err := h.Sessions.SaveDraft(ctx, tid, owner, fields)
	if err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: h.draftCookieName(), Value: owner, Path: "/", HTTPOnly: true, MaxAge: int(auth.DraftTTL.Seconds()),
		Secure: h.Config.SecureCookies(), SameSite: fiber.CookieSameSiteLaxMode})
	q := url.Values{"return_to": {back + "?draft=" + id}}
	if expired {
		q.Set("expired", "1")
	}
	target := "/login?" + q.Encode()
	return Navigate(c, target, fiber.StatusUnauthorized)
}

// draftCookieName is the cookie holding the secret that binds kept drafts to the browser that
// typed them ("__Host-portico_draft" behind https).
func (h *Handlers) draftCookieName() string {
	if h.Config.SecureCookies() {
		return "__Host-portico_draft"
	}
	return "portico_draft"
}

// takeDraft returns the draft ?draft= names when this browser kept it (see SaveDraft).
func (h *Handlers) takeDraft(c *fiber.Ctx, ticketID int64) map[string]string {
	id := c.Query("draft")
	if id == "" {
		return nil
	}
	return h.Sessions.TakeDraft(c.UserContext(), id, c.Cookies(h.draftCookieName()), ticketID)
}

// draftFields reads the text fields of a urlencoded or multipart form (never _csrf, never
// files; only valid text), at most maxDraftFields of them.
func draftFields(c *fiber.Ctx) map[string]string { return postedFields(c, false) }

// postedFields is draftFields, with the posted _csrf field too when withCSRF (the 503 page's
// form sends the browser's own token back when the session holding it could not be read).
func postedFields(c *fiber.Ctx, withCSRF bool) map[string]string {
	out := map[string]string{}
	keep := func(k, v string) {
		if (withCSRF || k != "_csrf") && len(out) < maxDraftFields && CleanText(k) && CleanText(v) && len(k) <= 100 {
			out[k] = v
		}
	}
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype != fiber.MIMEMultipartForm {
		for k, v := range c.Request().PostArgs().All() {
			keep(string(k), string(v))
		}
		return out
	}
	if params["boundary"] == "" {
		return out
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = strings.NewReader(string(c.Body()))
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return out
		}
		if part.FileName() != "" || part.FormName() == "files" {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(part, maxFieldBytes))
		keep(part.FormName(), string(b))
	}
}
