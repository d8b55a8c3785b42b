package handlers

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// AdminGroupList lists access groups with the create form (GET /admin/groups).
func (h *Handlers) AdminGroupList(c *fiber.Ctx) error { return h.groupsPage(c, fiber.StatusOK, nil) }

func (h *Handlers) groupsPage(c *fiber.Ctx, status int, f *recordForm) error {
	gs, err := h.Store.GroupList(c.UserContext())
	if err != nil {
		return err
	}
	if f == nil {
		ff := newRecordForm()
		f = &ff
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("AccessGroups"), map[string]any{"Groups": gs, "Form": f}
	return h.renderAdmin(c, status, "admin/groups", p)
}

// AdminGroupCreate creates an access group (POST /admin/groups, field name).
func (h *Handlers) AdminGroupCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	g, err := h.Store.GroupCreateAs(c.UserContext(), *StaffOf(c), f.Values["name"])
	if err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.groupsPage(c, fiber.StatusUnprocessableEntity, &f)
		}
		return err
	}
	return Redirect(c, "/admin/groups/"+strconv.FormatInt(g.ID, 10))
}

// groupView is admin/group.html's view model; each form keeps its own values and errors.
type groupView struct {
	Group               store.Group
	Members             []store.GroupMember
	Rename, Add, Import recordForm
	Notice              string
	Base                string
	// BadLines lists the rows an import skipped, "line N: reason", in line order.
	BadLines []string
}

// AdminGroupShow shows a group with its members and forms (GET /admin/groups/:id).
func (h *Handlers) AdminGroupShow(c *fiber.Ctx) error {
	return h.groupPage(c, fiber.StatusOK, func(p *Page, v *groupView) {
		switch c.Query("done") {
		case "renamed":
			v.Notice = p.T("Saved")
		case "added":
			v.Notice = p.T("MembersAdded", "Count", c.Query("n"))
		case "removed":
			v.Notice = p.T("MembersRemoved", "Count", c.Query("n"))
		case "imported":
			v.Notice = p.T("ImportDone", "Rows", c.Query("rows"), "Created", c.Query("created"), "Added", c.Query("n"), "Bad", c.Query("bad"))
		}
	})
}

func (h *Handlers) groupPage(c *fiber.Ctx, status int, fill func(*Page, *groupView)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	g, err := h.Store.GroupGet(ctx, id)
	if err != nil {
		return err
	}
	ms, err := h.Store.GroupMembers(ctx, id)
	if err != nil {
		return err
	}
	p := h.newPage(c, g.Name, nil)
	v := &groupView{Group: g, Members: ms, Rename: newRecordForm(), Add: newRecordForm(), Import: newRecordForm(),
		Base: "/admin/groups/" + strconv.FormatInt(id, 10)}
	v.Rename.Values["name"] = g.Name
	if fill != nil {
		fill(p, v)
	}
	p.Data = v
	return h.renderAdmin(c, status, "admin/group", p)
}

// AdminGroupRename renames a group (POST /admin/groups/:id, field name).
func (h *Handlers) AdminGroupRename(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	name := c.FormValue("name")
	if err := h.Store.GroupRename(c.UserContext(), *StaffOf(c), id, name); err != nil {
		f := newRecordForm()
		f.Values["name"] = name
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.groupPage(c, fiber.StatusUnprocessableEntity, func(_ *Page, v *groupView) { v.Rename = f })
		}
		return err
	}
	return Redirect(c, "/admin/groups/"+strconv.FormatInt(id, 10)+"?done=renamed")
}

// splitEmails splits a textarea of addresses (commas, spaces or lines).
func splitEmails(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// AdminGroupMembersAdd adds contacts by email (POST /admin/groups/:id/members, field emails).
// Unknown addresses: 422 naming them, nothing added.
func (h *Handlers) AdminGroupMembersAdd(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	raw := c.FormValue("emails")
	emails := splitEmails(raw)
	f := newRecordForm()
	f.Values["emails"] = raw
	if len(emails) == 0 {
		p := h.newPage(c, "", nil)
		f.Errors["emails"] = p.T("EmailsMissing")
		return h.groupPage(c, fiber.StatusUnprocessableEntity, func(_ *Page, v *groupView) { v.Add = f })
	}
	n, err := h.Store.GroupAddMembersAs(c.UserContext(), *StaffOf(c), id, emails)
	var ue *store.UnknownEmailsError
	if errors.As(err, &ue) {
		p := h.newPage(c, "", nil)
		f.Errors["emails"] = p.T("ContactsUnknown", "Emails", strings.Join(ue.Emails, ", "))
		return h.groupPage(c, fiber.StatusUnprocessableEntity, func(_ *Page, v *groupView) { v.Add = f })
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/groups/"+strconv.FormatInt(id, 10)+"?done=added&n="+strconv.Itoa(n))
}

// AdminGroupMembersRemove removes one contact (POST /admin/groups/:id/members/remove, field email).
func (h *Handlers) AdminGroupMembersRemove(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	n, err := h.Store.GroupRemoveMembers(c.UserContext(), *StaffOf(c), id, splitEmails(c.FormValue("email")))
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/groups/"+strconv.FormatInt(id, 10)+"?done=removed&n="+strconv.Itoa(n))
}

// AdminGroupImport imports contacts from a CSV file (POST /admin/groups/:id/import, multipart
// field file; columns email, name, company).
func (h *Handlers) AdminGroupImport(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := newRecordForm()
	refuse := func(msg string) error {
		p := h.newPage(c, "", nil)
		f.Errors["file"] = p.T(msg, "Max", store.MaxGroupImportRows)
		return h.groupPage(c, fiber.StatusUnprocessableEntity, func(_ *Page, v *groupView) { v.Import = f })
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return refuse("CSVMissing")
	}
	file, err := fh.Open()
	if err != nil {
		return err
	}
	defer file.Close()
	res, err := h.Store.GroupImportCSV(c.UserContext(), *StaffOf(c), id, file)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return refuse(ve.Fields["file"])
	}
	if err != nil {
		return err
	}
	if len(res.Bad) > 0 {
		// The skipped rows are named by line on the page itself (a redirect would lose them).
		return h.groupPage(c, fiber.StatusOK, func(p *Page, v *groupView) {
			v.Notice = p.T("ImportDone", "Rows", res.Rows, "Created", res.Created, "Added", res.Added, "Bad", len(res.Bad))
			lines := make([]int, 0, len(res.Bad))
			for l := range res.Bad {
				lines = append(lines, l)
			}
			sort.Ints(lines)
			for _, l := range lines {
				v.BadLines = append(v.BadLines, p.T("ImportBadLine", "Line", l, "Reason", p.T(res.Bad[l])))
			}
		})
	}
	return Redirect(c, "/admin/groups/"+strconv.FormatInt(id, 10)+"?done=imported&rows="+strconv.Itoa(res.Rows)+
		"&created="+strconv.Itoa(res.Created)+"&n="+strconv.Itoa(res.Added)+"&bad="+strconv.Itoa(len(res.Bad)))
}
