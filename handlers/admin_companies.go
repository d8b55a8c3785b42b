package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// AdminCompanyList lists companies (GET /admin/companies?q=).
func (h *Handlers) AdminCompanyList(c *fiber.Ctx) error {
	q := c.Query("q")
	cs, err := h.Store.CompanyList(c.UserContext(), q)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("Companies"), map[string]any{"Q": q, "Companies": cs}
	return h.renderAdmin(c, fiber.StatusOK, "admin/companies", p)
}

// AdminCompanyShow shows a company with its contacts and tickets (GET /admin/companies/:id).
func (h *Handlers) AdminCompanyShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	co, contacts, err := h.Store.CompanyGet(ctx, id)
	if err != nil {
		return err
	}
	tickets, err := h.Store.CompanyTicketsForStaff(ctx, id)
	if err != nil {
		return err
	}
	p := h.newPage(c, co.Name, nil)
	p.Data = map[string]any{"Company": co, "Contacts": contacts, "Tickets": h.ticketRows(p, tickets)}
	return h.renderAdmin(c, fiber.StatusOK, "admin/company", p)
}
