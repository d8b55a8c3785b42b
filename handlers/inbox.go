package handlers

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// inboxState is the agent inbox's state, as it lives in the query string.
type inboxState struct {
	Inbox, Pipeline, Stage, Owner, Q, Cursor string
}

// values returns the state's non-empty fields as query values (cursor cur).
func (s inboxState) values(cur string) url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"inbox": s.Inbox, "pipeline": s.Pipeline, "stage": s.Stage, "owner": s.Owner, "q": s.Q, "cursor": cur} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// query returns the list's URL with the state and cursor cur.
func (s inboxState) query(cur string) string {
	return withQuery("/admin/inbox", s.values(cur))
}

// ticketHref returns ticket id's URL carrying the list's state (its page included), so that a
// direct load, a reload or Back shows the same list beside the ticket.
func (s inboxState) ticketHref(id int64) string {
	return withQuery("/admin/inbox/"+strconv.FormatInt(id, 10), s.values(s.Cursor))
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// inboxStateOf reads the list state from the query string (the search text cut to 200 runes).
func inboxStateOf(c *fiber.Ctx) inboxState {
	st := inboxState{Inbox: c.Query("inbox"), Pipeline: c.Query("pipeline"), Stage: c.Query("stage"), Owner: c.Query("owner"), Q: c.Query("q"), Cursor: c.Query("cursor")}
	if len([]rune(st.Q)) > 200 {
		st.Q = string([]rune(st.Q)[:200])
	}
	return st
}

type inboxRowView struct {
	ID                                                                     int64
	Href, Subject, Requester, Owner, Stage, Pipeline, Channel, StatusClass string
	Activity, ActivityISO                                                  string
	// Current marks the ticket shown in the detail pane.
	Current bool
}

type inboxListView struct {
	State                               inboxState
	Inboxes, Pipelines, Stages, Owners  []option
	Rows                                []inboxRowView
	NextHref, PrevHref, Empty, Announce string
	// Filtered: a filter other than the text is set (the filter menu opens).
	Filtered bool
	Fragment bool
}

// inboxPageView is the view model of inbox/index.html: the list and, beside it on wide
// screens (instead of it on phones), the ticket the URL names (nil = none).
type inboxPageView struct {
	List   *inboxListView
	Ticket *inboxTicketView
	// ListHref is the list's URL with its state (the detail's way back on phones).
	ListHref string
}

func idOpt(id int64, label string, sel string) option {
	v := strconv.FormatInt(id, 10)
	return option{Value: v, Label: label, Selected: v == sel}
}

func parseID(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// InboxList shows every ticket for staff (GET /admin/inbox), newest activity first, filtered by
// inbox, pipeline, stage, owner ("none" = unassigned) and text; keyset cursor. htmx: the list
// fragment only; when the browser shows a ticket beside the list (HX-Current-URL is a ticket's
// URL), the pushed URL stays that ticket's with the new list state.
func (h *Handlers) InboxList(c *fiber.Ctx) error {
	VaryHTMX(c)
	st := inboxStateOf(c)
	p := h.newPage(c, "", nil)
	v, err := h.inboxList(c, p, st, 0)
	if err != nil {
		return err
	}
	p.Title = p.T("Inbox")
	if IsHTMX(c) {
		v.Fragment = true
		if id := ticketOfURL(HTMXOf(c).CurrentURL); id != 0 {
			HTMXResponse{PushURL: st.ticketHref(id)}.Apply(c)
		}
		p.Data = v
		return h.renderFragment(c, fiber.StatusOK, "inbox/list", p)
	}
	p.Data = &inboxPageView{List: v, ListHref: st.query(st.Cursor)}
	return h.renderAdmin(c, fiber.StatusOK, "inbox/index", p)
}

// ticketOfURL returns the ticket id of an inbox ticket URL (http://host/admin/inbox/42?…), 0
// for any other URL.
func ticketOfURL(raw string) int64 {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	rest, ok := strings.CutPrefix(u.Path, "/admin/inbox/")
	if !ok {
		return 0
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// inboxList loads one page of the list for state st; current marks the ticket shown beside it.
func (h *Handlers) inboxList(c *fiber.Ctx, p *Page, st inboxState, current int64) (*inboxListView, error) {
	f := store.InboxFilter{InboxID: parseID(st.Inbox), PipelineID: parseID(st.Pipeline), StageID: parseID(st.Stage), Q: st.Q, Cursor: st.Cursor}
	if st.Owner == "none" {
		f.OwnerID = -1
	} else {
		f.OwnerID = parseID(st.Owner)
	}
	page, rows, err := h.Store.InboxTicketList(c.UserContext(), f)
	if err != nil {
		return nil, err
	}
	v := &inboxListView{State: st, Filtered: st.Inbox != "" || st.Pipeline != "" || st.Stage != "" || st.Owner != ""}
	if err := h.inboxOptions(c, p, v); err != nil {
		return nil, err
	}
	v.Rows = h.ticketRows(p, rows)
	for i := range v.Rows {
		v.Rows[i].Href = st.ticketHref(v.Rows[i].ID)
		v.Rows[i].Current = v.Rows[i].ID == current
	}
	if page.NextCursor != "" {
		v.NextHref = st.query(page.NextCursor)
	}
	if page.PrevCursor != "" {
		v.PrevHref = st.query(page.PrevCursor)
	}
	if len(v.Rows) == 0 {
		v.Empty = p.T("NoTickets")
	}
	v.Announce = p.T("TicketCount", "Count", len(v.Rows))
	return v, nil
}

// renderInboxPage renders the whole inbox page with ticket v in the detail pane and the list
// (in the state the query string names) beside it.
func (h *Handlers) renderInboxPage(c *fiber.Ctx, status int, p *Page, v *inboxTicketView) error {
	st := inboxStateOf(c)
	list, err := h.inboxList(c, p, st, v.ID)
	if err != nil {
		return err
	}
	p.Data = &inboxPageView{List: list, Ticket: v, ListHref: st.query(st.Cursor)}
	return h.renderAdmin(c, status, "inbox/index", p)
}

// inboxOptions fills the filter choices.
func (h *Handlers) inboxOptions(c *fiber.Ctx, p *Page, v *inboxListView) error {
	ctx := c.UserContext()
	inboxes, err := h.Store.InboxList(ctx)
	if err != nil {
		return err
	}
	pipes, err := h.Store.PipelineList(ctx)
	if err != nil {
		return err
	}
	staff, err := h.Store.StaffList(ctx)
	if err != nil {
		return err
	}
	v.Inboxes = []option{{Value: "", Label: p.T("AllInboxes")}}
	for _, i := range inboxes {
		v.Inboxes = append(v.Inboxes, idOpt(i.ID, i.Name, v.State.Inbox))
	}
	v.Pipelines = []option{{Value: "", Label: p.T("AllPipelines")}}
	v.Stages = []option{{Value: "", Label: p.T("AllStages")}}
	for _, pl := range pipes {
		v.Pipelines = append(v.Pipelines, idOpt(pl.ID, pl.Name, v.State.Pipeline))
		for _, s := range pl.Stages {
			v.Stages = append(v.Stages, idOpt(s.ID, pl.Name+" · "+s.Name, v.State.Stage))
		}
	}
	v.Owners = []option{{Value: "", Label: p.T("AnyOwner")}, {Value: "none", Label: p.T("Unassigned"), Selected: v.State.Owner == "none"}}
	for _, s := range staff {
		v.Owners = append(v.Owners, idOpt(s.ID, s.Name, v.State.Owner))
	}
	return nil
}

// staffMessageView is one message in the staff thread.
type staffMessageView struct {
	ID                     int64
	Author, Body           string
	Time, TimeISO          string
	FromCustomer, Internal bool
	// Attachments link to the staff download route (/admin/attachments/:id).
	Attachments []attachmentView
	// EmailFrom is the address an emailed message came from; Original links its full mail.
	EmailFrom, Original string
}

type conversationView struct {
	ID             int64
	Inbox, Channel string
	Time, TimeISO  string
	Messages       []staffMessageView
}

// composeForm is the reply / note box.
type composeForm struct {
	Action, Body, Error string
	Internal            bool
	// CanAttach shows the file input; Limits describes it; FileError is a refused file's message.
	CanAttach         bool
	Limits, FileError string
}

// inboxTicketView is the view model of inbox/ticket.html.
type inboxTicketView struct {
	ID                                          int64
	Subject, Requester, RequesterEmail, Company string
	// Undeliverable marks a requester address that bounces.
	Undeliverable                              bool
	Pipeline, Stage, Owner, Priority, Channel  string
	Status, StatusClass                        string
	Created, CreatedISO, Activity, ActivityISO string
	Description                                string
	Conversations                              []conversationView
	// Stages are the stages of the ticket's own pipeline (a ticket never changes pipeline here);
	// StageError is a refused change's message.
	Stages, Owners []option
	StageError     string
	Compose        composeForm
	Flash          string
	Tags           []string
	Properties     []store.TicketProperty
	// Sharing is the participants box (issue 16.1).
	Sharing *sharingView
	// Ratings are the satisfaction votes of the ticket's closes (issue 16.4).
	Ratings []ratingRow
	// GuestLinks is the guest-link box (issue 16.3); nil while guest links are off.
	GuestLinks *inboxGuestLinks
}

func (h *Handlers) inboxTicketView(c *fiber.Ctx, p *Page, d store.InboxTicket) (*inboxTicketView, error) {
	t := d.Ticket
	v := &inboxTicketView{ID: t.ID, Subject: t.Subject, Requester: personName(p, t.RequesterName), RequesterEmail: personAddress(d.RequesterEmail), Undeliverable: d.RequesterUndeliverable, Company: t.CompanyName,
		Pipeline: t.PipelineName, Stage: t.StageName, Owner: t.OwnerName, Priority: priorityLabel(p, t.Priority), Channel: channelLabel(p, t.Channel),
		Description: t.Description, Status: p.T("Open"), StatusClass: "open", Tags: d.Tags, Properties: d.Properties}
	if t.IsClosed {
		v.Status, v.StatusClass = p.T("Closed"), "closed"
	}
	// The stage is named beside the status unless it says the same ("Closed · Closed").
	if strings.EqualFold(strings.TrimSpace(v.Stage), v.Status) {
		v.Stage = ""
	}
	// The description is shown only when the conversation does not already start with it.
	for _, cv := range d.Conversations {
		for _, m := range cv.Messages {
			if !m.Internal && strings.TrimSpace(m.Body) == strings.TrimSpace(t.Description) {
				v.Description = ""
			}
		}
	}
	if v.Owner == "" {
		v.Owner = p.T("Unassigned")
	}
	v.Created, v.CreatedISO = p.Locale.Times(t.CreatedAt)
	v.Activity, v.ActivityISO = p.Locale.Times(t.LastActivityAt)
	for _, cv := range d.Conversations {
		x := conversationView{ID: cv.ID, Inbox: cv.InboxName, Channel: cv.Channel}
		x.Time, x.TimeISO = p.Locale.Times(cv.CreatedAt)
		for _, m := range cv.Messages {
			x.Messages = append(x.Messages, h.staffMessage(p, m))
		}
		v.Conversations = append(v.Conversations, x)
	}
	pipes, err := h.Store.PipelineList(c.UserContext())
	if err != nil {
		return nil, err
	}
	sel := strconv.FormatInt(d.StageID, 10)
	for _, pl := range pipes {
		if pl.ID != d.PipelineID {
			continue
		}
		for _, s := range pl.Stages {
			label := s.Name
			if s.IsClosed {
				label += " (" + p.T("Closed") + ")"
			}
			v.Stages = append(v.Stages, idOpt(s.ID, label, sel))
		}
	}
	staff, err := h.Store.StaffList(c.UserContext())
	if err != nil {
		return nil, err
	}
	osel := strconv.FormatInt(d.OwnerID, 10)
	v.Owners = []option{{Value: "0", Label: p.T("Unassigned"), Selected: d.OwnerID == 0}}
	for _, s := range staff {
		v.Owners = append(v.Owners, idOpt(s.ID, s.Name, osel))
	}
	if v.Sharing, err = h.inboxSharing(c, p, t.ID); err != nil {
		return nil, err
	}
	ratings, err := h.Store.TicketRatings(c.UserContext(), t.ID)
	if err != nil {
		return nil, err
	}
	v.Ratings = ratingRows(p, ratings)
	if v.GuestLinks, err = h.inboxGuestLinks(c, p, t.ID); err != nil {
		return nil, err
	}
	v.Compose = composeForm{Action: "/admin/inbox/" + strconv.FormatInt(t.ID, 10) + "/messages"}
	if st := SettingsOf(c); st.AttachmentMaxFiles > 0 {
		v.Compose.CanAttach, v.Compose.Limits = true, attachmentText(p, st, "AttachmentLimits")
	}
	return v, nil
}

func (h *Handlers) staffMessage(p *Page, m store.StaffMessage) staffMessageView {
	v := staffMessageView{ID: m.ID, Author: personName(p, m.AuthorName), Body: m.Body, FromCustomer: m.FromCustomer, Internal: m.Internal}
	if v.Author == "" {
		v.Author = p.T("SupportTeam")
	}
	v.Time, v.TimeISO = p.Locale.Times(m.CreatedAt)
	v.Attachments = staffAttachmentViews(p, m.Attachments)
	v.EmailFrom = m.EmailFrom
	if m.HasOriginal {
		v.Original = "/admin/messages/" + strconv.FormatInt(m.ID, 10) + "/original"
	}
	return v
}

// staffAttachmentViews links attachments to the staff download route: every file of every
// message, internal notes' included. Never used on customer pages (see attachmentViews).
func staffAttachmentViews(p *Page, as []store.Attachment) []attachmentView {
	return attachmentLinks(p, as, "/admin/attachments/")
}

// InboxTicketShow shows a ticket's full history for staff (GET /admin/inbox/:id, with the list's
// state in the query string). The whole page holds the list and the ticket side by side (wide
// screens; phones show the ticket alone); htmx into the detail pane (HX-Target inbox-detail):
// the pane's content with the page title; other htmx requests: the ticket fragment.
func (h *Handlers) InboxTicketShow(c *fiber.Ctx) error {
	VaryHTMX(c)
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	d, err := h.Store.InboxTicketGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Subject, nil)
	v, err := h.inboxTicketView(c, p, d)
	if err != nil {
		return err
	}
	switch c.Query("done") {
	case "stage":
		v.Flash = p.T("StageChanged")
	case "owner":
		v.Flash = p.T("OwnerChanged")
	case "created":
		v.Flash = p.T("TicketCreated")
	case "participant_added":
		v.Flash = p.T("ShareAdded")
	case "participant_removed":
		v.Flash = p.T("ShareRemoved")
	case "guest_links_revoked":
		n, _ := strconv.Atoi(c.Query("n"))
		v.Flash = p.T("GuestLinksRevoked", "Count", n)
	}
	if IsHTMX(c) {
		if HTMXOf(c).Target == "inbox-detail" {
			st := inboxStateOf(c)
			p.Data = &inboxPageView{Ticket: v, ListHref: st.query(st.Cursor)}
			return h.renderFragment(c, fiber.StatusOK, "inbox/detail", p)
		}
		p.Data = v
		return h.renderFragment(c, fiber.StatusOK, "inbox/ticket", p)
	}
	return h.renderInboxPage(c, fiber.StatusOK, p, v)
}

// InboxMessageCreate posts a public reply or an internal note with its attachments (POST
// /admin/inbox/:id/messages, fields body, internal=true and files; urlencoded or multipart,
// streamed like the portal's replies: a plain form carries its CSRF token as the first part).
// htmx: the whole ticket fragment re-rendered (the new message in its thread, the box cleared);
// 422 keeps the text with the error beside it (a refused file: nothing stored). Plain: 303 back.
func (h *Handlers) InboxMessageCreate(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	st := SettingsOf(c)
	form, err := h.readMessageForm(c, store.LimitsFrom(st))
	if err != nil {
		if errors.Is(err, errCSRF) {
			return h.ErrorPage(c, fiber.StatusForbidden)
		}
		return err
	}
	ctx := c.UserContext()
	defer form.Files.Discard(ctx) // no-op once the message committed them
	body := form.Fields["body"]
	internal := form.Fields["internal"] == "true"
	var m store.StaffMessage
	var ve *store.ValidationError
	if form.FileError == "" {
		m, err = h.Store.InboxMessageCreate(ctx, StaffOf(c).ID, id, body, internal, form.Files)
		if err != nil && !errors.As(err, &ve) {
			return err
		}
		if err == nil && !internal {
			h.Live.Publish(ctx, id) // the customer's open page fetches the reply; notes never publish
		}
	}
	d, gerr := h.Store.InboxTicketGet(ctx, id)
	if gerr != nil {
		return gerr
	}
	p := h.newPage(c, d.Subject, nil)
	v, verr := h.inboxTicketView(c, p, d)
	if verr != nil {
		return verr
	}
	status := fiber.StatusOK
	switch {
	case form.FileError != "":
		status = fiber.StatusUnprocessableEntity
		v.Compose.Body, v.Compose.Internal = body, internal
		v.Compose.FileError = attachmentText(p, st, form.FileError)
	case ve != nil:
		status = fiber.StatusUnprocessableEntity
		v.Compose.Body, v.Compose.Internal = body, internal
		v.Compose.Error = p.T(ve.Fields["body"], "Max", store.MaxReplyRunes)
	default:
		if !IsHTMX(c) {
			return c.Redirect("/admin/inbox/"+strconv.FormatInt(id, 10)+"#message-"+strconv.FormatInt(m.ID, 10), fiber.StatusSeeOther)
		}
		v.Flash = p.T("ReplySent")
		if internal {
			v.Flash = p.T("NoteAdded")
		}
	}
	if IsHTMX(c) {
		p.Data = v
		return h.renderFragment(c, status, "inbox/ticket", p)
	}
	return h.renderInboxPage(c, status, p, v)
}

// InboxTicketStage moves the ticket to another stage of its pipeline (POST
// /admin/inbox/:id/stage, field stage). A stage of another pipeline (or none) is refused with
// 422 and the message beside the Stage menu.
func (h *Handlers) InboxTicketStage(c *fiber.Ctx) error {
	return h.inboxTicketChange(c, "stage", h.Store.InboxTicketSetStage)
}

// InboxTicketOwner assigns the ticket (POST /admin/inbox/:id/owner, field owner; 0 = nobody).
func (h *Handlers) InboxTicketOwner(c *fiber.Ctx) error {
	return h.inboxTicketChange(c, "owner", h.Store.InboxTicketAssign)
}

// inboxTicketChange sets the ticket's property field (an id posted in the form field of that
// name) with set, tells open customer pages (live updates) and answers with afterTicketChange.
func (h *Handlers) inboxTicketChange(c *fiber.Ctx, field string, set func(ctx context.Context, ticketID, value int64) error) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	if err := set(c.UserContext(), id, parseID(c.FormValue(field))); err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) && ve.Fields[field] != "" {
			return h.ticketChangeRefused(c, id, h.newPage(c, "", nil).T(ve.Fields[field]))
		}
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	return h.afterTicketChange(c, id, field)
}

// ticketChangeRefused answers a refused stage change: 422, the ticket with msg beside the Stage
// menu (htmx: the ticket fragment; plain: the whole page).
func (h *Handlers) ticketChangeRefused(c *fiber.Ctx, id int64, msg string) error {
	d, err := h.Store.InboxTicketGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Subject, nil)
	v, err := h.inboxTicketView(c, p, d)
	if err != nil {
		return err
	}
	v.StageError = msg
	if IsHTMX(c) {
		p.Data = v
		return h.renderFragment(c, fiber.StatusUnprocessableEntity, "inbox/ticket", p)
	}
	return h.renderInboxPage(c, fiber.StatusUnprocessableEntity, p, v)
}

// afterTicketChange answers a property change: htmx gets the ticket fragment, plain forms a 303.
func (h *Handlers) afterTicketChange(c *fiber.Ctx, id int64, what string) error {
	if !IsHTMX(c) {
		return c.Redirect("/admin/inbox/"+strconv.FormatInt(id, 10)+"?done="+what, fiber.StatusSeeOther)
	}
	d, err := h.Store.InboxTicketGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Subject, nil)
	v, err := h.inboxTicketView(c, p, d)
	if err != nil {
		return err
	}
	v.Flash = p.T(map[string]string{"stage": "StageChanged", "owner": "OwnerChanged"}[what])
	p.Data = v
	return h.renderFragment(c, fiber.StatusOK, "inbox/ticket", p)
}

// newTicketForm is the "ticket on a contact's behalf" form.
type newTicketForm struct {
	Contact, Subject, Description, Priority string
	Pipeline                                string
	Pipelines, Priorities                   []option
	Errors                                  map[string]string
}

func (h *Handlers) newTicketForm(c *fiber.Ctx, p *Page, f *newTicketForm) error {
	pipes, err := h.Store.PipelineList(c.UserContext())
	if err != nil {
		return err
	}
	for _, pl := range pipes {
		f.Pipelines = append(f.Pipelines, idOpt(pl.ID, pl.Name, f.Pipeline))
	}
	for _, pr := range store.TicketPriorities {
		f.Priorities = append(f.Priorities, option{Value: pr, Label: tOr(p, "Priority_"+pr, pr), Selected: pr == f.Priority})
	}
	return nil
}

// InboxTicketNew shows the form for a ticket on a contact's behalf (GET /admin/inbox/new?contact=EMAIL).
func (h *Handlers) InboxTicketNew(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	f := &newTicketForm{Contact: c.Query("contact")}
	if err := h.newTicketForm(c, p, f); err != nil {
		return err
	}
	p.Title, p.Data = p.T("NewTicket"), f
	return h.renderAdmin(c, fiber.StatusOK, "inbox/new", p)
}

// InboxTicketCreate creates a phone ticket for a contact (POST /admin/inbox/new): no
// conversation; the customer's first reply opens one in the default inbox. 422 with messages
// beside the fields; success 303 to the ticket.
func (h *Handlers) InboxTicketCreate(c *fiber.Ctx) error {
	f := &newTicketForm{Contact: strings.TrimSpace(c.FormValue("contact")), Subject: c.FormValue("subject"),
		Description: c.FormValue("description"), Priority: c.FormValue("priority"), Pipeline: c.FormValue("pipeline")}
	id, err := h.Store.InboxTicketCreate(c.UserContext(), StaffOf(c).ID, store.InboxTicketNew{ContactEmail: f.Contact, Subject: f.Subject,
		Description: f.Description, PipelineID: parseID(f.Pipeline), Priority: f.Priority})
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		p := h.newPage(c, "", nil)
		f.Errors = map[string]string{}
		for k, m := range ve.Fields {
			f.Errors[k] = p.T(m, "Max", store.MaxReplyRunes)
		}
		if err := h.newTicketForm(c, p, f); err != nil {
			return err
		}
		p.Title, p.Data = p.T("NewTicket"), f
		return h.renderAdmin(c, fiber.StatusUnprocessableEntity, "inbox/new", p)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/inbox/"+strconv.FormatInt(id, 10)+"?done=created")
}
