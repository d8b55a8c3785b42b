package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// accountView is the account page: the profile form and the password form, each with its
// own values and errors.
type accountView struct {
	Profile, Password accountForm
	Notice            string
	// HasPassword is false for a contact without a password (SSO only): no change form then.
	HasPassword bool
	// Export is the "Your data" box, Deletion the "Delete my account" box (issue 16.6).
	Export   exportView
	Deletion deletionView
}

func (h *Handlers) accountPage(c *fiber.Ctx, status int, v accountView) error {
	p := h.newPage(c, "", nil)
	ct := ContactOf(c)
	if v.Profile.Values == nil {
		v.Profile = newAccountForm()
		v.Profile.Values["name"] = ct.Name
		v.Profile.Values["language"] = ct.Language
	}
	if v.Password.Values == nil {
		v.Password = newAccountForm()
	}
	v.Profile.Languages = h.Catalogue.Languages()
	hash, err := h.Store.AccountPasswordHash(c.UserContext(), ct.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	v.HasPassword = hash != ""
	if v.Export, err = h.exportViewOf(c, p, ct.ID); err != nil {
		return err
	}
	if v.Deletion, err = h.deletionViewOf(c, p, ct.ID); err != nil {
		return err
	}
	p.Title, p.Data = p.T("AccountHeading"), v
	return h.renderPage(c, status, "pages/account", p)
}

// AccountShow shows the account page (GET /account): name, language, change password and
// "sign out everywhere".
func (h *Handlers) AccountShow(c *fiber.Ctx) error {
	v := accountView{}
	p := h.newPage(c, "", nil)
	switch c.Query("done") {
	case "profile":
		v.Notice = p.T("AccountSaved")
	case "password":
		v.Notice = p.T("PasswordChanged")
	case "export":
		v.Notice = p.T("ExportQueuedNotice")
	case "deletion":
		v.Notice = p.T("DeletionRequestedNotice")
	case "withdrawn":
		v.Notice = p.T("DeletionWithdrawnNotice")
	}
	return h.accountPage(c, fiber.StatusOK, v)
}

// AccountUpdate saves name and language (POST /account).
func (h *Handlers) AccountUpdate(c *fiber.Ctx) error {
	ct := ContactOf(c)
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	f.Values["name"] = strings.TrimSpace(c.FormValue("name"))
	f.Values["language"] = c.FormValue("language")
	err := h.Store.AccountProfileUpdate(c.UserContext(), ct.ID, f.Values["name"], f.Values["language"], h.Catalogue.Languages())
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		for k, id := range ve.Fields {
			f.Errors[k] = p.T(id)
		}
		return h.accountPage(c, fiber.StatusUnprocessableEntity, accountView{Profile: f})
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/account?done=profile")
}

// AccountPasswordUpdate changes the password (POST /account/password): the current password
// is required, the new one judged like any other; every other session of the account ends.
func (h *Handlers) AccountPasswordUpdate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ct := ContactOf(c)
	p := h.newPage(c, "", nil)
	f := newAccountForm()
	current, next := c.FormValue("current_password"), c.FormValue("new_password")
	l := h.Limits
	if wait, err := h.Limiter.Check(ctx, l.SigninAccount, auth.AccountKey(ct.Email)); err != nil {
		return err
	} else if wait > 0 {
		f.Error = p.T("TryAgainInMinutes", "Minutes", auth.Minutes(wait))
		return h.accountPage(c, fiber.StatusTooManyRequests, accountView{Password: f})
	}
	hash, err := h.Store.AccountPasswordHash(ctx, ct.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if hash == "" { // no portal account or no password (SSO only): nothing to change
		f.Errors["current_password"] = p.T("PasswordNoneSSO")
		return h.accountPage(c, fiber.StatusUnprocessableEntity, accountView{Password: f})
	}
	if len(current) > 4*auth.MaxPasswordRunes || !auth.CheckPassword(current, hash) {
		_, _ = h.Limiter.Hit(ctx, l.SigninAccount, auth.AccountKey(ct.Email))
		f.Errors["current_password"] = p.T("CurrentPasswordWrong")
	}
	if msg := auth.CheckNewPassword(next); msg != "" {
		f.Errors["new_password"] = p.T(msg, "Min", auth.MinPasswordRunes, "Max", auth.MaxPasswordRunes)
	}
	if len(f.Errors) > 0 {
		return h.accountPage(c, fiber.StatusUnprocessableEntity, accountView{Password: f})
	}
	newHash, err := auth.HashPassword(next)
	if err != nil {
		return err
	}
	if err := h.Store.AccountPasswordChange(ctx, ct.ID, newHash); err != nil {
		return err
	}
	// End every session, then give this browser a fresh one (rotation at a privilege change).
	if _, err := h.Sessions.RevokeAll(ctx, auth.KindContact, ct.ID); err != nil {
		return err
	}
	if err := h.signInContact(c, ct.ID); err != nil {
		return err
	}
	return Redirect(c, "/account?done=password")
}

// AccountSignOutEverywhere ends every session of the account, this one included
// (POST /account/sign-out-everywhere).
func (h *Handlers) AccountSignOutEverywhere(c *fiber.Ctx) error {
	ct := ContactOf(c)
	if _, err := h.Sessions.RevokeAll(c.UserContext(), auth.KindContact, ct.ID); err != nil {
		return err
	}
	SetSession(c, nil)
	h.clearSessionCookie(c)
	c.Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	return Redirect(c, "/login?signed_out=all")
}
