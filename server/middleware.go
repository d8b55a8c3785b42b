package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"portico/auth"
	"portico/handlers"
	"portico/static"
)

// anonymousIdle is the idle timeout of a pre-sign-in session (it only carries a CSRF token).
const anonymousIdle = 2 * time.Hour

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
	app.Use(s.accessLog)
	app.Use(s.securityHeaders)
	app.Use(compress.New())
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static.FS), MaxAge: 365 * 24 * 3600}))
	app.Use(s.settings)
	app.Use(s.session)
	app.Use(s.locale)
}

func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	handlers.SetRequestID(c, id)
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	if !strings.HasPrefix(c.Path(), "/static/") {
		s.Log.Info("request", "request_id", id, "method", c.Method(), "path", c.Path(),
			"status", c.Response().StatusCode(), "duration_ms", time.Since(start).Milliseconds(), "ip", c.IP())
	}
	return nil
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

// session loads the session named by the cookie (sliding its idle timeout) and the signed-in
// contact. Page views without a session get a fresh pre-sign-in session (for the login CSRF
// token); ids we did not issue are never adopted.
func (s *Server) session(c *fiber.Ctx) error {
	h := s.Handlers
	ctx := c.UserContext()
	st := handlers.SettingsOf(c)
	var sess *auth.Session
	if id := c.Cookies(h.SessionCookieName()); id != "" {
		var err error
		sess, err = s.Sessions.Load(ctx, id, st.IdleTimeout)
		switch {
		case errors.Is(err, auth.ErrNoSession):
			c.Locals(sessionExpiredKey, true)
		case err != nil:
			return err
		}
	}
	if sess != nil && sess.Kind == auth.KindContact {
		ct, err := s.Store.ContactGet(ctx, sess.PrincipalID)
		if err != nil { // contact deleted: the session ends with it
			_ = s.Sessions.Destroy(ctx, sess)
			sess = nil
		} else {
			handlers.SetContact(c, &ct)
		}
	}
	if sess == nil && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) && !handlers.HTMXRequest(c) {
		var err error
		if sess, err = s.Sessions.Create(ctx, auth.KindAnonymous, 0, anonymousIdle); err != nil {
			return err
		}
		h.SetSessionCookie(c, sess.ID)
	}
	handlers.SetSession(c, sess)
	return c.Next()
}

// locale picks the request's language from Accept-Language.
func (s *Server) locale(c *fiber.Ctx) error {
	handlers.SetLocale(c, s.Handlers.Catalogue.Match(c.Get(fiber.HeaderAcceptLanguage)))
	c.Vary(fiber.HeaderAcceptLanguage)
	return c.Next()
}

// requireContact lets signed-in customers through; others go to the sign-in page.
func (s *Server) requireContact(c *fiber.Ctx) error {
	if handlers.ContactOf(c) == nil {
		expired, _ := c.Locals(sessionExpiredKey).(bool)
		return handlers.LoginRedirect(c, expired)
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
	if token == "" {
		token = c.FormValue("_csrf")
	}
	if !handlers.SessionOf(c).CheckCSRF(token) {
		s.Log.Warn("csrf refused", "request_id", handlers.RequestIDOf(c), "path", c.Path())
		return s.Handlers.ErrorPage(c, fiber.StatusForbidden)
	}
	return c.Next()
}

func (s *Server) notFound(c *fiber.Ctx) error { return s.Handlers.ErrorPage(c, fiber.StatusNotFound) }

func (s *Server) health(c *fiber.Ctx) error {
	ctx := c.UserContext()
	if err := s.Pool.Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).SendString("database unavailable")
	}
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).SendString("redis unavailable")
	}
	return c.SendString("ok")
}

func redirectTo(target string) fiber.Handler {
	return func(c *fiber.Ctx) error { return c.Redirect(target, fiber.StatusSeeOther) }
}
