package handlers

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The admin side of the JSON API: admin API keys act for the company's own systems within their
// scopes (store.AdminScopes), over every ticket, contact, company and access group.

// APIByKind routes a request by the caller's kind: a customer token to customer, an admin key
// to admin when it carries scope (else 403).
func APIByKind(customer fiber.Handler, scope string, admin fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := APIPrincipalOf(c)
		if p.Kind == store.TokenCustomer {
			return customer(c)
		}
		if !p.Has(scope) {
			return APIProblem(c, fiber.StatusForbidden, problemScope, "This needs an API key with the scope "+scope+".")
		}
		return admin(c)
	}
}

// apiEditor is how audit rows and group changes name an admin API key.
func apiEditor(c *fiber.Ctx) store.Staff {
	return store.Staff{Name: "api_key:" + strconv.FormatInt(APIPrincipalOf(c).TokenID, 10)}
}

// queryID reads an optional positive integer query parameter (0 when absent).
func queryID(c *fiber.Ctx, name string) (int64, bool) {
	s := c.Query(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// APIAdminTicketList lists every ticket, newest activity first (admin keys, tickets:read): query
// q, pipeline_id, stage_id, owner_id ("none" = unassigned), cursor, limit.
func (h *Handlers) APIAdminTicketList(c *fiber.Ctx) error {
	f := store.InboxFilter{Q: c.Query("q"), Cursor: c.Query("cursor")}
	var ok1, ok2, ok3 bool
	f.PipelineID, ok1 = queryID(c, "pipeline_id")
	f.StageID, ok2 = queryID(c, "stage_id")
	if c.Query("owner_id") == "none" {
		f.OwnerID, ok3 = -1, true
	} else {
		f.OwnerID, ok3 = queryID(c, "owner_id")
	}
	if !ok1 || !ok2 || !ok3 {
		return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "pipeline_id, stage_id and owner_id must be positive numbers (owner_id may be none).")
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "limit must be a number from 1 to 100.")
		}
		f.Limit = n
	}
	page, rows, err := h.Store.InboxTicketList(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := apiTicketPage{Data: make([]apiTicketSummary, len(rows)), NextCursor: strOrNil(page.NextCursor), PrevCursor: strOrNil(page.PrevCursor)}
	for i, r := range rows {
		stage := r.StageName
		out.Data[i] = apiTicketSummary{ID: r.ID, Subject: r.Subject, Requester: r.RequesterName, Owner: strOrNil(r.OwnerName),
			Status: ticketStatus(r.IsClosed), Stage: &stage, CreatedAt: r.CreatedAt.UTC(), LastActivityAt: r.LastActivityAt.UTC()}
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// apiStaffMessage is a message as admin keys see it (schema Message, with internal).
type apiStaffMessage struct {
	apiMessage
	Internal bool `json:"internal"`
}

// apiAdminTicket is a ticket as admin keys see it (schema AdminTicket).
type apiAdminTicket struct {
	apiTicket
	Messages    []apiStaffMessage `json:"messages"`
	PipelineID  int64             `json:"pipeline_id"`
	StageID     int64             `json:"stage_id"`
	OwnerID     *int64            `json:"owner_id"`
	RequesterID *int64            `json:"requester_id"`
	CompanyID   *int64            `json:"company_id"`
	Tags        []string          `json:"tags"`
}

func idOrNil(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// APIAdminTicketShow returns any ticket with its whole history, internal notes included
// (admin keys, tickets:read).
func (h *Handlers) APIAdminTicketShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return h.apiAdminTicket(c, fiber.StatusOK, id)
}

func (h *Handlers) apiAdminTicket(c *fiber.Ctx, status int, id int64) error {
	d, err := h.Store.InboxTicketGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	return writeJSON(c, status, apiAdminTicketOf(d))
}

// apiAdminTicketOf is d as admin keys (and webhooks) see it: every message, internal notes
// marked internal.
func apiAdminTicketOf(d store.InboxTicket) apiAdminTicket {
	t := d.Ticket
	stage := t.StageName
	out := apiAdminTicket{apiTicket: apiTicket{ID: t.ID, Subject: t.Subject, Status: ticketStatus(t.IsClosed), Stage: &stage, Pipeline: t.PipelineName,
		Priority: t.Priority, Category: t.Category, Channel: t.Channel, Requester: t.RequesterName, Company: strOrNil(t.CompanyName),
		Owner: strOrNil(t.OwnerName), CreatedAt: t.CreatedAt.UTC(), LastActivityAt: t.LastActivityAt.UTC(), ClosedAt: t.ClosedAt,
		Fields: []apiField{}, CanReply: true, CanClose: !t.IsClosed},
		Messages: []apiStaffMessage{}, PipelineID: d.PipelineID, StageID: d.StageID, OwnerID: idOrNil(d.OwnerID),
		RequesterID: idOrNil(d.RequesterID), CompanyID: idOrNil(d.CompanyID), Tags: d.Tags}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.ClosedAt != nil {
		u := out.ClosedAt.UTC()
		out.ClosedAt = &u
	}
	for _, p := range d.Properties {
		out.Fields = append(out.Fields, apiField{Label: p.Key, Value: p.Value})
	}
	for _, cv := range d.Conversations {
		for _, m := range cv.Messages {
			am := apiMessageOf(store.Message{ID: m.ID, AuthorName: m.AuthorName, FromCustomer: m.FromCustomer, Body: m.Body,
				CreatedAt: m.CreatedAt, Attachments: m.Attachments, Channel: cv.Channel})
			for i := range am.Attachments {
				am.Attachments[i].URL = APIPrefix + "/attachments/" + strconv.FormatInt(am.Attachments[i].ID, 10)
			}
			out.Messages = append(out.Messages, apiStaffMessage{apiMessage: am, Internal: m.Internal})
		}
	}
	return out
}

// apiTicketInput is the body of a ticket created by an admin key (schema TicketInput).
type apiTicketInput struct {
	ContactEmail string `json:"contact_email"`
	Subject      string `json:"subject"`
	Body         string `json:"body"`
	Channel      string `json:"channel"`
	Priority     string `json:"priority"`
	PipelineID   int64  `json:"pipeline_id"`
}

// APIAdminTicketCreate creates a ticket on a contact's behalf (POST /api/v1/tickets, admin keys
// with tickets:write): 201 with the ticket and its Location. Unknown contact, bad subject, body,
// channel, priority or pipeline: 422.
func (h *Handlers) APIAdminTicketCreate(c *fiber.Ctx) error {
	if !APIPrincipalOf(c).Has(store.ScopeTicketsWrite) {
		return APIProblem(c, fiber.StatusForbidden, problemScope, "This needs an API key with the scope "+store.ScopeTicketsWrite+".")
	}
	var in apiTicketInput
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	id, err := h.Store.APITicketCreate(c.UserContext(), store.APITicketNew{ContactEmail: in.ContactEmail, Subject: in.Subject, Body: in.Body,
		Channel: in.Channel, Priority: in.Priority, PipelineID: in.PipelineID})
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	c.Location(APIPrefix + "/tickets/" + strconv.FormatInt(id, 10))
	return h.apiAdminTicket(c, fiber.StatusCreated, id)
}

// apiMessageInput is the body of a message added by an admin key (schema MessageInput).
type apiMessageInput struct {
	Body         string `json:"body"`
	Internal     bool   `json:"internal"`
	FromCustomer bool   `json:"from_customer"`
	StaffID      int64  `json:"staff_id"`
}

// APIAdminMessageCreate adds a public reply, a customer message or an internal note (POST
// /api/v1/tickets/:id/messages, admin keys with tickets:write): 201 with the message.
func (h *Handlers) APIAdminMessageCreate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in apiMessageInput
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	m, err := h.Store.APIMessageCreate(c.UserContext(), id, store.APIMessageNew{Body: in.Body, Internal: in.Internal, FromCustomer: in.FromCustomer, StaffID: in.StaffID})
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	if !m.Internal {
		h.Live.Publish(c.UserContext(), id)
	}
	am := apiStaffMessage{apiMessage: apiMessage{ID: m.ID, Author: m.AuthorName, FromCustomer: m.FromCustomer, Body: m.Body,
		CreatedAt: m.CreatedAt.UTC(), Channel: "portal", Attachments: []apiAttachment{}}, Internal: m.Internal}
	c.Location(APIPrefix + "/tickets/" + strconv.FormatInt(id, 10) + "#message-" + strconv.FormatInt(m.ID, 10))
	return writeJSON(c, fiber.StatusCreated, am)
}

// apiTicketPatch changes a ticket's stage and owner (schema TicketPatch): absent fields stay,
// "owner_id": null unassigns.
type apiTicketPatch struct {
	StageID *int64          `json:"stage_id"`
	OwnerID json.RawMessage `json:"owner_id"`
}

// APIAdminTicketUpdate changes stage and owner (PATCH /api/v1/tickets/:id, admin keys with
// tickets:write): 200 with the ticket; an unknown stage or owner 422.
func (h *Handlers) APIAdminTicketUpdate(c *fiber.Ctx) error {
	if !APIPrincipalOf(c).Has(store.ScopeTicketsWrite) {
		return APIProblem(c, fiber.StatusForbidden, problemScope, "This needs an API key with the scope "+store.ScopeTicketsWrite+".")
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in apiTicketPatch
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	ctx := c.UserContext()
	if _, err := h.Store.InboxTicketGet(ctx, id); err != nil {
		return err
	}
	if in.StageID != nil {
		var ve *store.ValidationError
		if err := h.Store.InboxTicketSetStage(ctx, id, *in.StageID); errors.Is(err, store.ErrNotFound) {
			return h.validationProblem(c, &store.ValidationError{Fields: map[string]string{"stage_id": "StageUnknown"}})
		} else if errors.As(err, &ve) {
			return h.validationProblem(c, &store.ValidationError{Fields: map[string]string{"stage_id": ve.Fields["stage"]}})
		} else if err != nil {
			return err
		}
	}
	if len(in.OwnerID) > 0 {
		var owner int64
		if string(in.OwnerID) != "null" {
			if err := json.Unmarshal(in.OwnerID, &owner); err != nil || owner <= 0 {
				return APIProblem(c, fiber.StatusBadRequest, problemInvalidJSON, "owner_id must be a staff user's id or null.")
			}
		}
		if err := h.Store.InboxTicketAssign(ctx, id, owner); errors.Is(err, store.ErrNotFound) {
			return h.validationProblem(c, &store.ValidationError{Fields: map[string]string{"owner_id": "StaffUnknown"}})
		} else if err != nil {
			return err
		}
	}
	h.Live.Publish(ctx, id)
	return h.apiAdminTicket(c, fiber.StatusOK, id)
}

// APIAdminAttachmentDownload sends any attachment, internal notes' too (admin keys with
// tickets:read).
func (h *Handlers) APIAdminAttachmentDownload(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, r, err := h.Store.AttachmentGetForStaff(c.UserContext(), id)
	if err != nil {
		return err
	}
	return sendAttachment(c, a, r)
}

// apiContact is a contact (schema Contact).
type apiContact struct {
	ID        int64   `json:"id"`
	Email     string  `json:"email"`
	Name      string  `json:"name"`
	CompanyID *int64  `json:"company_id"`
	Company   *string `json:"company"`
}

func apiContactOf(ct store.Contact) apiContact {
	return apiContact{ID: ct.ID, Email: ct.Email, Name: ct.Name, CompanyID: idOrNil(ct.CompanyID), Company: strOrNil(ct.CompanyName)}
}

// APIContactList searches contacts by name or email (GET /api/v1/contacts?q=, scope contacts),
// at most 100.
func (h *Handlers) APIContactList(c *fiber.Ctx) error {
	cts, err := h.Store.ContactSearch(c.UserContext(), c.Query("q"), 100)
	if err != nil {
		return err
	}
	out := struct {
		Data []apiContact `json:"data"`
	}{Data: make([]apiContact, len(cts))}
	for i, ct := range cts {
		out.Data[i] = apiContactOf(ct)
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// APIContactShow returns one contact (GET /api/v1/contacts/:id, scope contacts).
func (h *Handlers) APIContactShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ct, err := h.Store.ContactGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, apiContactOf(ct))
}

// apiContactInput is the body of a new or changed contact (schema ContactInput); company is the
// company's name (created when missing; "" = none).
type apiContactInput struct {
	Email   string  `json:"email"`
	Name    string  `json:"name"`
	Company *string `json:"company"`
}

// APIContactCreate adds a contact (POST /api/v1/contacts, scope contacts): 201; an address
// already known 409.
func (h *Handlers) APIContactCreate(c *fiber.Ctx) error {
	var in apiContactInput
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	company := ""
	if in.Company != nil {
		company = *in.Company
	}
	ct, err := h.Store.ContactAdd(c.UserContext(), in.Email, in.Name, company)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	if ct, err = h.Store.ContactGet(c.UserContext(), ct.ID); err != nil {
		return err
	}
	c.Location(APIPrefix + "/contacts/" + strconv.FormatInt(ct.ID, 10))
	return writeJSON(c, fiber.StatusCreated, apiContactOf(ct))
}

// APIContactUpdate changes a contact's email, name and company (PATCH /api/v1/contacts/:id,
// scope contacts); absent fields stay. The change is audited under the key's name.
func (h *Handlers) APIContactUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in struct {
		Email   *string `json:"email"`
		Name    *string `json:"name"`
		Company *string `json:"company"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	ctx := c.UserContext()
	ct, err := h.Store.ContactGet(ctx, id)
	if err != nil {
		return err
	}
	email, name, company := ct.Email, ct.Name, ct.CompanyName
	if in.Email != nil {
		email = *in.Email
	}
	if in.Name != nil {
		name = *in.Name
	}
	if in.Company != nil {
		company = *in.Company
	}
	_, err = h.Store.ContactUpdateByStaff(ctx, apiEditor(c), id, email, name, company)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	if ct, err = h.Store.ContactGet(ctx, id); err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, apiContactOf(ct))
}

// apiCompany is a company (schema Company).
type apiCompany struct {
	ID       int64        `json:"id"`
	Name     string       `json:"name"`
	Domain   *string      `json:"domain"`
	Contacts []apiContact `json:"contacts,omitempty"`
}

// APICompanyList lists companies whose name matches q (GET /api/v1/companies, scope companies).
func (h *Handlers) APICompanyList(c *fiber.Ctx) error {
	cos, err := h.Store.CompanyList(c.UserContext(), c.Query("q"))
	if err != nil {
		return err
	}
	out := struct {
		Data []apiCompany `json:"data"`
	}{Data: make([]apiCompany, len(cos))}
	for i, co := range cos {
		out.Data[i] = apiCompany{ID: co.ID, Name: co.Name, Domain: strOrNil(co.Domain)}
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// APICompanyShow returns a company with its contacts (GET /api/v1/companies/:id).
func (h *Handlers) APICompanyShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	co, cts, err := h.Store.CompanyGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := apiCompany{ID: co.ID, Name: co.Name, Domain: strOrNil(co.Domain), Contacts: make([]apiContact, len(cts))}
	for i, ct := range cts {
		ct.CompanyID, ct.CompanyName = co.ID, co.Name
		out.Contacts[i] = apiContactOf(ct)
	}
	if out.Contacts == nil {
		out.Contacts = []apiContact{}
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// APICompanyCreate creates a company by name (POST /api/v1/companies {"name"}, scope
// companies); an existing name answers 200 with that company, a new one 201.
func (h *Handlers) APICompanyCreate(c *fiber.Ctx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len([]rune(name)) > 200 {
		return h.validationProblem(c, &store.ValidationError{Fields: map[string]string{"name": "NameRequired"}})
	}
	id, created, err := h.Store.CompanyEnsureCreated(c.UserContext(), name)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	c.Location(APIPrefix + "/companies/" + strconv.FormatInt(id, 10))
	return writeJSON(c, status, apiCompany{ID: id, Name: name})
}

// apiGroup is an access group (schema Group).
type apiGroup struct {
	ID      int64            `json:"id"`
	Name    string           `json:"name"`
	Members []apiGroupMember `json:"members,omitempty"`
}

type apiGroupMember struct {
	ContactID int64  `json:"contact_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
}

// APIGroupList lists the access groups (GET /api/v1/groups, scope groups).
func (h *Handlers) APIGroupList(c *fiber.Ctx) error {
	gs, err := h.Store.GroupList(c.UserContext())
	if err != nil {
		return err
	}
	out := struct {
		Data []apiGroup `json:"data"`
	}{Data: make([]apiGroup, len(gs))}
	for i, g := range gs {
		out.Data[i] = apiGroup{ID: g.ID, Name: g.Name}
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// APIGroupShow returns an access group with its members (GET /api/v1/groups/:id).
func (h *Handlers) APIGroupShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return h.apiGroup(c, fiber.StatusOK, id)
}

func (h *Handlers) apiGroup(c *fiber.Ctx, status int, id int64) error {
	g, err := h.Store.GroupGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	ms, err := h.Store.GroupMembers(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := apiGroup{ID: g.ID, Name: g.Name, Members: make([]apiGroupMember, len(ms))}
	for i, m := range ms {
		out.Members[i] = apiGroupMember{ContactID: m.ContactID, Email: m.Email, Name: m.Name}
	}
	if out.Members == nil {
		out.Members = []apiGroupMember{}
	}
	return writeJSON(c, status, out)
}

// APIGroupCreate creates an access group (POST /api/v1/groups {"name"}, scope groups): 201; a
// name in use 409. Audited under the key's name.
func (h *Handlers) APIGroupCreate(c *fiber.Ctx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	g, err := h.Store.GroupCreateAs(c.UserContext(), apiEditor(c), in.Name)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	c.Location(APIPrefix + "/groups/" + strconv.FormatInt(g.ID, 10))
	return h.apiGroup(c, fiber.StatusCreated, g.ID)
}

// apiMembersInput names contacts by email (schema MembersInput).
type apiMembersInput struct {
	Emails []string `json:"emails"`
}

// APIGroupMembersAdd adds contacts to an access group by email (POST /api/v1/groups/:id/members,
// scope groups); membership takes effect at once, registration mails follow the access-group
// rules. 200 with the group.
func (h *Handlers) APIGroupMembersAdd(c *fiber.Ctx) error {
	return h.apiGroupMembers(c, true)
}

// APIGroupMembersRemove removes contacts from an access group by email (POST
// /api/v1/groups/:id/members/remove, scope groups). 200 with the group.
func (h *Handlers) APIGroupMembersRemove(c *fiber.Ctx) error {
	return h.apiGroupMembers(c, false)
}

func (h *Handlers) apiGroupMembers(c *fiber.Ctx, add bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in apiMembersInput
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	if len(in.Emails) == 0 || len(in.Emails) > 1000 {
		return h.validationProblem(c, &store.ValidationError{Fields: map[string]string{"emails": "EmailsRequired"}})
	}
	ctx := c.UserContext()
	if _, err := h.Store.GroupGet(ctx, id); err != nil {
		return err
	}
	if add {
		_, err = h.Store.GroupAddMembersAs(ctx, apiEditor(c), id, in.Emails)
	} else {
		_, err = h.Store.GroupRemoveMembers(ctx, apiEditor(c), id, in.Emails)
	}
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.validationProblem(c, ve)
	}
	if err != nil {
		return err
	}
	return h.apiGroup(c, fiber.StatusOK, id)
}

// APISettingsShow returns the portal settings as key → value (GET /api/v1/settings, scope
// settings:read), as `portico settings get` shows them; secrets are never settings.
func (h *Handlers) APISettingsShow(c *fiber.Ctx) error {
	raw, err := h.Store.SettingsRaw(c.UserContext())
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, map[string]any{"settings": raw, "read_at": time.Now().UTC()})
}
