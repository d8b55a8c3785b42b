package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/metrics"
	"portico/sql/store"
)

// The JSON API (issue 17) lives under APIPrefix. Its requests carry a bearer token (a customer's
// personal access token or an admin API key) and never a cookie: the session, CSRF and locale
// middleware skip these paths (IsAPIPath), and the HTML routes never read a bearer token.

// APIPrefix is the path of version 1 of the JSON API.
const APIPrefix = "/api/v1"

// APIMaxBody is the largest JSON request body the API reads, in bytes (64 KiB; larger: 413).
const APIMaxBody = 64 << 10

// IsAPIPath reports whether path belongs to a machine interface (the JSON API or SCIM), whose
// answers are JSON problem details rather than pages and which ignores cookies.
func IsAPIPath(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/scim/")
}

const localAPIPrincipal = "portico.api_principal"

// APIPrincipalOf returns the bearer token's principal (zero when none).
func APIPrincipalOf(c *fiber.Ctx) store.APIPrincipal {
	p, _ := c.Locals(localAPIPrincipal).(store.APIPrincipal)
	return p
}

// Problem is an RFC 9457 problem details object (application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request's path.
	Instance string `json:"instance,omitempty"`
	// RequestID is the request id (X-Request-ID), for support.
	RequestID string `json:"request_id,omitempty"`
	// Errors names the refused fields of a 422 answer: field → reason.
	Errors map[string]string `json:"errors,omitempty"`
}

// Problem types beyond about:blank, relative to the API (RFC 9457 §3.1.1).
const (
	problemInvalidJSON   = APIPrefix + "/problems/invalid-json"
	problemUnknownField  = APIPrefix + "/problems/unknown-field"
	problemValidation    = APIPrefix + "/problems/validation"
	problemScope         = APIPrefix + "/problems/insufficient-scope"
	problemRateLimited   = APIPrefix + "/problems/rate-limited"
	problemIdempotency   = APIPrefix + "/problems/idempotency-key"
	problemUnavailable   = APIPrefix + "/problems/unavailable"
	problemUnauthorized  = APIPrefix + "/problems/unauthorized"
	problemInvalidParams = APIPrefix + "/problems/invalid-parameter"
)

// APIProblem writes a problem details answer with status; typ "" is about:blank (the title is
// then the status's text). It returns nil (the answer is written).
func APIProblem(c *fiber.Ctx, status int, typ, detail string) error {
	return writeProblem(c, Problem{Type: typ, Status: status, Detail: detail})
}

func writeProblem(c *fiber.Ctx, p Problem) error {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.Instance = c.Path()
	p.RequestID = RequestIDOf(c)
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	c.Set("Cache-Control", "no-store")
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).Send(b)
}

// APIErrorAnswer is the API's answer to an error the error table mapped to status: a problem
// (503 with the unavailable type; the caller sets Retry-After); under /scim/ a SCIM error.
func APIErrorAnswer(c *fiber.Ctx, status int) error {
	if isSCIMPath(c.Path()) { // SCIM answers in its own Error schema (RFC 7644 §3.12)
		switch status {
		case fiber.StatusServiceUnavailable:
			c.Set(fiber.HeaderRetryAfter, "5")
			return SCIMError(c, status, "", "A dependency is unavailable; try again shortly.")
		case fiber.StatusRequestEntityTooLarge:
			return SCIMError(c, status, "", "The request body is too large.")
		}
		return SCIMError(c, status, "", "")
	}
	switch status {
	case fiber.StatusServiceUnavailable:
		c.Set(fiber.HeaderRetryAfter, "5")
		return APIProblem(c, status, problemUnavailable, "A dependency is unavailable; try again shortly.")
	case fiber.StatusRequestEntityTooLarge:
		return APIProblem(c, status, "", "The request body is larger than "+strconv.Itoa(APIMaxBody)+" bytes.")
	}
	return APIProblem(c, status, "", "")
}

// writeJSON answers status with v as JSON.
func writeJSON(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(b)
}

// errBadBody is returned by decodeJSON after it wrote the problem.
var errBadBody = errors.New("bad JSON body")

// decodeJSON reads the request body into dst strictly: Content-Type application/json, at most
// APIMaxBody bytes, one JSON value, no unknown fields. On refusal it writes the problem (415,
// 413 or 400) and returns errBadBody: the handler then returns nil.
func decodeJSON(c *fiber.Ctx, dst any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON {
		_ = APIProblem(c, fiber.StatusUnsupportedMediaType, "", "Send the body as application/json.")
		return errBadBody
	}
	body := c.Body()
	if len(body) > APIMaxBody {
		_ = APIProblem(c, fiber.StatusRequestEntityTooLarge, "", "The request body is larger than "+strconv.Itoa(APIMaxBody)+" bytes.")
		return errBadBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		typ, detail := problemInvalidJSON, "The body is not a valid JSON object of the expected shape."
		var ute *json.UnmarshalTypeError
		switch {
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			typ, detail = problemUnknownField, "Unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field ")+"."
		case errors.As(err, &ute):
			detail = "Field " + strconv.Quote(ute.Field) + " must be " + ute.Type.String() + "."
		}
		_ = APIProblem(c, fiber.StatusBadRequest, typ, detail)
		return errBadBody
	}
	return nil
}

// bodyDone turns decodeJSON's errBadBody (the problem is written) into nil for the handler.
func bodyDone(err error) error {
	if errors.Is(err, errBadBody) {
		return nil
	}
	return err
}

// validationProblem answers 422 with the fields of a store.ValidationError (message ids
// translated into English: the API's language).
func (h *Handlers) validationProblem(c *fiber.Ctx, ve *store.ValidationError) error {
	p := Problem{Type: problemValidation, Status: fiber.StatusUnprocessableEntity, Title: "Validation failed", Errors: map[string]string{}}
	en := h.Catalogue.Pick("en", "", "", "en")
	for k, id := range ve.Fields {
		if text, ok := apiOnlyMessages[id]; ok {
			p.Errors[k] = text
		} else {
			p.Errors[k] = en.T(id, "Max", store.MaxReplyRunes)
		}
	}
	return writeProblem(c, p)
}

// apiOnlyMessages are validation messages only the API gives (it answers in English; pages
// never show these).
var apiOnlyMessages = map[string]string{
	"StageUnknown":         "No such stage.",
	"StaffUnknown":         "No such active staff user.",
	"ChannelInvalid":       "Use one of chat, messenger, email, phone, form, portal.",
	"InternalFromCustomer": "A customer's message cannot be an internal note.",
	"NameRequired":         "Give a name of at most 200 characters.",
	"EmailsRequired":       "Give 1 to 1000 email addresses.",
	"ContactUnknown":       "No contact has this email address.",
	"PipelineInvalid":      "No such pipeline with an open stage.",
}

// APIAuth is the API's authentication (RFC 6750 bearer tokens): a live customer token or admin
// key, else 401 with WWW-Authenticate. A customer token acts only while the portal is open
// (portal_enabled; else 503 like the portal). Cookies are never read.
func (h *Handlers) APIAuth(c *fiber.Ctx) error {
	auth := c.Get(fiber.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portico"`)
		return APIProblem(c, fiber.StatusUnauthorized, problemUnauthorized, "Send a personal access token or API key as Authorization: Bearer TOKEN.")
	}
	authenticate := h.Store.APIAuthenticate
	if h.APIAuthenticate != nil {
		authenticate = h.APIAuthenticate
	}
	p, err := authenticate(c.UserContext(), strings.TrimSpace(tok))
	if errors.Is(err, store.ErrNotFound) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portico", error="invalid_token"`)
		return APIProblem(c, fiber.StatusUnauthorized, problemUnauthorized, "The token is unknown, revoked or expired.")
	}
	if err != nil {
		return err
	}
	if p.Kind == store.TokenCustomer && !SettingsOf(c).PortalEnabled {
		c.Set(fiber.HeaderRetryAfter, "60")
		return APIProblem(c, fiber.StatusServiceUnavailable, problemUnavailable, "The portal is switched off.")
	}
	c.Locals(localAPIPrincipal, p)
	return c.Next()
}

// APIRateLimit counts every request of a token against Limits.APIToken (Redis, shared by every
// instance): over the limit, 429 with Retry-After. RateLimit-Limit and RateLimit-Remaining tell
// the caller where it stands.
func (h *Handlers) APIRateLimit(c *fiber.Ctx) error {
	lim := h.Limits.APIToken
	if lim.Max <= 0 || h.Limiter == nil {
		return c.Next()
	}
	subject := "t:" + strconv.FormatInt(APIPrincipalOf(c).TokenID, 10)
	n, err := h.Limiter.Hit(c.UserContext(), lim, subject)
	if err != nil {
		return err
	}
	c.Set("RateLimit-Limit", strconv.Itoa(lim.Max))
	c.Set("RateLimit-Remaining", strconv.Itoa(max(lim.Max-n, 0)))
	if n > lim.Max {
		wait, err := h.Limiter.Blocked(c.UserContext(), lim, subject)
		if err != nil {
			return err
		}
		metrics.RateLimited(lim.Name)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
		return APIProblem(c, fiber.StatusTooManyRequests, problemRateLimited, "Too many requests with this token; see Retry-After.")
	}
	return c.Next()
}

// APIHeaders marks API answers: JSON reads may be revalidated with their ETag (Cache-Control
// private, no-cache; never a shared cache); everything else (writes, problems, attachment
// downloads) stays no-store.
func (h *Handlers) APIHeaders(c *fiber.Ctx) error {
	err := c.Next()
	ct := string(c.Response().Header.ContentType())
	if c.Method() == fiber.MethodGet && c.Response().StatusCode() < 400 && strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		c.Set("Cache-Control", "private, no-cache")
		c.Vary(fiber.HeaderAuthorization)
	}
	return err
}

// APIIdempotent makes a create safe to retry (draft-ietf-httpapi-idempotency-key-header): with
// an Idempotency-Key header (1–255 printable ASCII characters), the first request's answer is
// stored for 24 hours in PostgreSQL (per token, so any instance replays it) and a retry with the
// same key and body gets it again (Idempotent-Replayed: true) without repeating the change. The
// same key with another body answers 422; while the first is still running, 409. A 5xx or an
// error answer is not kept: the retry runs again.
func (h *Handlers) APIIdempotent(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	if key == "" {
		return c.Next()
	}
	if len(key) > 255 || !printableASCII(key) {
		return APIProblem(c, fiber.StatusBadRequest, problemIdempotency, "Idempotency-Key must be 1–255 printable ASCII characters.")
	}
	tokenID := APIPrincipalOf(c).TokenID
	fp := sha256.New()
	fp.Write([]byte(c.Method() + " " + c.Path() + "\x00"))
	fp.Write(c.Body())
	ctx := c.UserContext()
	prev, err := h.Store.APIIdempotencyClaim(ctx, tokenID, key, fp.Sum(nil))
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return APIProblem(c, fiber.StatusUnprocessableEntity, problemIdempotency, "This Idempotency-Key was used with another request.")
	case errors.Is(err, store.ErrIdempotencyInFlight):
		return APIProblem(c, fiber.StatusConflict, problemIdempotency, "A request with this Idempotency-Key is still being processed.")
	case err != nil:
		return err
	case prev != nil:
		c.Set("Idempotent-Replayed", "true")
		if prev.Location != "" {
			c.Set(fiber.HeaderLocation, prev.Location)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		if len(prev.Body) > 0 && prev.Body[0] == '{' && prev.Status >= 400 {
			c.Set(fiber.HeaderContentType, "application/problem+json")
		}
		return c.Status(prev.Status).Send(prev.Body)
	}
	err = c.Next()
	status := c.Response().StatusCode()
	if err != nil || status >= 500 {
		if rerr := h.Store.APIIdempotencyRelease(ctx, tokenID, key); rerr != nil {
			Log(c).Warn("idempotency key not released", "err", rerr)
		}
		return err
	}
	resp := store.IdempotentResponse{Status: status, Body: bytes.Clone(c.Response().Body()), Location: string(c.Response().Header.Peek(fiber.HeaderLocation))}
	if err := h.Store.APIIdempotencyComplete(ctx, tokenID, key, resp); err != nil {
		Log(c).Warn("idempotent response not stored", "err", err)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// RequireCustomer lets customer tokens through; an admin key gets 403.
func RequireCustomer(c *fiber.Ctx) error {
	if APIPrincipalOf(c).Kind != store.TokenCustomer {
		return APIProblem(c, fiber.StatusForbidden, problemScope, "This endpoint is for customer tokens.")
	}
	return c.Next()
}

// RequireScope lets admin keys with scope through; other callers get 403 (a customer token
// never has a scope).
func RequireScope(scope string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !APIPrincipalOf(c).Has(scope) {
			return APIProblem(c, fiber.StatusForbidden, problemScope, "This needs an API key with the scope "+scope+".")
		}
		return c.Next()
	}
}

// APINotFound answers unknown API paths with a 404 problem.
func (h *Handlers) APINotFound(c *fiber.Ctx) error {
	return APIProblem(c, fiber.StatusNotFound, "", "")
}

// APIETag gives every successful GET answer (JSON, not a streamed download) a strong ETag, the
// SHA-256 of its body (first 16 bytes, base64url), and answers 304 Not Modified with no body
// when If-None-Match names it (RFC 9110 §13.1.2; "*" matches too).
func (h *Handlers) APIETag(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return err
	}
	if c.Method() != fiber.MethodGet || c.Response().StatusCode() != fiber.StatusOK || c.Response().IsBodyStream() {
		return nil
	}
	sum := sha256.Sum256(c.Response().Body())
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	c.Set(fiber.HeaderETag, etag)
	for _, cand := range strings.Split(c.Get(fiber.HeaderIfNoneMatch), ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == etag || cand == "*" {
			c.Context().ResetBody()
			c.Response().Header.Del(fiber.HeaderContentType)
			return c.SendStatus(fiber.StatusNotModified)
		}
	}
	return nil
}
