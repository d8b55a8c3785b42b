package handlers

import (
	"errors"
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

// replyPath matches the reply route, whose text is kept when the session expired meanwhile.
var replyPath = regexp.MustCompile(`^/tickets/([0-9]+)/replies$`)

// LoginRedirectKeepingDraft is LoginRedirect for a request whose session is gone. When it is a
// reply, the typed text is kept in Redis and the customer returns to the ticket after signing in
// with the text back in the reply box: a reply is never lost, and never shown as sent when it
// was not. Attached files are not kept (the customer is told to attach them again).
func (h *Handlers) LoginRedirectKeepingDraft(c *fiber.Ctx, expired bool) error {
	m := replyPath.FindStringSubmatch(c.Path())
	if c.Method() != fiber.MethodPost || m == nil {
		return LoginRedirect(c, expired)
	}
	if !expired { // no session cookie at all: nothing was being typed in a session
		return LoginRedirect(c, expired)
	}
	text := draftText(c)
	if strings.TrimSpace(text) == "" || !CleanText(text) {
		return LoginRedirect(c, expired)
	}
	ctx := c.UserContext()
	if h.Limiter != nil {
		if n, err := h.Limiter.Hit(ctx, draftLimit, auth.IPKey(c.IP())); err != nil || n > draftLimit.Max {
			return LoginRedirect(c, expired) // too many from this address: keep nothing
		}
	}
	tid, _ := strconv.ParseInt(m[1], 10, 64)
	id, err := h.Sessions.SaveDraft(ctx, tid, text)
	if err != nil {
		return err
	}
	q := url.Values{"return_to": {"/tickets/" + m[1] + "?draft=" + id}}
	if expired {
		q.Set("expired", "1")
	}
	target := "/login?" + q.Encode()
	if HTMXRequest(c) {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// draftText reads the "body" field of a urlencoded or multipart form, ignoring any files.
func draftText(c *fiber.Ctx) string {
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype != fiber.MIMEMultipartForm {
		return c.FormValue("body")
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = strings.NewReader(string(c.Body()))
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) || err != nil {
			return ""
		}
		if part.FormName() == "body" && part.FileName() == "" {
			b, _ := io.ReadAll(io.LimitReader(part, maxFieldBytes))
			return string(b)
		}
	}
}
