package handlers

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// exportView is the "Your data" box of the account page (template account/export_status): the
// newest export's state, its progress and, once ready, the download link and its expiry.
type exportView struct {
	// State is "", queued, running, ready or failed ("" = never asked, or the last one expired).
	State string
	// Done and Total count the items written (tickets, attachments); Percent is Done of Total.
	Done, Total, Percent int
	// Href downloads the zip; Size and Expires describe it (ready only).
	Href, Size, Expires, ExpiresISO string
}

// exportViewOf builds the box for the contact's newest export.
func (h *Handlers) exportViewOf(c *fiber.Ctx, p *Page, contactID int64) (exportView, error) {
	e, err := h.Store.ContactExportLatest(c.UserContext(), contactID)
	if errors.Is(err, store.ErrNotFound) {
		return exportView{}, nil
	}
	if err != nil {
		return exportView{}, err
	}
	v := exportView{State: e.Status, Done: e.ItemsDone, Total: e.ItemsTotal}
	if v.Total > 0 {
		v.Percent = min(100, v.Done*100/v.Total)
	}
	switch {
	case e.Status == store.ExportReady && e.Downloadable(time.Now()):
		v.Href = "/account/exports/" + strconv.FormatInt(e.ID, 10) + "/download"
		v.Size = p.Locale.Size(e.SizeBytes)
		v.Expires, v.ExpiresISO = p.Locale.Times(e.ExpiresAt)
	case e.Status == store.ExportReady:
		v.State = "" // expired, not yet purged
	}
	return v, nil
}

// AccountExportStatus answers the "Your data" box alone (GET /account/export): the fragment
// htmx polls while an export is queued or running; without JavaScript the same URL shows the
// account page (its "Check again" link).
func (h *Handlers) AccountExportStatus(c *fiber.Ctx) error {
	VaryHTMX(c)
	if !IsHTMX(c) {
		return c.Redirect("/account#data-heading", fiber.StatusSeeOther)
	}
	p := h.newPage(c, "", nil)
	v, err := h.exportViewOf(c, p, ContactOf(c).ID)
	if err != nil {
		return err
	}
	p.Data = v
	return h.renderFragment(c, fiber.StatusOK, "account/export_status", p)
}

// AccountExportCreate queues an export of everything Portico holds about the signed-in contact
// (POST /account/export, GDPR art. 15 and 20): a background job builds the zip. An export
// already under way is not queued twice. htmx gets the box back (polling); a plain form a 303
// to the account page.
func (h *Handlers) AccountExportCreate(c *fiber.Ctx) error {
	if _, err := h.Store.ContactExportRequest(c.UserContext(), ContactOf(c).ID); err != nil {
		return err
	}
	if IsHTMX(c) {
		p := h.newPage(c, "", nil)
		v, err := h.exportViewOf(c, p, ContactOf(c).ID)
		if err != nil {
			return err
		}
		p.Data = v
		return h.renderFragment(c, fiber.StatusOK, "account/export_status", p)
	}
	return Redirect(c, "/account?done=export#data-heading")
}

// AccountExportDownload streams the contact's own ready export (GET
// /account/exports/:id/download) as a zip download. Another contact's export, an expired or
// unfinished one: 404.
func (h *Handlers) AccountExportDownload(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	e, r, err := h.Store.ContactExportOpen(c.UserContext(), ContactOf(c).ID, id)
	if err != nil {
		return err
	}
	name := "portico-data-" + e.CreatedAt.UTC().Format("2006-01-02") + ".zip"
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Set("Cache-Control", "private, no-store")
	return c.SendStream(r, int(e.SizeBytes))
}

// deletionView is the "Delete my account" box of the account page.
type deletionView struct {
	// Requested is when the contact asked to be deleted (nil = not asked).
	Requested, RequestedISO string
}

// deletionViewOf builds the box for the contact.
func (h *Handlers) deletionViewOf(c *fiber.Ctx, p *Page, contactID int64) (deletionView, error) {
	at, err := h.Store.ContactErasureRequested(c.UserContext(), contactID)
	if err != nil || at == nil {
		return deletionView{}, err
	}
	var v deletionView
	v.Requested, v.RequestedISO = p.Locale.Times(*at)
	return v, nil
}

// deletionForm is the confirmation form of a deletion request.
type deletionForm struct {
	Errors map[string]string
}

// AccountDeletePage asks the customer to confirm their deletion request (GET /account/delete).
func (h *Handlers) AccountDeletePage(c *fiber.Ctx) error {
	return h.accountDeletePage(c, fiber.StatusOK, deletionForm{Errors: map[string]string{}})
}

func (h *Handlers) accountDeletePage(c *fiber.Ctx, status int, f deletionForm) error {
	p := h.newPage(c, "", nil)
	d, err := h.deletionViewOf(c, p, ContactOf(c).ID)
	if err != nil {
		return err
	}
	if d.Requested != "" {
		return c.Redirect("/account#deletion-heading", fiber.StatusSeeOther)
	}
	p.Title, p.Data = p.T("DeletionHeading"), f
	return h.renderPage(c, status, "pages/account_delete", p)
}

// AccountDeleteCreate records the customer's request to be deleted (POST /account/delete) once
// they ticked the confirmation; admins find it in the console (Privacy requests) and erase the
// contact. Without the tick: 422 with the message beside it.
func (h *Handlers) AccountDeleteCreate(c *fiber.Ctx) error {
	if c.FormValue("confirm") != "yes" {
		p := h.newPage(c, "", nil)
		return h.accountDeletePage(c, fiber.StatusUnprocessableEntity, deletionForm{Errors: map[string]string{"confirm": p.T("DeletionConfirmRequired")}})
	}
	if err := h.Store.ContactErasureRequest(c.UserContext(), ContactOf(c).ID); err != nil {
		return err
	}
	return Redirect(c, "/account?done=deletion#deletion-heading")
}

// AccountDeleteWithdraw withdraws the customer's open deletion request (POST
// /account/delete/withdraw).
func (h *Handlers) AccountDeleteWithdraw(c *fiber.Ctx) error {
	if err := h.Store.ContactErasureWithdraw(c.UserContext(), ContactOf(c).ID); err != nil {
		return err
	}
	return Redirect(c, "/account?done=withdrawn#deletion-heading")
}

// personName returns a contact's display name, or "Deleted contact" for an erased contact
// (whose only name left is its placeholder address, see store.IsErasedAddress).
func personName(p *Page, name string) string {
	if store.IsErasedAddress(name) {
		return p.T("DeletedContact")
	}
	return name
}

// personAddress returns an address to show, "" for an erased contact's placeholder.
func personAddress(email string) string {
	if store.IsErasedAddress(email) {
		return ""
	}
	return email
}
