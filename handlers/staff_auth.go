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

const localStaff = "portico.staff"

// SetStaff stores the signed-in staff user (set by the staff guard).
func SetStaff(c *fiber.Ctx, s *store.Staff) { c.Locals(localStaff, s) }

// StaffOf returns the signed-in staff user, nil when none. A staff user is never a contact.
func StaffOf(c *fiber.Ctx) *store.Staff {
	s, _ := c.Locals(localStaff).(*store.Staff)
	return s
}

// renderAdmin renders a whole staff page in the admin layout.
func (h *Handlers) renderAdmin(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	return c.Render(name, p, "layouts/admin")
}

// StaffLoginPage shows the staff sign-in form (GET /admin/login). Signed-in staff go to the inbox.
func (h *Handlers) StaffLoginPage(c *fiber.Ctx) error {
	if s := SessionOf(c); s.Authenticated() && s.Kind == auth.KindStaff {
		return c.Redirect("/admin/inbox", fiber.StatusSeeOther)
	}
	p := h.newPage(c, "", nil)
	f := loginForm{ReturnTo: c.Query("return_to")}
	if !LocalPath(f.ReturnTo) || !strings.HasPrefix(f.ReturnTo, "/admin/") {
		f.ReturnTo = ""
	}
	switch {
	case c.Query("expired") == "1":
		f.Notice = p.T("SessionExpired")
	case c.Query("signed_out") == "1":
		f.Notice = p.T("SignedOut")
	}
	p.Title, p.Data = p.T("StaffSignIn"), f
	return h.renderAdmin(c, fiber.StatusOK, "admin/login", p)
}

// StaffLoginCreate checks a staff email and password (POST /admin/login). Success: the old
// session is destroyed and a staff session created (id rotation), 303 to return_to or the inbox.
// Failure: 401 with one generic message, the email kept.
func (h *Handlers) StaffLoginCreate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := loginForm{Email: strings.TrimSpace(c.FormValue("email")), ReturnTo: c.FormValue("return_to")}
	if !LocalPath(f.ReturnTo) || !strings.HasPrefix(f.ReturnTo, "/admin/") {
		f.ReturnTo = ""
	}
	password := c.FormValue("password")
	// Brute force: the same limits as customer sign-in, with staff accounts counted apart from
	// contacts and failures per IP shared (Redis, every instance).
	l := h.Limits
	acctKey, ipKey := "staff:"+auth.AccountKey(f.Email), auth.IPKey(c.IP())
	if wait, err := h.Limiter.Check(ctx, l.SigninAccount, acctKey, l.SigninIP, ipKey); err != nil {
		return err
	} else if wait > 0 {
		p := h.newPage(c, "", nil)
		f.Error = p.T("TryAgainInMinutes", "Minutes", auth.Minutes(wait))
		c.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		p.Title, p.Data = p.T("StaffSignIn"), f
		metrics.SignIn("staff_password", metrics.Limited)
		return h.renderAdmin(c, fiber.StatusTooManyRequests, "admin/login", p)
	}
	st, hash, err := h.Store.StaffByEmail(ctx, f.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok := len(password) <= 4*auth.MaxPasswordRunes && auth.CheckPassword(password, hash)
	if !ok || st.Status != "active" {
		Log(c).Info("staff sign-in refused")
		metrics.SignIn("staff_password", metrics.Refused)
		if _, err := h.Limiter.Hit(ctx, l.SigninAccount, acctKey); err != nil {
			return err
		}
		if _, err := h.Limiter.Hit(ctx, l.SigninIP, ipKey); err != nil {
			return err
		}
		p := h.newPage(c, "", nil)
		f.Error = p.T("WrongCredentials")
		p.Title, p.Data = p.T("StaffSignIn"), f
		return h.renderAdmin(c, fiber.StatusUnauthorized, "admin/login", p)
	}
	// Second factor (issue 4 ★): with TOTP on, the password alone opens no staff session, and
	// the account's failure count is only reset by a right code.
	if tf, err := h.Store.StaffTOTPGet(ctx, st.ID); err != nil {
		return err
	} else if tf.Enabled() {
		metrics.SignIn("staff_password", metrics.Success) // the password step passed
		return h.staffTOTPChallenge(c, st, f.ReturnTo)
	}
	_ = h.Limiter.Reset(ctx, l.SigninAccount, acctKey)
	metrics.SignIn("staff_password", metrics.Success)
	return h.staffSignedIn(c, st, f.ReturnTo)
}

// staffSignedIn ends the browser's current session and opens a staff session for st (id
// rotation), then 303s to returnTo (already checked to be a local /admin/ path) or the inbox.
func (h *Handlers) staffSignedIn(c *fiber.Ctx, st store.Staff, returnTo string) error {
	ctx := c.UserContext()
	_ = h.Sessions.Destroy(ctx, SessionOf(c))
	sess, err := h.Sessions.Create(ctx, auth.KindStaff, st.ID, SettingsOf(c).IdleTimeout)
	if err != nil {
		return err
	}
	h.setSessionCookie(c, sess.ID)
	Log(c).Info("staff signed in", "staff_id", st.ID, "role", st.Role)
	target := returnTo
	if target == "" {
		target = "/admin/inbox"
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// StaffLogout ends the staff session (POST /admin/logout).
func (h *Handlers) StaffLogout(c *fiber.Ctx) error {
	if err := h.Sessions.Destroy(c.UserContext(), SessionOf(c)); err != nil {
		return err
	}
	SetSession(c, nil)
	h.clearSessionCookie(c)
	c.Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	return Redirect(c, "/admin/login?signed_out=1")
}

// StaffLoginRedirect sends a request without a staff session to /admin/login (HX-Redirect for htmx).
func StaffLoginRedirect(c *fiber.Ctx, expired bool) error {
	target := "/admin/login"
	q := []string{}
	if c.Method() == fiber.MethodGet && !HTMXRequest(c) && LocalPath(c.OriginalURL()) {
		q = append(q, "return_to="+urlQueryEscape(c.OriginalURL()))
	}
	if expired {
		q = append(q, "expired=1")
	}
	if len(q) > 0 {
		target += "?" + strings.Join(q, "&")
	}
	return Navigate(c, target, fiber.StatusUnauthorized)
}

// AdminForbidden renders the "admins only" page (403) for an agent on an admin route.
func (h *Handlers) AdminForbidden(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	p.Title = p.T("ForbiddenTitle")
	p.Data = map[string]string{"Title": p.Title, "Text": p.T("AdminOnly")}
	if IsHTMX(c) {
		return h.renderFragment(c, fiber.StatusForbidden, "shared/error", p)
	}
	return h.renderAdmin(c, fiber.StatusForbidden, "pages/error", p)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
