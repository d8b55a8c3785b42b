package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/valyala/fasthttp"

	"portico/auth"
	"portico/config"
	"portico/handlers"
	"portico/metrics"
	"portico/sql/store"
	"portico/static"
)

// anonymousIdle is the idle timeout of a pre-sign-in session (it only carries a CSRF token).
const anonymousIdle = auth.AnonymousIdle

// contentSecurityPolicy allows no inline script or style and no framing (ARCHITECTURE.md,
// "Security defaults"; OWASP Content Security Policy Cheat Sheet).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// plumbing installs the middleware every request passes, in the order of ARCHITECTURE.md:
// recover → request id → access log → security headers → compression → static → settings →
// session → locale.
func (s *Server) plumbing() {
	app := s.App
	app.Use(recover.New())
	app.Use(requestid.New(requestid.Config{Generator: func() string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}}))
	if s.tracer != nil {
		app.Use(traceHTTP(s.tracer)) // first: the request's span is the parent of everything below
	}
	app.Use(metrics.Middleware()) // outside the access log: it sees the status actually sent
	app.Use(s.accessLog)
	app.Use(s.securityHeaders)
	// Probes before anything that reads settings or the session: liveness touches no dependency.
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Use(compress.New())
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static.FS), MaxAge: 365 * 24 * 3600}))
	app.Use(s.deadline)
	app.Use(s.settings)
	app.Use(s.session)
	app.Use(s.locale)
	// Before anything reads the body or the query, after the locale (their refusals are pages
	// in the customer's language). settings, session and locale read neither.
	app.Use(s.bodyGuard)
	app.Use(s.inputGuard)
	// The portal switch is a route rule: routes.go attaches it to the customer-facing routes.
}

// accessLog gives the request its logger (handlers.Log: every line carries request_id; the
// request's context carries the id too, for code that logs with a context), runs the rest of
// the chain, answers its error through the error table, and writes one access-log line: method,
// route-free path (never the query string, which may carry one-time tokens), status, duration.
// Probes (/healthz, /readyz) log at debug level, static files not at all.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	handlers.SetRequestID(c, id)
	log := s.Log.With("request_id", id)
	handlers.SetLogger(c, log)
	c.SetUserContext(withRequestID(c.UserContext(), id))
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	path := c.Path()
	if strings.HasPrefix(path, "/static/") {
		return nil
	}
	level := slog.LevelInfo
	if path == "/healthz" || path == "/readyz" {
		level = slog.LevelDebug
	}
	log.Log(c.UserContext(), level, "request", "method", c.Method(), "path", loggedPath(path),
		"status", c.Response().StatusCode(), "duration_ms", time.Since(start).Milliseconds(), "ip", c.IP())
	return nil
}

// loggedPath is a request path as the access log and trace spans show it: a rating link's
// signed token (/rate/<token>) becomes "…". Query strings, where the other one-time tokens
// travel (guest, sign-in, reset and registration links), are never logged at all.
func loggedPath(path string) string {
	if strings.HasPrefix(path, "/rate/") {
		return "/rate/…"
	}
	return path
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.Config.SecureCookies() {
		c.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !strings.HasPrefix(c.Path(), "/static/") {
		// Pages may carry ticket text: never stored by the browser or a shared cache.
		c.Set("Cache-Control", "no-store")
	}
	return c.Next()
}

// deadline bounds the dependency work of the request (issue 11): every PostgreSQL and Redis
// call takes the request's context, which ends PORTICO_DB_TIMEOUT + 2 × PORTICO_REDIS_TIMEOUT
// after the request started (a Redis call that fails after its retry leaves PostgreSQL its whole
// budget, so public pages still serve what they can; streamed uploads get the read timeout on
// top, for the body they read while storing). A frozen dependency therefore answers 503 within
// the deadline, never a hang. Redis calls have their own per-call deadline too (RedisOptions).
func (s *Server) deadline(c *fiber.Ctx) error {
	d := s.requestBudget()
	if s.streamedUpload(c) {
		d += s.Config.ReadTimeout
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), d)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// requestBudget is the deadline of one request's dependency work (see deadline).
func (s *Server) requestBudget() time.Duration {
	db, rd := s.Config.DBTimeout, s.Config.RedisTimeout
	if db <= 0 {
		db = config.DefaultDBTimeout
	}
	if rd <= 0 {
		rd = config.DefaultRedisTimeout
	}
	return db + 2*rd
}

// settings reads the portal settings (cached, at most 1 s old) for the request.
func (s *Server) settings(c *fiber.Ctx) error {
	st, err := s.Settings.Get(c.UserContext())
	if err != nil {
		return err
	}
	handlers.SetSettings(c, st)
	return c.Next()
}

// sessionExpiredKey marks a request whose cookie named a session that no longer exists.
const sessionExpiredKey = "portico.session_expired"

// sessionUnavailableKey holds the error that kept the session, its contact or its staff user
// from being read (Redis or PostgreSQL failing or too slow). The session is not ended: guarded
// routes answer 503 with it (requireContact, requireStaff, csrf), public pages serve what they
// can without a session.
const sessionUnavailableKey = "portico.session_unavailable"

// session loads the session named by the cookie (sliding its idle timeout) and the signed-in
// contact. Page views without a session get a fresh pre-sign-in session (for the login CSRF
// token); ids we did not issue are never adopted. Only "no such session" and "no such (or
// disabled) account" end a session: any other failure is an outage, never a sign-out (issue 11).
func (s *Server) session(c *fiber.Ctx) error {
	if handlers.IsAPIPath(c.Path()) {
		return c.Next() // bearer tokens only: the API never reads or sets a cookie
	}
	h := s.Handlers
	ctx := c.UserContext()
	st := handlers.SettingsOf(c)
	var sess *auth.Session
	unavailable := false
	if id := c.Cookies(h.SessionCookieName()); id != "" {
		var err error
		sess, err = s.Sessions.Load(ctx, id, st.IdleTimeout)
		switch {
		case errors.Is(err, auth.ErrNoSession):
			c.Locals(sessionExpiredKey, true)
		case err != nil:
			c.Locals(sessionUnavailableKey, err)
			unavailable = true
		}
	}
	if sess != nil && sess.Kind == auth.KindContact {
		ct, err := s.contactGet(ctx, sess.PrincipalID) // in-process, coherent (contactcache.go)
		switch {
		case errors.Is(err, store.ErrNotFound): // contact deleted: the session ends with it
			_ = s.Sessions.Destroy(ctx, sess)
			sess = nil
		case err != nil:
			c.Locals(sessionUnavailableKey, err)
		default:
			handlers.SetContact(c, &ct)
		}
	}
	if sess == nil && !unavailable && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) && !handlers.HTMXRequest(c) {
		fresh, err := s.Sessions.Create(ctx, auth.KindAnonymous, 0, anonymousIdle)
		if err != nil { // public pages still serve what they can; forms will answer 503
			dep := DependencyOf(err)
			metrics.DependencyError(dep)
			handlers.Log(c).Warn("pre-sign-in session not created", "dependency", dep, "err", err)
			c.Locals(sessionUnavailableKey, err)
		} else {
			sess = fresh
			h.SetSessionCookie(c, sess.ID)
		}
	}
	handlers.SetSession(c, sess)
	err := c.Next()
	if ct := handlers.ContactOf(c); ct != nil && c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		// A change the contact just made to itself (name, language, …) is seen by its next
		// request here at once, without waiting for the NOTIFY (contactcache.go).
		s.contacts.invalidate(strconv.FormatInt(ct.ID, 10))
	}
	return err
}

// sessionUnavailable returns the outage that kept this request's session or principal from
// being read (nil when there was none).
func sessionUnavailable(c *fiber.Ctx) error {
	err, _ := c.Locals(sessionUnavailableKey).(error)
	return err
}

// locale picks the request's language (handlers.Catalogue.Pick).
func (s *Server) locale(c *fiber.Ctx) error {
	if handlers.IsAPIPath(c.Path()) {
		return c.Next() // the API speaks English JSON, whatever the cookies say
	}
	// Precedence: the customer's own choice (account page or switcher) > the switcher's cookie >
	// the browser > the portal default (setting portal_language).
	contactLang := ""
	if ct := handlers.ContactOf(c); ct != nil {
		contactLang = ct.Language
	}
	loc := s.Handlers.Catalogue.Pick(contactLang, c.Cookies(handlers.LanguageCookie),
		c.Get(fiber.HeaderAcceptLanguage), handlers.SettingsOf(c).PortalLanguage)
	loc.Zone = handlers.ZoneFromCookie(c.Cookies(handlers.ZoneCookie))
	handlers.SetLocale(c, loc)
	c.Vary(fiber.HeaderAcceptLanguage)
	c.Vary(fiber.HeaderCookie)
	return c.Next()
}

// requireContact lets signed-in customers through; others go to the sign-in page.
func (s *Server) requireContact(c *fiber.Ctx) error {
	if handlers.ContactOf(c) == nil {
		if err := sessionUnavailable(c); err != nil {
			return err // 503: signed in, but we cannot tell right now
		}
		expired, _ := c.Locals(sessionExpiredKey).(bool)
		return s.Handlers.LoginRedirectKeepingDraft(c, expired)
	}
	return c.Next()
}

// csrf checks state-changing requests: the session's synchronizer token must come back in the
// X-CSRF-Token header (htmx) or the _csrf form field, and a browser-declared cross-site request
// is refused (OWASP CSRF Prevention Cheat Sheet: synchronizer token + Fetch Metadata).
func (s *Server) csrf(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if c.Get("Sec-Fetch-Site") == "cross-site" {
		return s.Handlers.ErrorPage(c, fiber.StatusForbidden)
	}
	token := c.Get("X-CSRF-Token")
	if token == "" && s.streamedUpload(c) {
		// A plain-form attachment upload: reading the token from the body here would buffer
		// the files. The streaming reader of these routes refuses any file before a valid
		// _csrf part (handlers.readMessageForm). Other multipart forms are small (bodyGuard).
		c.Locals(handlers.LocalCSRFPending, true)
		return c.Next()
	}
	if token == "" {
		token = formCSRF(c)
	}
	if !handlers.CheckCSRF(c, token) {
		if err := sessionUnavailable(c); err != nil {
			return err // the token could not be checked: 503, the form keeps its text
		}
		handlers.Log(c).Warn("csrf refused", "path", c.Path())
		return s.Handlers.ErrorPage(c, fiber.StatusForbidden)
	}
	return c.Next()
}

// formCSRF returns the _csrf field of a urlencoded or (small, non-streamed) multipart body.
// Never the query string: a token in a URL leaks through logs, history and Referer (OWASP CSRF
// Prevention Cheat Sheet), and fasthttp's FormValue would read it from there first.
func formCSRF(c *fiber.Ctx) string {
	if v := c.Request().PostArgs().Peek("_csrf"); len(v) > 0 {
		return string(v)
	}
	if isMultipart(c) {
		if f, err := c.MultipartForm(); err == nil && len(f.Value["_csrf"]) > 0 {
			return f.Value["_csrf"][0]
		}
	}
	return ""
}

// streamedUpload names the routes that take streamed multipart uploads (routes.go): the portal's
// new ticket and replies, and the agent inbox's replies and notes (its staff group runs
// requireStaff before csrf, so an anonymous or customer upload is refused before a byte is read).
const streamedUpload = "streamed-upload"

// uploadRoutes holds the path patterns of the routes named streamedUpload, split into segments
// (":id" matches any one segment). The guards that run before routing (deadline, bodyGuard,
// csrf) ask it through streamedUpload: the rule is written once, on the route.
type uploadRoutes [][]string

// streamedUploads collects the routes of app named streamedUpload.
func streamedUploads(app *fiber.App) uploadRoutes {
	var out uploadRoutes
	for _, r := range app.GetRoutes(true) {
		if r.Name == streamedUpload && r.Method == fiber.MethodPost {
			out = append(out, strings.Split(strings.Trim(r.Path, "/"), "/"))
		}
	}
	return out
}

// match reports whether path is one of the routes.
func (u uploadRoutes) match(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
outer:
	for _, pat := range u {
		if len(pat) != len(segs) {
			continue
		}
		for i, p := range pat {
			if !(p == segs[i] || (strings.HasPrefix(p, ":") && segs[i] != "")) {
				continue outer
			}
		}
		return true
	}
	return false
}

// streamedUpload reports whether the request is a multipart POST to a streamed-upload route.
func (s *Server) streamedUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && isMultipart(c) && s.uploads.match(c.Path())
}

func isMultipart(c *fiber.Ctx) bool {
	return strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEMultipartForm)
}

// inputGuard refuses text that PostgreSQL cannot store (NUL bytes, invalid UTF-8) in the query
// string and in urlencoded forms, with a 400 page, before any handler sees it. Streamed
// multipart forms are checked field by field by their reader.
func (s *Server) inputGuard(c *fiber.Ctx) error {
	clean := func(args *fasthttp.Args) bool {
		for k, v := range args.All() {
			if !handlers.CleanText(string(k)) || !handlers.CleanText(string(v)) {
				return false
			}
		}
		return true
	}
	bad := !clean(c.Request().URI().QueryArgs())
	if !bad && strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm) {
		bad = !clean(c.Request().PostArgs())
	}
	if bad {
		if handlers.IsAPIPath(c.Path()) {
			return fiber.ErrBadRequest // answered as a problem by the error table
		}
		return s.Handlers.ErrorPage(c, fiber.StatusBadRequest)
	}
	return c.Next()
}

// bodyGuard refuses large bodies that are not uploads: with StreamRequestBody, a body over
// BodyLimit reaches handlers as a stream, and only upload routes read it as one (413 otherwise).
func (s *Server) bodyGuard(c *fiber.Ctx) error {
	n := c.Request().Header.ContentLength()
	if (n > s.Config.BodyLimit || n == -1) && !s.streamedUpload(c) {
		return fiber.ErrRequestEntityTooLarge
	}
	return c.Next()
}

func (s *Server) notFound(c *fiber.Ctx) error {
	if handlers.IsAPIPath(c.Path()) {
		return handlers.APIErrorAnswer(c, fiber.StatusNotFound)
	}
	return s.Handlers.ErrorPage(c, fiber.StatusNotFound)
}

func redirectTo(target string) fiber.Handler {
	return func(c *fiber.Ctx) error { return c.Redirect(target, fiber.StatusSeeOther) }
}

// requireStaff lets signed-in agents and admins through (a customer session never: a staff
// principal and a contact are different kinds); others go to /admin/login.
func (s *Server) requireStaff(c *fiber.Ctx) error {
	sess := handlers.SessionOf(c)
	if sess.Authenticated() && sess.Kind == auth.KindStaff {
		st, err := s.Store.StaffGet(c.UserContext(), sess.PrincipalID)
		switch {
		case err == nil:
			handlers.SetStaff(c, &st)
			return c.Next()
		case !errors.Is(err, store.ErrNotFound):
			return err // an outage: 503, the session stays
		}
		_ = s.Sessions.Destroy(c.UserContext(), sess) // staff user disabled or deleted
	} else if err := sessionUnavailable(c); err != nil {
		return err
	}
	expired, _ := c.Locals(sessionExpiredKey).(bool)
	return handlers.StaffLoginRedirect(c, expired)
}

// requireAdmin lets admins through; agents get the 403 "admins only" page. Place after requireStaff.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if !handlers.StaffOf(c).IsAdmin() {
		return s.Handlers.AdminForbidden(c)
	}
	return c.Next()
}

// adminOnly registers routes on a router with the requireAdmin guard in front of each handler.
type adminOnly struct {
	r     fiber.Router
	guard fiber.Handler
}

func (a adminOnly) Get(path string, h fiber.Handler)  { a.r.Get(path, a.guard, h) }
func (a adminOnly) Post(path string, h fiber.Handler) { a.r.Post(path, a.guard, h) }

// portalSwitch answers the customer-facing routes it is attached to (routes.go) with "portal
// unavailable" (503) while the setting portal_enabled is off; a signed-in staff member may
// preview the portal.
func (s *Server) portalSwitch(c *fiber.Ctx) error {
	if handlers.SettingsOf(c).PortalEnabled {
		return c.Next()
	}
	if sess := handlers.SessionOf(c); sess.Authenticated() && sess.Kind == auth.KindStaff {
		return c.Next()
	}
	return s.Handlers.PortalUnavailable(c)
}
