package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pquerna/otp"

	"portico/auth"
	"portico/metrics"
	"portico/sql/store"
)

// totpLoginForm is the view model of admin/totp_login (the code step of staff sign-in).
type totpLoginForm struct {
	Error string
}

// totpAccount is the view model of admin/totp (the staff account's second factor).
type totpAccount struct {
	Enabled bool
	// URL, Secret and QR describe the unconfirmed secret while TOTP is off: the otpauth:// URL,
	// the base32 secret to type in, and a QR code of the URL as a data: URL (PNG).
	URL, Secret string
	QR          template.URL
	Error       string
}

// totpSealSlug binds a sealed secret to its staff user (a blob copied to another row does not
// open); pending secrets in Redis use their own slug.
func totpSealSlug(staffID int64, pending bool) string {
	if pending {
		return "staff-pending:" + strconv.FormatInt(staffID, 10)
	}
	return "staff:" + strconv.FormatInt(staffID, 10)
}

// staffTOTPSecret opens the stored TOTP secret of a staff user.
func (h *Handlers) staffTOTPSecret(staffID int64, tf store.StaffTOTP) (string, error) {
	m, err := h.TOTPSealer.Open(totpSealSlug(staffID, false), tf.Sealed)
	if err != nil {
		return "", err
	}
	if m["secret"] == "" {
		return "", errors.New("staff totp: empty secret")
	}
	return m["secret"], nil
}

// staffTOTPChallenge parks a password-checked staff sign-in until its TOTP code arrives: no
// staff session yet, only a pending record bound to this browser's current (anonymous)
// session, for auth.TOTPPendingTTL. 303 to the code page.
func (h *Handlers) staffTOTPChallenge(c *fiber.Ctx, st store.Staff, returnTo string) error {
	sess := SessionOf(c)
	if sess == nil { // the CSRF guard makes this unreachable
		return StaffLoginRedirect(c, true)
	}
	p := auth.PendingSignIn{StaffID: st.ID, Email: st.Email, ReturnTo: returnTo}
	if err := h.TOTP.PutSignIn(c.UserContext(), sess.ID, p); err != nil {
		return err
	}
	Log(c).Info("staff password accepted, awaiting totp code", "staff_id", st.ID)
	return Redirect(c, "/admin/login/totp")
}

// StaffLoginTOTPPage shows the code form of a staff sign-in awaiting its second factor
// (GET /admin/login/totp). Without a pending sign-in (none, expired after 5 minutes, or another
// browser): 303 to /admin/login?expired=1. Signed-in staff go to the inbox.
func (h *Handlers) StaffLoginTOTPPage(c *fiber.Ctx) error {
	sess := SessionOf(c)
	if sess.Authenticated() && sess.Kind == auth.KindStaff {
		return c.Redirect("/admin/inbox", fiber.StatusSeeOther)
	}
	if sess == nil {
		return c.Redirect("/admin/login?expired=1", fiber.StatusSeeOther)
	}
	if _, ok, err := h.TOTP.SignIn(c.UserContext(), sess.ID); err != nil {
		return err
	} else if !ok {
		return c.Redirect("/admin/login?expired=1", fiber.StatusSeeOther)
	}
	return h.renderTOTPLogin(c, fiber.StatusOK, "")
}

// renderTOTPLogin renders the code form with the error message errID ("" = none).
func (h *Handlers) renderTOTPLogin(c *fiber.Ctx, status int, errID string, args ...any) error {
	p := h.newPage(c, "", nil)
	f := totpLoginForm{}
	if errID != "" {
		f.Error = p.T(errID, args...)
	}
	p.Title, p.Data = p.T("TOTPSignInTitle"), f
	return h.renderAdmin(c, status, "admin/totp_login", p)
}

// StaffLoginTOTPCreate checks the code of a pending staff sign-in (POST /admin/login/totp).
// RFC 6238 with ±1 step of skew; a code is accepted once (the last step is stored). Wrong
// codes count against the same limits as wrong passwords (per staff account and per IP): 401,
// or 429 once blocked. A right code creates the staff session (id rotation) and 303s to
// return_to or the inbox.
func (h *Handlers) StaffLoginTOTPCreate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sess := SessionOf(c)
	if sess == nil {
		return Redirect(c, "/admin/login?expired=1")
	}
	pend, ok, err := h.TOTP.SignIn(ctx, sess.ID)
	if err != nil {
		return err
	}
	if !ok {
		return Redirect(c, "/admin/login?expired=1")
	}
	l := h.Limits
	acctKey, ipKey := "staff:"+auth.AccountKey(pend.Email), auth.IPKey(c.IP())
	if wait, err := h.Limiter.Check(ctx, l.SigninAccount, acctKey, l.SigninIP, ipKey); err != nil {
		return err
	} else if wait > 0 {
		c.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		metrics.SignIn("staff_totp", metrics.Limited)
		return h.renderTOTPLogin(c, fiber.StatusTooManyRequests, "TryAgainInMinutes", "Minutes", auth.Minutes(wait))
	}
	tf, err := h.Store.StaffTOTPGet(ctx, pend.StaffID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !tf.Enabled() {
		// Disabled meanwhile (account or second factor): start again from the password.
		_, _ = h.TOTP.TakeSignIn(ctx, sess.ID)
		return Redirect(c, "/admin/login?expired=1")
	}
	if err != nil {
		return err
	}
	secret, err := h.staffTOTPSecret(pend.StaffID, tf)
	if err != nil {
		return err
	}
	step, ok := auth.TOTPVerify(secret, c.FormValue("code"), time.Now(), tf.LastStep)
	if ok {
		if ok, err = h.Store.StaffTOTPUseStep(ctx, pend.StaffID, step); err != nil {
			return err
		}
	}
	if !ok {
		Log(c).Info("staff totp code refused", "staff_id", pend.StaffID)
		metrics.SignIn("staff_totp", metrics.Refused)
		if _, err := h.Limiter.Hit(ctx, l.SigninAccount, acctKey); err != nil {
			return err
		}
		if _, err := h.Limiter.Hit(ctx, l.SigninIP, ipKey); err != nil {
			return err
		}
		return h.renderTOTPLogin(c, fiber.StatusUnauthorized, "TOTPWrongCode")
	}
	if taken, err := h.TOTP.TakeSignIn(ctx, sess.ID); err != nil {
		return err
	} else if !taken { // finished meanwhile by a concurrent request
		return Redirect(c, "/admin/login?expired=1")
	}
	st, err := h.Store.StaffGet(ctx, pend.StaffID)
	if errors.Is(err, store.ErrNotFound) {
		return Redirect(c, "/admin/login?expired=1")
	} else if err != nil {
		return err
	}
	_ = h.Limiter.Reset(ctx, l.SigninAccount, acctKey)
	metrics.SignIn("staff_totp", metrics.Success)
	return h.staffSignedIn(c, st, pend.ReturnTo)
}

// pendingTOTPKey returns the unconfirmed TOTP key of this staff session, creating (and keeping,
// sealed, in Redis for auth.TOTPEnrolTTL) a fresh one when create is set. Nil when none.
func (h *Handlers) pendingTOTPKey(ctx context.Context, sess *auth.Session, st *store.Staff, issuer string, create bool) (*otp.Key, error) {
	slug := totpSealSlug(st.ID, true)
	sealed, err := h.TOTP.Enrolment(ctx, sess.ID)
	if err != nil {
		return nil, err
	}
	if sealed != nil {
		if m, err := h.TOTPSealer.Open(slug, sealed); err == nil && m["url"] != "" {
			if key, err := otp.NewKeyFromURL(m["url"]); err == nil {
				return key, nil
			}
		}
	}
	if !create {
		return nil, nil
	}
	key, err := auth.NewTOTPKey(issuer, st.Email)
	if err != nil {
		return nil, err
	}
	if sealed, err = h.TOTPSealer.Seal(slug, map[string]string{"url": key.URL()}); err != nil {
		return nil, err
	}
	return key, h.TOTP.PutEnrolment(ctx, sess.ID, sealed)
}

// renderTOTPAccount renders admin/totp: the enrol form (with key) or the disable form.
func (h *Handlers) renderTOTPAccount(c *fiber.Ctx, status int, p *Page, enabled bool, key *otp.Key, errText string) error {
	d := totpAccount{Enabled: enabled, Error: errText}
	if key != nil {
		d.URL, d.Secret = key.URL(), key.Secret()
		if img, err := key.Image(240, 240); err == nil {
			var buf bytes.Buffer
			if png.Encode(&buf, img) == nil {
				// A PNG we encoded ourselves: safe as an img src (the CSP allows img-src data:).
				d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
			}
		}
	}
	p.Title, p.Data = p.T("TOTPTitle"), d
	switch c.Query("flash") {
	case "enabled":
		p.Flash = p.T("TOTPEnabledFlash")
	case "disabled":
		p.Flash = p.T("TOTPDisabledFlash")
	case "expired":
		p.Flash = p.T("TOTPEnrolExpired")
	}
	return h.renderAdmin(c, status, "admin/totp", p)
}

// StaffTOTPShow shows the signed-in staff user's second factor (GET /admin/account/totp): when
// off, a new secret (otpauth:// URL, base32 text, QR code) waiting in this session for a
// confirming code; when on, the form that turns it off.
func (h *Handlers) StaffTOTPShow(c *fiber.Ctx) error {
	ctx := c.UserContext()
	st := StaffOf(c)
	tf, err := h.Store.StaffTOTPGet(ctx, st.ID)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	if tf.Enabled() {
		return h.renderTOTPAccount(c, fiber.StatusOK, p, true, nil, "")
	}
	key, err := h.pendingTOTPKey(ctx, SessionOf(c), st, p.PortalTitle, true)
	if err != nil {
		return err
	}
	return h.renderTOTPAccount(c, fiber.StatusOK, p, false, key, "")
}

// StaffTOTPEnable confirms the pending secret with a code from the app and turns TOTP on
// (POST /admin/account/totp). Wrong code: 422 with the same secret. No pending secret
// (expired): 303 back to the page with a new one.
func (h *Handlers) StaffTOTPEnable(c *fiber.Ctx) error {
	ctx := c.UserContext()
	st, sess := StaffOf(c), SessionOf(c)
	tf, err := h.Store.StaffTOTPGet(ctx, st.ID)
	if err != nil {
		return err
	}
	if tf.Enabled() {
		return Redirect(c, "/admin/account/totp")
	}
	p := h.newPage(c, "", nil)
	key, err := h.pendingTOTPKey(ctx, sess, st, p.PortalTitle, false)
	if err != nil {
		return err
	}
	if key == nil {
		return Redirect(c, "/admin/account/totp?flash=expired")
	}
	step, ok := auth.TOTPVerify(key.Secret(), c.FormValue("code"), time.Now(), 0)
	if !ok {
		return h.renderTOTPAccount(c, fiber.StatusUnprocessableEntity, p, false, key, p.T("TOTPWrongCode"))
	}
	sealed, err := h.TOTPSealer.Seal(totpSealSlug(st.ID, false), map[string]string{"secret": key.Secret()})
	if err != nil {
		return err
	}
	if err := h.Store.StaffTOTPEnable(ctx, *st, st.ID, sealed, step); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	_ = h.TOTP.DropEnrolment(ctx, sess.ID)
	// A second factor is a privilege change: every other session of this staff user (signed in
	// with the password alone) ends, and this one continues under a new id.
	if _, err := h.Sessions.RevokeAll(ctx, auth.KindStaff, st.ID); err != nil {
		return err
	}
	fresh, err := h.Sessions.Create(ctx, auth.KindStaff, st.ID, SettingsOf(c).IdleTimeout)
	if err != nil {
		return err
	}
	h.setSessionCookie(c, fresh.ID)
	SetSession(c, fresh)
	Log(c).Info("staff totp enabled", "staff_id", st.ID)
	return Redirect(c, "/admin/account/totp?flash=enabled")
}

// StaffTOTPDisable turns TOTP off with a current code (POST /admin/account/totp/disable). The
// code is single-use like a sign-in code; wrong codes count against the sign-in limits (422
// with the error; 429 once blocked).
func (h *Handlers) StaffTOTPDisable(c *fiber.Ctx) error {
	ctx := c.UserContext()
	st := StaffOf(c)
	tf, err := h.Store.StaffTOTPGet(ctx, st.ID)
	if err != nil {
		return err
	}
	if !tf.Enabled() {
		return Redirect(c, "/admin/account/totp")
	}
	p := h.newPage(c, "", nil)
	l := h.Limits
	acctKey, ipKey := "staff:"+auth.AccountKey(st.Email), auth.IPKey(c.IP())
	if wait, err := h.Limiter.Check(ctx, l.SigninAccount, acctKey, l.SigninIP, ipKey); err != nil {
		return err
	} else if wait > 0 {
		c.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return h.renderTOTPAccount(c, fiber.StatusTooManyRequests, p, true, nil, p.T("TryAgainInMinutes", "Minutes", auth.Minutes(wait)))
	}
	secret, err := h.staffTOTPSecret(st.ID, tf)
	if err != nil {
		return err
	}
	step, ok := auth.TOTPVerify(secret, c.FormValue("code"), time.Now(), tf.LastStep)
	if ok {
		if ok, err = h.Store.StaffTOTPUseStep(ctx, st.ID, step); err != nil {
			return err
		}
	}
	if !ok {
		if _, err := h.Limiter.Hit(ctx, l.SigninAccount, acctKey); err != nil {
			return err
		}
		if _, err := h.Limiter.Hit(ctx, l.SigninIP, ipKey); err != nil {
			return err
		}
		return h.renderTOTPAccount(c, fiber.StatusUnprocessableEntity, p, true, nil, p.T("TOTPWrongCode"))
	}
	if err := h.Store.StaffTOTPDisable(ctx, *st, st.ID); err != nil {
		return err
	}
	Log(c).Info("staff totp disabled", "staff_id", st.ID)
	return Redirect(c, "/admin/account/totp?flash=disabled")
}
