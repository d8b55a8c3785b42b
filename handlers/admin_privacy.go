package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// AdminPrivacyList lists the customers' open deletion requests (GET /admin/privacy, admins),
// oldest first, each linking to the contact's erasure page. ?erased=N reports the erasure just
// done (N tickets kept).
func (h *Handlers) AdminPrivacyList(c *fiber.Ctx) error {
	reqs, err := h.Store.ErasureRequestList(c.UserContext())
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	type row struct {
		Name, Email, Href, At, AtISO string
	}
	rows := make([]row, len(reqs))
	for i, r := range reqs {
		rows[i] = row{Name: r.Name, Email: r.Email, Href: "/admin/contacts/" + strconv.FormatInt(r.ContactID, 10) + "/erase"}
		rows[i].At, rows[i].AtISO = p.Locale.Times(r.RequestedAt)
	}
	if rows == nil {
		rows = []row{}
	}
	data := map[string]any{"Requests": rows}
	if n, err := strconv.Atoi(c.Query("erased")); err == nil && n >= 0 {
		data["Erased"] = p.T("ErasedNotice", "Count", n)
	}
	p.Title, p.Data = p.T("PrivacyRequests"), data
	return h.renderAdmin(c, fiber.StatusOK, "admin/privacy", p)
}

// eraseView is the confirmation page of an erasure.
type eraseView struct {
	Preview     store.ErasurePreview
	Form        recordForm
	Action      string
	Back        string
	Requested   string
	RequestedAt string
}

// AdminContactErasePage shows what erasing the contact does and asks for confirmation (GET
// /admin/contacts/:id/erase, admins). An erased or unknown contact: 404.
func (h *Handlers) AdminContactErasePage(c *fiber.Ctx) error {
	f := newRecordForm()
	return h.erasePage(c, fiber.StatusOK, f)
}

func (h *Handlers) erasePage(c *fiber.Ctx, status int, f recordForm) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	pv, err := h.Store.ContactErasurePreview(ctx, id)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	v := eraseView{Preview: pv, Form: f, Action: "/admin/contacts/" + strconv.FormatInt(id, 10) + "/erase",
		Back: "/admin/contacts/" + strconv.FormatInt(id, 10)}
	at, err := h.Store.ContactErasureRequested(ctx, id)
	if err != nil {
		return err
	}
	if at != nil {
		v.Requested, v.RequestedAt = p.Locale.Times(*at)
	}
	p.Title, p.Data = p.T("EraseHeading", "Name", pv.Contact.Name), v
	return h.renderAdmin(c, status, "admin/contact_erase", p)
}

// AdminContactErase erases the contact (POST /admin/contacts/:id/erase, admins) once the admin
// typed the contact's address into confirm_email (else 422 with the message beside the
// field); delete_tickets=yes also deletes the tickets the contact requested that belong to no
// company. Every session of the contact ends. 303 to the privacy requests with the result.
func (h *Handlers) AdminContactErase(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ct, err := h.Store.ContactGet(ctx, id)
	if err != nil {
		return err
	}
	f := newRecordForm()
	f.Values["confirm_email"] = strings.TrimSpace(c.FormValue("confirm_email"))
	f.Values["delete_tickets"] = c.FormValue("delete_tickets")
	if store.IsErasedAddress(ct.Email) {
		return fiber.ErrNotFound
	}
	if !strings.EqualFold(f.Values["confirm_email"], ct.Email) {
		p := h.newPage(c, "", nil)
		f.Errors["confirm_email"] = p.T("EraseConfirmMismatch")
		return h.erasePage(c, fiber.StatusUnprocessableEntity, f)
	}
	rep, err := h.Store.ContactErase(ctx, *StaffOf(c), id, store.ErasureOptions{DeleteTickets: f.Values["delete_tickets"] == "yes"})
	if err != nil {
		return err
	}
	// Best effort: a session this misses ends on its next request (the session path refuses an
	// erased contact, Store.ContactGetSignedIn), so a Redis hiccup never leaves the erasure
	// half-done or answers an error for an erasure that happened.
	if _, err := h.Sessions.RevokeAll(ctx, auth.KindContact, id); err != nil {
		h.Log.Warn("erased contact's sessions not ended now; they end on their next request", "contact", id, "err", err)
	}
	return Redirect(c, "/admin/privacy?erased="+strconv.Itoa(rep.TicketsKept))
}
