package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// AdminInboxList lists inboxes (GET /admin/inboxes).
func (h *Handlers) AdminInboxList(c *fiber.Ctx) error { return h.inboxesPage(c, fiber.StatusOK, nil) }

func (h *Handlers) inboxesPage(c *fiber.Ctx, status int, f *recordForm) error {
	is, err := h.Store.InboxList(c.UserContext())
	if err != nil {
		return err
	}
	if f == nil {
		ff := newRecordForm()
		f = &ff
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("Inboxes"), map[string]any{"Inboxes": is, "Form": f, "Saved": c.Query("saved") == "1"}
	return h.renderAdmin(c, status, "admin/inboxes", p)
}

// AdminInboxCreate creates an inbox (POST /admin/inboxes, field name).
func (h *Handlers) AdminInboxCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if _, err := h.Store.InboxCreate(c.UserContext(), *StaffOf(c), f.Values["name"]); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.inboxesPage(c, fiber.StatusUnprocessableEntity, &f)
		}
		return err
	}
	return Redirect(c, "/admin/inboxes?saved=1")
}

// AdminInboxDefault makes an inbox the default (POST /admin/inboxes/:id/default).
func (h *Handlers) AdminInboxDefault(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.InboxSetDefault(c.UserContext(), *StaffOf(c), id); err != nil {
		return err
	}
	return Redirect(c, "/admin/inboxes?saved=1")
}
