package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/metrics"
	"portico/sql/store"
)

// loginForm is the sign-in form's view model: what the customer typed (never the password)
// and the one generic error.
type loginForm struct {
	Email    string
	ReturnTo string
	Error    string
	Notice   string
	// Heading and Help are the admin's texts of the login system page (else translated).
	Heading, Help string
	// SelfRegistration shows "Register here".
	SelfRegistration bool
}

// loginPage fills the login page's system texts and renders it with status.
func (h *Handlers) loginPage(c *fiber.Ctx, status int, p *Page, f loginForm) error {
	f.Heading, f.Help = h.systemText(c, p, store.PageLogin, "SignInHeading", "SignInHelp")
	f.SelfRegistration = SettingsOf(c).SigninMethod == store.SigninSelfRegistration
	p.Title, p.Data = p.T("SignIn"), f
	// The language switcher comes back to this sign-in page with its return_to, also when the
	// page is the answer to a refused POST (where the request's own URL is no page to return to).
	p.ReturnTo = "/login"
	if f.ReturnTo != "" {
		p.ReturnTo += "?return_to=" + url.QueryEscape(f.ReturnTo)
	}
	return h.renderPage(c, status, "pages/login", p)
}

// LoginPage shows the sign-in form (GET /login). A signed-in customer goes to the ticket list.
func (h *Handlers) LoginPage(c *fiber.Ctx) error {
	if s := SessionOf(c); s.Authenticated() && s.Kind == auth.KindContact {
		return c.Redirect("/tickets", fiber.StatusSeeOther)
	}
	p := h.newPage(c, "", nil)
	f := loginForm{ReturnTo: c.Query("return_to")}
	if !LocalPath(f.ReturnTo) {
		f.ReturnTo = ""
	}
	switch {
	case c.Query("expired") == "1":
		f.Notice = p.T("SessionExpired")
	case c.Query("signed_out") == "1":
		// The logout system page: the admin's heading (and help), else "You have been signed out."
		head, help := h.systemText(c, p, store.PageLogout, "SignedOut", "")
		f.Notice = strings.TrimSpace(head + " " + help)
	case c.Query("signed_out") == "all":
		f.Notice = p.T("SignedOutEverywhere")
	case c.Query("reset") == "1":
		f.Notice = p.T("PasswordResetDone")
	}
	return h.loginPage(c, fiber.StatusOK, p, f)
}

// LoginCreate checks email and password (POST /login). Success: the pre-sign-in session is
// destroyed and a new one created (id rotation, OWASP Session Management), then 303 to
// return_to or /tickets. Failure: 401 with one generic message and the email kept.
func (h *Handlers) LoginCreate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := loginForm{Email: strings.TrimSpace(c.FormValue("email")), ReturnTo: c.FormValue("return_to")}
	if !LocalPath(f.ReturnTo) {
		f.ReturnTo = ""
	}
	password := c.FormValue("password")
	// Brute force: failures are counted per account and per IP (Redis, shared by instances);
	// the limit answers alike for known and unknown addresses.
	l := h.Limits
	acctKey, ipKey := auth.AccountKey(f.Email), auth.IPKey(c.IP())
	if wait, err := h.Limiter.Check(ctx, l.SigninAccount, acctKey, l.SigninIP, ipKey); err != nil {
		return err
	} else if wait > 0 {
		p := h.newPage(c, "", nil)
		f.Error = p.T("TryAgainInMinutes", "Minutes", auth.Minutes(wait))
		c.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		metrics.SignIn("password", metrics.Limited)
		return h.loginPage(c, fiber.StatusTooManyRequests, p, f)
	}
	acct, err := h.Store.AccountByEmail(ctx, f.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok := len(password) <= 4*auth.MaxPasswordRunes && auth.CheckPassword(password, acct.PasswordHash)
	if !ok || acct.Status != "active" {
		Log(c).Info("sign-in refused")
		metrics.SignIn("password", metrics.Refused)
		if _, err := h.Limiter.Hit(ctx, l.SigninAccount, acctKey); err != nil {
			return err
		}
		if _, err := h.Limiter.Hit(ctx, l.SigninIP, ipKey); err != nil {
			return err
		}
		p := h.newPage(c, "", nil)
		f.Error = p.T("WrongCredentials")
		return h.loginPage(c, fiber.StatusUnauthorized, p, f)
	}
	st := SettingsOf(c)
	if allowed, err := h.Store.AccountAllowed(ctx, acct.Contact.ID, st); err != nil {
		return err
	} else if !allowed {
		Log(c).Info("sign-in refused: not in an access group", "contact_id", acct.Contact.ID)
		metrics.SignIn("password", metrics.Denied)
		return h.accessDenied(c)
	}
	_ = h.Limiter.Reset(ctx, l.SigninAccount, acctKey)
	_ = h.Sessions.Destroy(ctx, SessionOf(c))
	sess, err := h.Sessions.Create(ctx, auth.KindContact, acct.Contact.ID, st.IdleTimeout)
	if err != nil {
		return err
	}
	h.setSessionCookie(c, sess.ID)
	_ = h.Store.AccountSignedIn(ctx, acct.Contact.ID, sess.CreatedAt)
	Log(c).Info("signed in", "contact_id", acct.Contact.ID)
	metrics.SignIn("password", metrics.Success)
	target := f.ReturnTo
	if target == "" {
		target = "/tickets"
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// Logout ends the session (POST /logout) and clears the browser's copy of the site's data.
// When a JWT app with a remote logout URL opened the session, the customer then goes on to it.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	sess := SessionOf(c)
	remote, name := h.remoteLogoutURL(sess)
	if err := h.Sessions.Destroy(c.UserContext(), sess); err != nil {
		return err
	}
	SetSession(c, nil)
	h.clearSessionCookie(c)
	c.Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	if remote != "" {
		return h.ssoRemoteLogout(c, remote, name)
	}
	return Redirect(c, "/login?signed_out=1")
}

// SessionCookieName is the cookie carrying the session id: "__Host-portico_session" behind
// https (RFC 6265bis §4.1.3.2), else "portico_session".
func (h *Handlers) SessionCookieName() string {
	if h.Config.SecureCookies() {
		return "__Host-portico_session"
	}
	return "portico_session"
}

// setSessionCookie writes the session cookie: HttpOnly, SameSite=Lax, Path=/, Secure behind
// https, and no Max-Age (a browser-session cookie; the server enforces the timeouts).
func (h *Handlers) setSessionCookie(c *fiber.Ctx, id string) {
	c.Cookie(&fiber.Cookie{Name: h.SessionCookieName(), Value: id, Path: "/", HTTPOnly: true,
		Secure: h.Config.SecureCookies(), SameSite: fiber.CookieSameSiteLaxMode, SessionOnly: true})
}

// SetSessionCookie is setSessionCookie for the middleware that creates pre-sign-in sessions.
func (h *Handlers) SetSessionCookie(c *fiber.Ctx, id string) { h.setSessionCookie(c, id) }

func (h *Handlers) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: h.SessionCookieName(), Value: "", Path: "/", HTTPOnly: true, MaxAge: -1,
		Secure: h.Config.SecureCookies(), SameSite: fiber.CookieSameSiteLaxMode})
}
