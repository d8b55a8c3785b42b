package handlers

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// Staff pages over CRM records: contacts, companies, access groups, pipelines and stages,
// inboxes, and the customer-listing preview.

// recordForm carries what was typed and the messages beside the fields.
type recordForm struct {
	Values map[string]string
	Errors map[string]string
}

func newRecordForm() recordForm {
	return recordForm{Values: map[string]string{}, Errors: map[string]string{}}
}

// refusal fills f.Errors from a store error (validation or conflict) and reports whether it did.
func refusal(p *Page, err error, f *recordForm, conflictField string) bool {
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		for k, m := range ve.Fields {
			f.Errors[k] = p.T(m)
		}
		return true
	case errors.Is(err, store.ErrConflict):
		f.Errors[conflictField] = p.T("AlreadyExists")
		return true
	}
	return false
}

// pathID is the positive integer :id of a route; anything else is ErrNotFound (a 404 like any
// record that does not exist).
func pathID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.ErrNotFound
	}
	return id, nil
}

func (h *Handlers) ticketRows(p *Page, rows []store.InboxRow) []inboxRowView {
	out := make([]inboxRowView, 0, len(rows))
	for _, r := range rows {
		v := inboxRowView{Href: "/admin/inbox/" + strconv.FormatInt(r.ID, 10), Subject: r.Subject, Requester: r.RequesterName,
			Owner: r.OwnerName, Stage: r.StageName, Pipeline: r.PipelineName, Channel: r.Channel, StatusClass: "open"}
		if r.IsClosed {
			v.StatusClass = "closed"
		}
		if v.Owner == "" {
			v.Owner = p.T("Unassigned")
		}
		v.Activity, v.ActivityISO = p.Locale.Times(r.LastActivityAt)
		out = append(out, v)
	}
	return out
}

// AdminContactList searches contacts (GET /admin/contacts?q=).
func (h *Handlers) AdminContactList(c *fiber.Ctx) error {
	q := c.Query("q")
	cs, err := h.Store.ContactSearch(c.UserContext(), q, 100)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("Contacts"), map[string]any{"Q": q, "Contacts": cs}
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
		"InviteAction": "/admin/contacts/" + strconv.FormatInt(id, 10) + "/invite", "Invite": c.Query("invite")}
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

// AdminPipelineList shows pipelines and stages with their forms (GET /admin/pipelines).
func (h *Handlers) AdminPipelineList(c *fiber.Ctx) error {
	return h.pipelinesPage(c, fiber.StatusOK, nil, 0)
}

func (h *Handlers) pipelinesPage(c *fiber.Ctx, status int, f *recordForm, formOf int64) error {
	ps, err := h.Store.PipelineList(c.UserContext())
	if err != nil {
		return err
	}
	if f == nil {
		ff := newRecordForm()
		f = &ff
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("Pipelines"), map[string]any{"Pipelines": ps, "Form": f, "FormOf": int(formOf), "Saved": c.Query("saved") == "1"}
	return h.renderAdmin(c, status, "admin/pipelines", p)
}

// AdminPipelineCreate creates a pipeline (POST /admin/pipelines, field name).
func (h *Handlers) AdminPipelineCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if _, err := h.Store.PipelineCreate(c.UserContext(), *StaffOf(c), f.Values["name"]); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, 0)
		}
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}

// AdminStageCreate adds a stage (POST /admin/pipelines/:id/stages, fields name, closed).
func (h *Handlers) AdminStageCreate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if _, err := h.Store.StageCreate(c.UserContext(), *StaffOf(c), id, f.Values["name"], c.FormValue("closed") == "true"); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, id)
		}
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}

// AdminStageUpdate renames, reorders and opens/closes a stage (POST /admin/stages/:id, fields
// name, position, closed); tickets in the stage follow.
func (h *Handlers) AdminStageUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	pos, perr := strconv.Atoi(strings.TrimSpace(c.FormValue("position")))
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if perr != nil || pos < 0 || pos > 1000 {
		f.Errors["position"] = h.newPage(c, "", nil).T("PositionInvalid")
		return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, -id)
	}
	if err := h.Store.StageUpdate(c.UserContext(), *StaffOf(c), id, f.Values["name"], pos, c.FormValue("closed") == "true"); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, -id)
		}
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}

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

// fieldData is admin/field.html's view model: one text input of a recordForm.
type fieldData struct {
	Form              recordForm
	Name, Label, Type string
}

// Field returns a page for admin/field.html: the input name of form (a recordForm or a pointer
// to one) with its label, input type, typed value and error.
func (p *Page) Field(form any, name, label, typ string) *Page {
	var f recordForm
	switch x := form.(type) {
	case recordForm:
		f = x
	case *recordForm:
		f = *x
	}
	return p.With(fieldData{Form: f, Name: name, Label: label, Type: typ})
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
