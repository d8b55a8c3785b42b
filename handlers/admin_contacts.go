package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// AdminContactList searches contacts (GET /admin/contacts?q=).
func (h *Handlers) AdminContactList(c *fiber.Ctx) error {
	q := c.Query("q")
	cs, err := h.Store.ContactSearch(c.UserContext(), q, 100)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	data := map[string]any{"Q": q, "Contacts": cs}
	if s := StaffOf(c); s != nil && s.IsAdmin() { // deletion requests wait for an admin (issue 16.6)
		reqs, err := h.Store.ErasureRequestList(c.UserContext())
		if err != nil {
			return err
		}
		if len(reqs) > 0 {
			data["Pending"] = p.T("PrivacyPending", "Count", len(reqs))
		}
	}
	p.Title, p.Data = p.T("Contacts"), data
	return h.renderAdmin(c, fiber.StatusOK, "admin/contacts", p)
}

// AdminContactShow shows a contact with tickets, timeline and the edit form (GET /admin/contacts/:id).
func (h *Handlers) AdminContactShow(c *fiber.Ctx) error {
	return h.contactPage(c, fiber.StatusOK, nil)
}

func (h *Handlers) contactPage(c *fiber.Ctx, status int, f *recordForm) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ct, err := h.Store.ContactGet(ctx, id)
	if err != nil {
		return err
	}
	tickets, err := h.Store.ContactTicketsForStaff(ctx, id)
	if err != nil {
		return err
	}
	tl, err := h.Store.ContactTimeline(ctx, id)
	if err != nil {
		return err
	}
	p := h.newPage(c, ct.Name, nil)
	requested := ""
	if at, err := h.Store.ContactErasureRequested(ctx, id); err != nil {
		return err
	} else if at != nil {
		requested, _ = p.Locale.Times(*at)
	}
	if store.IsErasedAddress(ct.Email) {
		p.Title, ct.Name, ct.Email = p.T("DeletedContact"), p.T("DeletedContact"), ""
	}
	if f == nil {
		ff := newRecordForm()
		ff.Values["email"], ff.Values["name"], ff.Values["company"] = ct.Email, ct.Name, ct.CompanyName
		f = &ff
	}
	type event struct{ Kind, Summary, Href, Time, TimeISO string }
	var events []event
	for _, e := range tl {
		ev := event{Kind: tOr(p, "Event_"+e.Kind, e.Kind), Summary: e.Summary}
		if e.TicketID != 0 {
			ev.Href = "/admin/inbox/" + strconv.FormatInt(e.TicketID, 10)
		}
		ev.Time, ev.TimeISO = p.Locale.Times(e.At)
		events = append(events, ev)
	}
	p.Data = map[string]any{"Contact": ct, "Form": f, "Tickets": h.ticketRows(p, tickets), "Timeline": events,
		"Saved": c.Query("saved") == "1", "Action": "/admin/contacts/" + strconv.FormatInt(id, 10),
		"InviteAction": "/admin/contacts/" + strconv.FormatInt(id, 10) + "/invite", "Invite": c.Query("invite"),
		"ErasureRequested": requested, "Erased": store.IsErasedAddress(ct.Email) || ct.Email == ""}
	return h.renderAdmin(c, status, "admin/contact", p)
}

// AdminContactUpdate edits a contact's name, email and primary company (POST /admin/contacts/:id).
func (h *Handlers) AdminContactUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := newRecordForm()
	for _, k := range []string{"email", "name", "company"} {
		f.Values[k] = c.FormValue(k)
	}
	revoke, err := h.Store.ContactUpdateByStaff(c.UserContext(), *StaffOf(c), id, f.Values["email"], f.Values["name"], f.Values["company"])
	if err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "email") {
			return h.contactPage(c, fiber.StatusUnprocessableEntity, &f)
		}
		return err
	}
	if revoke { // a new address or company: sessions opened under the old one end
		if _, err := h.Sessions.RevokeAll(c.UserContext(), auth.KindContact, id); err != nil {
			return err
		}
	}
	return Redirect(c, "/admin/contacts/"+strconv.FormatInt(id, 10)+"?saved=1")
}

// AdminContactInviteResend mails the contact a fresh registration link (POST
// /admin/contacts/:id/invite, admins only): in access-group mode, for a member of a chosen group
// without an active account; the pending link is voided. 303 back with invite=sent or
// invite=none (nothing to send).
func (h *Handlers) AdminContactInviteResend(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sent, err := h.Store.AccountInviteResend(c.UserContext(), id)
	if err != nil {
		return err
	}
	result := "none"
	if sent {
		result = "sent"
	}
	return Redirect(c, "/admin/contacts/"+strconv.FormatInt(id, 10)+"?invite="+result)
}
