package handlers

import (
	"errors"
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// listState is the ticket listing's state, exactly as it lives in the query string.
type listState struct {
	View, Q, Status, Sort, Cursor string
}

// query returns the state as a query string, with the cursor replaced by cur: the parameters
// that differ from the defaults, in url.Values.Encode's form (keys sorted, values escaped by
// url.QueryEscape), written without building a url.Values (a listing writes about ten).
func (s listState) query(cur string) string {
	b := make([]byte, 0, 64+len(cur)+len(s.Q))
	b = append(b, "/tickets"...)
	sep := byte('?')
	add := func(k, v string) {
		b = append(b, sep)
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(v)...)
		sep = '&'
	}
	if cur != "" {
		add("cursor", cur)
	}
	if s.Q != "" {
		add("q", s.Q)
	}
	if s.Sort != "" && s.Sort != store.DefaultTicketSort {
		add("sort", s.Sort)
	}
	if s.Status != "" && s.Status != store.StatusAll {
		add("status", s.Status)
	}
	if s.View != "" {
		add("view", s.View)
	}
	return string(b)
}

// listRow is one listing row with every value formatted once, in Go.
type listRow struct {
	Href, Subject, Requester, Owner, Status, StatusClass string
	Created, CreatedISO, Activity, ActivityISO           string
}

// listRows formats listing rows once, in Go (no per-row template work beyond printing): status
// as Open/Closed or the stage name, dates in the viewer's locale and zone. href is the link
// prefix of a row ("/tickets/" for customers, "/admin/inbox/" for the staff preview).
func listRows(p *Page, st store.Settings, rows []store.TicketRow, href string) []listRow {
	open, closed, unassigned := p.T("Open"), p.T("Closed"), p.T("Unassigned")
	out := make([]listRow, len(rows))
	for i, r := range rows {
		row := listRow{Href: href + strconv.FormatInt(r.ID, 10), Subject: r.Subject, Requester: personName(p, r.RequesterName), Owner: r.OwnerName, Status: open, StatusClass: "open"}
		if r.IsClosed {
			row.Status, row.StatusClass = closed, "closed"
		}
		if st.ShowCustomStages {
			row.Status = r.StageName
		}
		if row.Owner == "" {
			row.Owner = unassigned
		}
		row.Created, row.CreatedISO = p.Locale.Times(r.CreatedAt)
		row.Activity, row.ActivityISO = p.Locale.Times(r.LastActivityAt)
		out[i] = row
	}
	return out
}

// listView is the listing's view model (tickets/list.html).
type listView struct {
	State             listState
	CanSeeOrg         bool
	ViewLabel         string
	MineHref, OrgHref string
	Rows              []listRow
	// RowsHTML is Rows rendered once, in Go (listRowsHTML): the table body.
	RowsHTML           template.HTML
	NextHref, PrevHref string
	Empty              string
	// Notice is a one-line status above the list (e.g. a support ticket was received).
	Notice        string
	StatusOptions []option
	Announce      string
	Fragment      bool
	Columns       []column
	// ShowViews shows the View menu (company mode, or tickets shared with the viewer);
	// HasShared offers "Shared with me" in it; SharedHref links that view.
	ShowViews, HasShared bool
	SharedHref           string
	// ColumnsHTML is Columns rendered once, in Go (columnsHTML): the heading cells.
	ColumnsHTML template.HTML
}

// column is one sortable column heading: its label, the link that sorts by it (toggling the
// direction when it is the current sort) and its aria-sort state.
type column struct {
	Key, Label, Href, AriaSort string
}

type option struct {
	Value, Label string
	Selected     bool
}

// viewer builds the request's Viewer from the signed-in contact and the settings.
func (h *Handlers) viewer(c *fiber.Ctx, view string) store.Viewer {
	ct := ContactOf(c)
	return store.NewViewer(ct.ID, ct.CompanyID, SettingsOf(c), view)
}

// TicketList shows the customer's tickets (GET /tickets): the whole page, or only the list
// fragment for htmx. Query: view=mine|org, q, status=open|closed|all, cursor.
func (h *Handlers) TicketList(c *fiber.Ctx) error {
	VaryHTMX(c)
	st := listState{View: c.Query("view"), Q: c.Query("q"), Status: c.Query("status"), Sort: store.NormalizeTicketSort(c.Query("sort")), Cursor: c.Query("cursor")}
	if len([]rune(st.Q)) > 200 {
		st.Q = string([]rune(st.Q)[:200])
	}
	switch st.Status {
	case store.StatusOpen, store.StatusClosed:
	default:
		st.Status = store.StatusAll
	}
	v := h.viewer(c, st.View)
	st.View = v.View
	page, err := h.Store.TicketListForViewer(c.UserContext(), v, store.TicketListParams{Q: st.Q, Status: st.Status, Sort: st.Sort, Cursor: st.Cursor,
		StatusByStage: SettingsOf(c).ShowCustomStages, ProbeShared: true})
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	p.Title = p.TicketsLabel
	lv := listView{State: st, CanSeeOrg: v.CanSeeOrg(), Rows: listRows(p, SettingsOf(c), page.Rows, "/tickets/")}
	lv.RowsHTML = listRowsHTML(lv.Rows, rowLabels{Requester: p.T("RequestedBy"), Created: p.T("CreateDate"),
		Owner: p.T("TicketOwner"), Activity: p.T("LastActivityDate"), Status: p.T("Status")})
	lv.HasShared = page.HasShared
	h.listViews(c, p, v, &lv)
	if page.NextCursor != "" {
		lv.NextHref = st.query(page.NextCursor)
	}
	if page.PrevCursor != "" {
		lv.PrevHref = st.query(page.PrevCursor)
	}
	if c.Query("submitted") == "1" {
		lv.Notice = p.T("TicketReceived")
	}
	if len(lv.Rows) == 0 {
		lv.Empty = p.T("NoTickets")
		if st.Q == "" && st.Status == store.StatusAll && st.Cursor == "" {
			lv.Empty = p.T("NoTicketsYet")
		}
	}
	lv.StatusOptions = []option{
		{store.StatusAll, p.T("StatusAll"), st.Status == store.StatusAll},
		{store.StatusOpen, p.T("Open"), st.Status == store.StatusOpen},
		{store.StatusClosed, p.T("Closed"), st.Status == store.StatusClosed},
	}
	lv.Announce = p.T("TicketCount", "Count", len(lv.Rows))
	for _, col := range []struct{ key, label string }{{"subject", "Subject"}, {"requester", "RequestedBy"},
		{"created", "CreateDate"}, {"owner", "TicketOwner"}, {"activity", "LastActivityDate"}, {"status", "Status"}} {
		next, aria := col.key, "none"
		if col.key == "created" || col.key == "activity" {
			next = "-" + col.key // dates read newest first
		}
		switch st.Sort {
		case col.key:
			next, aria = "-"+col.key, "ascending"
		case "-" + col.key:
			next, aria = col.key, "descending"
		}
		lv.Columns = append(lv.Columns, column{Key: col.key, Label: p.T(col.label), AriaSort: aria,
			Href: listState{View: st.View, Q: st.Q, Status: st.Status, Sort: next}.query("")})
	}
	lv.ColumnsHTML = columnsHTML(lv.Columns)
	p.Data = &lv
	if IsHTMX(c) {
		lv.Fragment = true
		return h.renderFragment(c, fiber.StatusOK, "tickets/list", p)
	}
	return h.renderPage(c, fiber.StatusOK, "pages/tickets", p)
}

// messageView is one message ready to print.
type messageView struct {
	ID                  int64
	Author, Body        string
	Time, TimeISO       string
	FromCustomer, IsNew bool
	Attachments         []attachmentView
	// ThreadLabel heads the first message of each conversation when all threads are shown.
	ThreadLabel string
	// Via names the channel of a message that travelled by email ("Email"; "" otherwise).
	Via string
}

// ticketView is the ticket page's view model.
type ticketView struct {
	ID                           int64
	Subject, Status, StatusClass string
	Pipeline, Stage, Priority    string
	Category, Channel, Company   string
	Requester, Owner             string
	Created, CreatedISO          string
	Activity, ActivityISO        string
	// Fields are the custom properties the customer filled on the support form.
	Fields   []store.TicketField
	Messages []messageView
	Reply    replyForm
	// CloseAction is the close form's URL ("" = the customer may not close this ticket).
	CloseAction string
	// LastMessageID is the newest message shown; live updates fetch what came after it.
	LastMessageID int64
	// State is "open" or "closed" as the page shows it; a live update that finds another state
	// swaps the ticket's actions and the reply box too.
	State string
	// StateChanged is set on a live update whose ticket state differs from the page's.
	StateChanged bool
	// Notice confirms what the customer just did ("" = none), e.g. closing the ticket.
	Notice string
	// Sharing is the "Shared with" box (participants, issue 16.1); nil on live updates.
	Sharing *sharingView
	// Confirm asks "Is this solved?" when an agent marked the ticket solved (issue 16.5).
	Confirm *confirmView
	// Rating asks "How did we do?" on a closed ticket (issue 16.4).
	Rating *ratingView
	// Base is the page's own path ("/tickets/12", or "/guest/t/12" through a guest link): the
	// live updates and the reply box are under it.
	Base string
	// Guest is the banner of a page opened through a guest link (issue 16.3); nil otherwise.
	Guest *guestView
}

// ticketSurface is where a ticket page lives and who looks at it: the portal (/tickets/:id,
// the signed-in customer's Viewer) or a guest link (/guest/t/:id, the recipient's Viewer
// confined to that ticket).
type ticketSurface struct {
	Viewer store.Viewer
	// Base is the ticket page's path.
	Base string
	// Guest is the guest access of a guest-link surface (nil in the portal).
	Guest *guestAccess
}

// portalSurface is the signed-in customer's surface of ticket id.
func (h *Handlers) portalSurface(c *fiber.Ctx, id int64) ticketSurface {
	return ticketSurface{Viewer: h.viewer(c, ""), Base: "/tickets/" + strconv.FormatInt(id, 10)}
}

// surfaceView is the ticket page's view model on the surface (the portal's with its "Shared
// with" box; the guest link's narrowed, guestTicketView).
func (h *Handlers) surfaceView(c *fiber.Ctx, p *Page, d store.TicketDetail, surf ticketSurface) *ticketView {
	if surf.Guest != nil {
		return h.guestTicketView(c, p, d)
	}
	tv := h.ticketView(c, p, d)
	tv.Sharing = h.sharingView(c, p, d)
	return tv
}

// replyForm is the reply box: what was typed, and the errors beside it.
type replyForm struct {
	Action       string
	Body         string
	Error        string
	FileError    string
	Notice       string
	CanReply     bool
	ClosedNotice string
	MaxRunes     int
	// CanAttach and Limits describe the file input.
	CanAttach bool
	Limits    string
	// OOB marks the box as an out-of-band swap (a live update changed whether one may reply);
	// it then offers a read-only copy of a reply the customer had typed but not sent.
	OOB bool
}

func (h *Handlers) messageView(p *Page, m store.Message) messageView {
	mv := messageView{ID: m.ID, Author: personName(p, m.AuthorName), Body: m.Body, FromCustomer: m.FromCustomer}
	if !m.FromCustomer {
		mv.Author = p.T("SupportTeam")
		if m.AuthorName != "" {
			mv.Author = m.AuthorName
		}
	}
	mv.Time, mv.TimeISO = p.Locale.Times(m.CreatedAt)
	mv.Attachments = attachmentViews(p, m.Attachments)
	if m.ByEmail {
		mv.Via = p.T("Channel_email")
	}
	return mv
}

// newReplyForm is an empty reply box for ticket id under the settings.
func newReplyForm(p *Page, st store.Settings, id int64, canReply bool) replyForm {
	r := replyForm{Action: "/tickets/" + strconv.FormatInt(id, 10) + "/replies", MaxRunes: store.MaxReplyRunes,
		CanReply: canReply, CanAttach: st.AttachmentMaxFiles > 0}
	if r.CanAttach {
		r.Limits = attachmentText(p, st, "AttachmentLimits")
	}
	if !canReply {
		r.ClosedNotice = p.T("TicketClosedNoReply")
	}
	return r
}

// ticketStateOpen and ticketStateClosed are the page's ticket states (ticketView.State).
const (
	ticketStateOpen   = "open"
	ticketStateClosed = "closed"
)

// knownPriorities are the ticket priorities the catalogue names (Priority_<value>).
var knownPriorities = map[string]bool{"low": true, "medium": true, "high": true, "urgent": true}

// priorityLabel translates a known priority ("high" → "Hoog"); other values, which are the
// CRM's own data, show as they are.
func priorityLabel(p *Page, v string) string {
	if k := strings.ToLower(strings.TrimSpace(v)); knownPriorities[k] {
		return tOr(p, "Priority_"+k, v)
	}
	return v
}

// channelLabel translates a channel through Channel_<value>, or shows an unknown one as it is.
func channelLabel(p *Page, v string) string {
	if k := strings.ToLower(strings.TrimSpace(v)); k != "" {
		return tOr(p, "Channel_"+k, v)
	}
	return v
}

func (h *Handlers) ticketView(c *fiber.Ctx, p *Page, d store.TicketDetail) *ticketView {
	t := d.Ticket
	tv := &ticketView{ID: t.ID, Subject: t.Subject, Pipeline: t.PipelineName, Stage: t.StageName, Priority: priorityLabel(p, t.Priority),
		Category: t.Category, Channel: channelLabel(p, t.Channel), Company: t.CompanyName, Requester: personName(p, t.RequesterName), Owner: t.OwnerName,
		Status: p.T("Open"), StatusClass: "open", Fields: t.Fields}
	if t.IsClosed {
		tv.Status, tv.StatusClass = p.T("Closed"), "closed"
	}
	st := SettingsOf(c)
	if st.ShowCustomStages {
		tv.Status = t.StageName
	}
	if tv.Owner == "" {
		tv.Owner = p.T("Unassigned")
	}
	tv.Created, tv.CreatedISO = p.Locale.Times(t.CreatedAt)
	tv.Activity, tv.ActivityISO = p.Locale.Times(t.LastActivityAt)
	tv.Base = "/tickets/" + strconv.FormatInt(t.ID, 10)
	tv.Messages = make([]messageView, len(d.Messages))
	var conv int64
	for i, m := range d.Messages {
		tv.Messages[i] = h.messageView(p, m)
		tv.LastMessageID = max(tv.LastMessageID, m.ID)
		if st.ShowAllThreads && m.ConversationID != conv {
			tv.Messages[i].ThreadLabel = p.T("PortalThreadLabel", "Channel", p.T("Channel_"+m.Channel))
			conv = m.ConversationID
		}
	}
	tv.Reply = newReplyForm(p, st, t.ID, !t.IsClosed || st.AllowReplyOnClosed || st.ReopenOnReply)
	tv.State = ticketStateOpen
	if t.IsClosed {
		tv.State = ticketStateClosed
		if st.ReopenOnReply {
			tv.Reply.Notice = p.T("TicketClosedReplyReopens")
		}
	}
	if !t.IsClosed && st.AllowCloseFromPortal {
		tv.CloseAction = "/tickets/" + strconv.FormatInt(t.ID, 10) + "/close"
	}
	participantAccess(p, tv, d)
	confirmSolution(p, tv, d)
	rateTicket(c, p, tv, d)
	return tv
}

// ticketID is the :id of a ticket route (see pathID).
func ticketID(c *fiber.Ctx) (int64, error) { return pathID(c) }

// TicketShow shows one ticket with its public conversation (GET /tickets/:id). Outside the
// viewer's scope: 404. ?draft= restores a reply kept across a sign-in.
func (h *Handlers) TicketShow(c *fiber.Ctx) error {
	VaryHTMX(c)
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	d, err := h.Store.TicketGetForViewer(c.UserContext(), h.viewer(c, ""), id)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Ticket.Subject, nil)
	tv := h.ticketView(c, p, d)
	if c.Query("closed") == "1" && d.Ticket.IsClosed {
		tv.Notice = p.T("TicketClosedByYou")
	}
	if c.Query("accepted") == "1" && d.Ticket.IsClosed {
		tv.Notice = p.T("SolvedThanks")
	}
	if text := h.takeDraft(c, id)["body"]; text != "" {
		tv.Reply.Body = text
		tv.Reply.Notice = p.T("DraftRestored")
	}
	tv.Sharing = h.sharingView(c, p, d)
	p.Data = tv
	return h.renderPage(c, fiber.StatusOK, "pages/ticket", p)
}

// TicketReplyCreate posts the customer's reply with its attachments (POST /tickets/:id/replies,
// fields body and files, urlencoded or multipart). htmx: 200 with a cleared reply box plus the
// new message and last activity swapped out of band; 422 with the box, the typed text and the
// error beside it. Without JavaScript: 303 back to the ticket, or the whole page with the error
// (422). Outside scope: 404, and no file is kept.
func (h *Handlers) TicketReplyCreate(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	return h.replyCreate(c, id, h.portalSurface(c, id))
}

// replyCreate is TicketReplyCreate on a surface (the portal, or a guest link).
func (h *Handlers) replyCreate(c *fiber.Ctx, id int64, surf ticketSurface) error {
	st := SettingsOf(c)
	v := surf.Viewer
	form, err := h.readMessageForm(c, store.LimitsFrom(st))
	if err != nil {
		if errors.Is(err, errCSRF) {
			return h.ErrorPage(c, fiber.StatusForbidden)
		}
		return err
	}
	ctx := c.UserContext()
	defer form.Files.Discard(ctx)
	body := form.Fields["body"]
	if form.FileError != "" {
		return h.replyRefused(c, surf, id, body, nil, form.FileError)
	}
	m, err := h.Store.TicketReplyCreate(ctx, v, id, body, store.ReplyOptions{AllowOnClosed: st.AllowReplyOnClosed, ReopenOnReply: st.ReopenOnReply, Files: form.Files})
	var ve *store.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &ve), errors.Is(err, store.ErrTicketClosed), errors.Is(err, store.ErrNoDefaultInbox):
		return h.replyRefused(c, surf, id, body, err, "")
	default:
		return err
	}
	h.Live.Publish(ctx, id)
	if !IsHTMX(c) {
		return c.Redirect(surf.Base+"#message-"+strconv.FormatInt(m.ID, 10), fiber.StatusSeeOther)
	}
	// The page's live region fetches the new message (one path appends messages, so an agent's
	// answer arriving at the same moment is never shown twice).
	TriggerEvent(c, "ticket-changed")
	p := h.newPage(c, "", nil)
	reply := newReplyForm(p, st, id, true)
	reply.Action = surf.Base + "/replies"
	p.Data = map[string]any{
		"Reply":    reply,
		"Announce": p.T("ReplySent"),
	}
	return h.renderFragment(c, fiber.StatusOK, "tickets/reply_created", p)
}

// replyRefused re-renders the reply box (htmx) or the ticket page with the error and the typed
// text (files cannot be kept by a browser: the message asks to attach them again).
func (h *Handlers) replyRefused(c *fiber.Ctx, surf ticketSurface, id int64, body string, cause error, fileErr string) error {
	d, err := h.Store.TicketGetForViewer(c.UserContext(), surf.Viewer, id)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Ticket.Subject, nil)
	tv := h.surfaceView(c, p, d, surf)
	tv.Reply.Body = body
	var ve *store.ValidationError
	switch {
	case fileErr != "":
		st := SettingsOf(c)
		tv.Reply.FileError = attachmentText(p, st, fileErr)
	case errors.As(cause, &ve):
		tv.Reply.Error = p.T(ve.Fields["body"], "Max", store.MaxReplyRunes)
	case errors.Is(cause, store.ErrNoDefaultInbox):
		tv.Reply.Error = p.T("ReplyNoInbox")
	default:
		tv.Reply.Error = p.T("TicketClosedNoReply")
		tv.Reply.CanReply = true // keep the box (and the text) visible with the error
	}
	if IsHTMX(c) {
		p.Data = tv.Reply
		return h.renderFragment(c, fiber.StatusUnprocessableEntity, "tickets/reply_form", p)
	}
	p.Data = tv
	return h.renderPage(c, fiber.StatusUnprocessableEntity, "pages/ticket", p)
}

// TicketClose closes the ticket from the portal (POST /tickets/:id/close) when the setting
// allow_close_from_portal is on; the page asked for confirmation first. 303 (or HX-Redirect) to
// the ticket, which then confirms the closing (?closed=1). Outside scope or not allowed: 404.
func (h *Handlers) TicketClose(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	if !SettingsOf(c).AllowCloseFromPortal {
		return store.ErrNotFound
	}
	if err := h.Store.TicketCloseForViewer(c.UserContext(), h.viewer(c, ""), id); err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10)+"?closed=1")
}
