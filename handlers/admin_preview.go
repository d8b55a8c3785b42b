package handlers

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// AdminPreview shows the customer ticket listing as a chosen contact sees it, read-only, with a
// banner (GET /admin/preview?contact=ID&view=&cursor=), paged as the contact's own listing (25
// a page, previous/next links). Without a contact: the chooser.
func (h *Handlers) AdminPreview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := h.newPage(c, "", nil)
	cid := parseID(c.Query("contact"))
	data := map[string]any{"Q": c.Query("q")}
	if cid == 0 {
		cs, err := h.Store.ContactSearch(ctx, c.Query("q"), 50)
		if err != nil {
			return err
		}
		data["Contacts"] = cs
		p.Title, p.Data = p.T("Preview"), data
		return h.renderAdmin(c, fiber.StatusOK, "admin/preview", p)
	}
	ct, err := h.Store.ContactGet(ctx, cid)
	if err != nil {
		return err
	}
	st := SettingsOf(c)
	v := store.NewViewer(ct.ID, ct.CompanyID, st, c.Query("view"))
	page, err := h.Store.TicketListForViewer(ctx, v, store.TicketListParams{Status: store.StatusAll, Cursor: c.Query("cursor"),
		StatusByStage: st.ShowCustomStages})
	if err != nil {
		return err
	}
	lv := listView{State: listState{View: v.View, Status: store.StatusAll}, CanSeeOrg: v.CanSeeOrg()}
	base := "/admin/preview?contact=" + strconv.FormatInt(ct.ID, 10)
	pageHref := func(cur string) string {
		return base + "&" + url.Values{"view": {v.View}, "cursor": {cur}}.Encode()
	}
	if page.NextCursor != "" {
		lv.NextHref = pageHref(page.NextCursor)
	}
	if page.PrevCursor != "" {
		lv.PrevHref = pageHref(page.PrevCursor)
	}
	if lv.CanSeeOrg {
		lv.ViewLabel = p.T("OrganizationTickets")
		if v.View == store.ViewMine {
			lv.ViewLabel = p.T("OwnedByMe")
		}
		lv.MineHref, lv.OrgHref = base+"&view=mine", base+"&view=org"
	}
	lv.Rows = listRows(p, st, page.Rows, "/admin/inbox/")
	if len(lv.Rows) == 0 {
		lv.Empty = p.T("NoTicketsYet")
	}
	data["Contact"], data["List"] = ct, &lv
	p.Title, p.Data = p.T("Preview"), data
	return h.renderAdmin(c, fiber.StatusOK, "admin/preview", p)
}
