package handlers

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/metrics"
	"portico/sql/store"
)

// accountForm is the view model of every getting-in form (register, forgot password, sign-in
// link, set password, account): what was typed (never a password), per-field errors (already
// translated) and one form-level message.
type accountForm struct {
	Heading, Help string
	Values        map[string]string
	Errors        map[string]string
	Error         string
	Notice        string
	// Token is the one-time link token carried by set-password and confirm forms.
	Token string
	// Consent is the consent text shown with a required checkbox ("" = none).
	Consent string
	// Action is the form's target; Mode tells shared templates which form they show.
	Action, Mode string
	// SelfRegistration shows "Register here" on the sign-in page.
	SelfRegistration bool
	// Languages are the choices of the account page's language field.
	Languages []string
}

func newAccountForm() accountForm {
	return accountForm{Values: map[string]string{}, Errors: map[string]string{}}
}

// noticeView is the view model of pages/account_message.html: a heading, a text and a link.
type noticeView struct {
	Heading, Text, Href, LinkText string
}

// systemText returns the admin's heading and help for page, else the translated defaults.
func (h *Handlers) systemText(c *fiber.Ctx, p *Page, page store.SystemPage, headingID, helpID string) (string, string) {
	t := SettingsOf(c).Page(page)
	if t.Heading == "" {
		t.Heading = p.T(headingID)
	}
	if t.Help == "" && helpID != "" {
		t.Help = p.T(helpID)
	}
	return t.Heading, t.Help
}

// tokenPage marks a page that carries a one-time token: the token never leaves in a Referer.
func tokenPage(c *fiber.Ctx) { c.Set("Referrer-Policy", "no-referrer") }

// message renders the generic message page with status.
func (h *Handlers) message(c *fiber.Ctx, status int, v noticeView) error {
	p := h.newPage(c, v.Heading, v)
	return h.renderPage(c, status, "pages/account_message", p)
}

// tooMany answers a throttled request: status 429 and the form again with "try again in N
// minutes", the same whether or not the address has an account.
func (h *Handlers) tooMany(c *fiber.Ctx, tmpl string, p *Page, f accountForm, wait time.Duration) error {
	c.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	f.Error = p.T("TryAgainInMinutes", "Minutes", auth.Minutes(wait))
	p.Data = f
	return h.renderPage(c, fiber.StatusTooManyRequests, tmpl, p)
}

// mailLimited counts a mail request for email and the client IP and reports how long the
// client must wait when either limit is spent (0 = go ahead).
func (h *Handlers) mailLimited(c *fiber.Ctx, email string) (time.Duration, error) {
	ctx := c.UserContext()
	l := h.Limits
	wait, err := h.Limiter.Check(ctx, l.MailAccount, auth.AccountKey(email), l.MailIP, auth.IPKey(c.IP()))
	if err != nil || wait > 0 {
		return wait, err
	}
	if _, err := h.Limiter.Hit(ctx, l.MailAccount, auth.AccountKey(email)); err != nil {
		return 0, err
	}
	_, err = h.Limiter.Hit(ctx, l.MailIP, auth.IPKey(c.IP()))
	return 0, err
}

// signInContact opens a session for contact id after a completed sign-in (a password, a
// sign-in link, a confirmed registration): the pre-sign-in session is destroyed and a new id
// issued (OWASP Session Management: renew at authentication).
func (h *Handlers) signInContact(c *fiber.Ctx, id int64) error {
	ctx := c.UserContext()
	_ = h.Sessions.Destroy(ctx, SessionOf(c))
	sess, err := h.Sessions.Create(ctx, auth.KindContact, id, SettingsOf(c).IdleTimeout)
	if err != nil {
		return err
	}
	h.setSessionCookie(c, sess.ID)
	SetSession(c, sess)
	_ = h.Store.AccountSignedIn(ctx, id, sess.CreatedAt)
	Log(c).Info("signed in", "contact_id", id)
	return nil
}

// accessDenied renders the access-denied system page (403).
func (h *Handlers) accessDenied(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	head, help := h.systemText(c, p, store.PageAccessDenied, "AccessDeniedHeading", "AccessDeniedHelp")
	return h.message(c, fiber.StatusForbidden, noticeView{Heading: head, Text: help, Href: "/login", LinkText: p.T("BackToSignIn")})
}

// PortalUnavailable renders the "portal unavailable" system page (503) shown while the portal
// switch is off.
func (h *Handlers) PortalUnavailable(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	head, help := h.systemText(c, p, store.PageUnavailable, "UnavailableHeading", "UnavailableHelp")
	c.Set("Retry-After", "3600")
	return h.message(c, fiber.StatusServiceUnavailable, noticeView{Heading: head, Text: help})
}

// linkInvalid renders the answer to a bad, used or expired link of purpose (410 Gone): one page
// for all three, so a link's history is not told. It offers the page that asks for a new link
// of the same kind.
func (h *Handlers) linkInvalid(c *fiber.Ctx, purpose string) error {
	p := h.newPage(c, "", nil)
	return h.message(c, fiber.StatusGone, noticeView{Heading: p.T("LinkInvalidHeading"), Text: p.T("LinkInvalidText"),
		Href: newLinkPage(purpose), LinkText: p.T("RequestNewLink")})
}

// newLinkPage is where a customer asks again for a link of purpose: a sign-in link at
// /login/link, an email confirmation by registering again, a password reset (and anything
// else) at /password/forgot.
func newLinkPage(purpose string) string {
	switch purpose {
	case store.PurposeMagic:
		return "/login/link"
	case store.PurposeVerify:
		return "/register"
	case store.PurposeSSOConfirm:
		return "/login"
	}
	return "/password/forgot"
}

// checkEmail renders the "check your email" page every mail request ends on.
func (h *Handlers) checkEmail(c *fiber.Ctx, textID string) error {
	p := h.newPage(c, "", nil)
	return h.message(c, fiber.StatusOK, noticeView{Heading: p.T("CheckEmailHeading"), Text: p.T(textID),
		Href: "/login", LinkText: p.T("BackToSignIn")})
}

// ---- Self-registration ----

// RegisterPage shows the registration form (GET /register). In access-group mode registration
// is by invitation only: the page says so.
func (h *Handlers) RegisterPage(c *fiber.Ctx) error {
	return h.renderRegister(c, fiber.StatusOK, newAccountForm())
}

func (h *Handlers) renderRegister(c *fiber.Ctx, status int, f accountForm) error {
	p := h.newPage(c, "", nil)
	st := SettingsOf(c)
	if st.SigninMethod != store.SigninSelfRegistration {
		return h.message(c, fiber.StatusNotFound, noticeView{Heading: p.T("RegisterClosedHeading"), Text: p.T("RegisterClosedText"),
			Href: "/login", LinkText: p.T("BackToSignIn")})
	}
	f.Heading, f.Help = h.systemText(c, p, store.PageRegister, "RegisterHeading", "RegisterHelp")
	f.Consent = st.ConsentText
	p.Title, p.Data = f.Heading, f
	return h.renderPage(c, status, "pages/register", p)
}

// RegisterCreate handles the registration form (POST /register): validated fields come back
// with their messages (422); a valid request answers with the same "check your email" page
// whether the address is new or already has an account (the mails differ).
func (h *Handlers) RegisterCreate(c *fiber.Ctx) error {
	if SettingsOf(c).SigninMethod != store.SigninSelfRegistration {
		return h.RegisterPage(c)
	}
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	f.Values["name"] = strings.TrimSpace(c.FormValue("name"))
	f.Values["email"] = strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	consent := SettingsOf(c).ConsentText
	email, err := store.NormalizeEmail(f.Values["email"])
	if err != nil {
		f.Errors["email"] = p.T("EmailInvalid")
	}
	if n := f.Values["name"]; n == "" || len([]rune(n)) > 200 {
		f.Errors["name"] = p.T("NameInvalid")
	}
	if msg := auth.CheckNewPassword(password); msg != "" {
		f.Errors["password"] = p.T(msg, "Min", auth.MinPasswordRunes, "Max", auth.MaxPasswordRunes)
	}
	if consent != "" && c.FormValue("consent") != "yes" {
		f.Errors["consent"] = p.T("ConsentRequired")
	}
	if len(f.Errors) > 0 {
		return h.renderRegister(c, fiber.StatusUnprocessableEntity, f)
	}
	if wait, err := h.mailLimited(c, email); err != nil {
		return err
	} else if wait > 0 {
		f.Heading, f.Help = h.systemText(c, p, store.PageRegister, "RegisterHeading", "RegisterHelp")
		f.Consent = consent
		p.Title = f.Heading
		return h.tooMany(c, "pages/register", p, f, wait)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	err = h.Store.AccountRegister(c.UserContext(), store.Registration{Email: email, Name: f.Values["name"],
		PasswordHash: hash, Consent: consent, Lang: LocaleOf(c).Lang})
	if err != nil {
		return err
	}
	return Redirect(c, "/register/sent")
}

// RegisterSent shows "check your email" after a registration (GET /register/sent).
func (h *Handlers) RegisterSent(c *fiber.Ctx) error { return h.checkEmail(c, "CheckEmailRegister") }

// confirmPage shows a one-button form that uses a link's token (GET): opening a link never
// uses it up, so mail scanners that fetch links do no harm; the button's POST does.
func (h *Handlers) confirmPage(c *fiber.Ctx, purpose, action, headingID, textID, buttonID string) error {
	tokenPage(c)
	tok := c.Query("token")
	if _, err := h.Store.AccountTokenCheck(c.UserContext(), purpose, tok); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return h.linkInvalid(c, purpose)
		}
		return err
	}
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	f.Token, f.Action, f.Heading, f.Help, f.Mode = tok, action, p.T(headingID), p.T(textID), p.T(buttonID)
	p.Title, p.Data = f.Heading, f
	return h.renderPage(c, fiber.StatusOK, "pages/account_confirm", p)
}

// RegisterConfirmPage shows the email-confirmation button (GET /register/confirm?token=).
func (h *Handlers) RegisterConfirmPage(c *fiber.Ctx) error {
	return h.confirmPage(c, store.PurposeVerify, "/register/confirm", "ConfirmEmailHeading", "ConfirmEmailText", "ConfirmEmailButton")
}

// RegisterConfirm completes a self-registration (POST /register/confirm): the account is
// activated and the customer signed in (a fresh session) and sent to the ticket list.
func (h *Handlers) RegisterConfirm(c *fiber.Ctx) error {
	tokenPage(c)
	ct, err := h.Store.AccountVerify(c.UserContext(), c.FormValue("token"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h.linkInvalid(c, store.PurposeVerify)
	case errors.Is(err, store.ErrConflict):
		return Redirect(c, "/login")
	case err != nil:
		return err
	}
	return h.completeSignIn(c, ct.ID)
}

// completeSignIn applies the access rules and signs the contact in, then goes to /tickets.
func (h *Handlers) completeSignIn(c *fiber.Ctx, id int64) error {
	ok, err := h.Store.AccountAllowed(c.UserContext(), id, SettingsOf(c))
	if err != nil {
		return err
	}
	if !ok {
		metrics.SignIn("link", metrics.Denied)
		return h.accessDenied(c)
	}
	if err := h.signInContact(c, id); err != nil {
		return err
	}
	metrics.SignIn("link", metrics.Success)
	return Redirect(c, "/tickets")
}

// ---- Set a password from a link (access-group invitation, reset) ----

func (h *Handlers) setPasswordPage(c *fiber.Ctx, status int, purpose string, f accountForm) error {
	tokenPage(c)
	p := h.newPage(c, "", nil)
	if purpose == store.PurposeInvite {
		f.Heading, f.Help = p.T("InviteHeading"), p.T("InviteHelp")
		f.Action = "/register/invite"
	} else {
		f.Heading, f.Help = h.systemText(c, p, store.PageReset, "ResetHeading", "ResetHelp")
		f.Action = "/password/reset"
	}
	p.Title, p.Data = f.Heading, f
	return h.renderPage(c, status, "pages/account_set_password", p)
}

func (h *Handlers) setPasswordShow(c *fiber.Ctx, purpose string) error {
	tokenPage(c)
	tok := c.Query("token")
	if _, err := h.Store.AccountTokenCheck(c.UserContext(), purpose, tok); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return h.linkInvalid(c, purpose)
		}
		return err
	}
	f := newAccountForm()
	f.Token = tok
	return h.setPasswordPage(c, fiber.StatusOK, purpose, f)
}

func (h *Handlers) setPasswordSubmit(c *fiber.Ctx, purpose string) error {
	tokenPage(c)
	ctx := c.UserContext()
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	f.Token = c.FormValue("token")
	password := c.FormValue("password")
	if msg := auth.CheckNewPassword(password); msg != "" {
		if _, err := h.Store.AccountTokenCheck(ctx, purpose, f.Token); err != nil {
			return h.linkInvalid(c, purpose)
		}
		f.Errors["password"] = p.T(msg, "Min", auth.MinPasswordRunes, "Max", auth.MaxPasswordRunes)
		return h.setPasswordPage(c, fiber.StatusUnprocessableEntity, purpose, f)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	ct, err := h.Store.AccountSetPasswordByToken(ctx, purpose, f.Token, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h.linkInvalid(c, purpose)
	case errors.Is(err, store.ErrConflict):
		return h.accessDenied(c)
	case err != nil:
		return err
	}
	// Every existing session of the account ends (a reset means the old password may be known).
	if _, err := h.Sessions.RevokeAll(ctx, auth.KindContact, ct.ID); err != nil {
		return err
	}
	if purpose == store.PurposeInvite {
		return h.completeSignIn(c, ct.ID)
	}
	// No automatic sign-in after a reset (OWASP Forgot Password Cheat Sheet).
	return Redirect(c, "/login?reset=1")
}

// InvitePage shows the set-your-password form of an access-group registration link
// (GET /register/invite?token=).
func (h *Handlers) InvitePage(c *fiber.Ctx) error { return h.setPasswordShow(c, store.PurposeInvite) }

// InviteAccept sets the first password and signs the member in (POST /register/invite).
func (h *Handlers) InviteAccept(c *fiber.Ctx) error {
	return h.setPasswordSubmit(c, store.PurposeInvite)
}

// PasswordResetPage shows the new-password form of a reset link (GET /password/reset?token=).
func (h *Handlers) PasswordResetPage(c *fiber.Ctx) error {
	return h.setPasswordShow(c, store.PurposeReset)
}

// PasswordReset sets the new password, ends every session of the account and sends the
// customer to sign in (POST /password/reset).
func (h *Handlers) PasswordReset(c *fiber.Ctx) error {
	return h.setPasswordSubmit(c, store.PurposeReset)
}

// ---- Forgotten password and sign-in link requests ----

func (h *Handlers) requestPage(c *fiber.Ctx, status int, mode string, f accountForm) error {
	p := h.newPage(c, "", nil)
	f.Mode = mode
	if mode == "magic" {
		f.Heading, f.Help, f.Action = p.T("MagicHeading"), p.T("MagicHelp"), "/login/link"
	} else {
		f.Heading, f.Help = h.systemText(c, p, store.PageResetRequest, "ForgotHeading", "ForgotHelp")
		f.Action = "/password/forgot"
	}
	p.Title, p.Data = f.Heading, f
	return h.renderPage(c, status, "pages/account_request", p)
}

func (h *Handlers) requestSubmit(c *fiber.Ctx, mode string) error {
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	f.Values["email"] = strings.TrimSpace(c.FormValue("email"))
	email, err := store.NormalizeEmail(f.Values["email"])
	if err != nil {
		f.Errors["email"] = p.T("EmailInvalid")
		return h.requestPage(c, fiber.StatusUnprocessableEntity, mode, f)
	}
	if wait, err := h.mailLimited(c, email); err != nil {
		return err
	} else if wait > 0 {
		f.Mode = mode
		if mode == "magic" {
			f.Heading, f.Help, f.Action = p.T("MagicHeading"), p.T("MagicHelp"), "/login/link"
		} else {
			f.Heading, f.Help = h.systemText(c, p, store.PageResetRequest, "ForgotHeading", "ForgotHelp")
			f.Action = "/password/forgot"
		}
		p.Title = f.Heading
		return h.tooMany(c, "pages/account_request", p, f, wait)
	}
	lang := LocaleOf(c).Lang
	if mode == "magic" {
		err = h.Store.AccountMagicLinkRequest(c.UserContext(), email, lang)
	} else {
		err = h.Store.AccountPasswordResetRequest(c.UserContext(), email, lang)
	}
	if err != nil {
		return err
	}
	if mode == "magic" {
		return Redirect(c, "/login/link/sent")
	}
	return Redirect(c, "/password/forgot/sent")
}

// PasswordForgotPage shows the reset request form (GET /password/forgot).
func (h *Handlers) PasswordForgotPage(c *fiber.Ctx) error {
	return h.requestPage(c, fiber.StatusOK, "reset", newAccountForm())
}

// PasswordForgot mails a reset link when the address has an account and answers the same in
// every case (POST /password/forgot).
func (h *Handlers) PasswordForgot(c *fiber.Ctx) error { return h.requestSubmit(c, "reset") }

// PasswordForgotSent shows "check your email" (GET /password/forgot/sent).
func (h *Handlers) PasswordForgotSent(c *fiber.Ctx) error { return h.checkEmail(c, "CheckEmailReset") }

// MagicLinkPage shows "Email me a sign-in link" (GET /login/link).
func (h *Handlers) MagicLinkPage(c *fiber.Ctx) error {
	return h.requestPage(c, fiber.StatusOK, "magic", newAccountForm())
}

// MagicLinkCreate mails a sign-in link (15 minutes, single use) when the address has an
// account, answering the same in every case (POST /login/link).
func (h *Handlers) MagicLinkCreate(c *fiber.Ctx) error { return h.requestSubmit(c, "magic") }

// MagicLinkSent shows "check your email" (GET /login/link/sent).
func (h *Handlers) MagicLinkSent(c *fiber.Ctx) error { return h.checkEmail(c, "CheckEmailMagic") }

// MagicLinkConfirmPage shows the sign-in button of a sign-in link (GET /login/link/confirm?token=).
func (h *Handlers) MagicLinkConfirmPage(c *fiber.Ctx) error {
	return h.confirmPage(c, store.PurposeMagic, "/login/link/confirm", "MagicConfirmHeading", "MagicConfirmText", "SignIn")
}

// MagicLinkConfirm uses the link and signs the customer in (POST /login/link/confirm).
func (h *Handlers) MagicLinkConfirm(c *fiber.Ctx) error {
	tokenPage(c)
	ct, err := h.Store.AccountMagicSignIn(c.UserContext(), c.FormValue("token"))
	if errors.Is(err, store.ErrNotFound) {
		return h.linkInvalid(c, store.PurposeMagic)
	}
	if err != nil {
		return err
	}
	l := h.Limits
	_ = h.Limiter.Reset(c.UserContext(), l.SigninAccount, auth.AccountKey(ct.Email))
	return h.completeSignIn(c, ct.ID)
}
