package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// Participants (issue 16.1): the "Shared with" box of the ticket page and the inbox, and the
// forms that add and remove people. Every customer path goes through the store's Viewer
// predicate; the forms post and redirect, so they work without JavaScript.

// participantView is one participant as a page shows it.
type participantView struct {
	ContactID int64
	Name      string
	Email     string
	// Via says how they were added ("Added by Anna", "Added from an email's Cc").
	Via string
	// RemoveAction is the form URL that removes them ("" = this viewer may not).
	RemoveAction string
	// RemoveLabel is the remove button's text ("Remove" or, for oneself, "Stop sharing with me").
	RemoveLabel string
	// IsSelf marks the viewer's own entry.
	IsSelf bool
}

// sharingView is the ticket page's "Shared with" box (tickets/participants.html).
type sharingView struct {
	People []participantView
	// ShareAction is the "Share with" form's URL ("" = this viewer may not share).
	ShareAction string
	// ShareHelp explains whom one may share with (the admin's policy).
	ShareHelp string
	Email     string
	Error     string
	// Notice confirms a change ("Shared with …", "Removed").
	Notice string
	// Intro says why the viewer sees the ticket when it was shared with them.
	Intro string
}

// participantViews formats participants; removeBase is the route prefix of the remove forms
// ("" = none may be removed), self the viewer's contact id (0 = staff).
func participantViews(p *Page, list []store.Participant, removeBase string, self int64, manage bool) []participantView {
	out := make([]participantView, len(list))
	for i, x := range list {
		v := participantView{ContactID: x.ContactID, Name: x.Name, Email: x.Email, IsSelf: x.ContactID == self}
		if v.Name == "" {
			v.Name = x.Email
		}
		switch x.AddedVia {
		case store.AddedByEmail:
			v.Via = p.T("ParticipantViaEmail")
		default:
			if x.AddedBy != "" {
				v.Via = p.T("ParticipantAddedBy", "Name", x.AddedBy)
			}
		}
		if removeBase != "" && (manage || v.IsSelf) {
			v.RemoveAction = removeBase + strconv.FormatInt(x.ContactID, 10) + "/remove"
			v.RemoveLabel = p.T("ParticipantRemove", "Name", v.Name)
			if v.IsSelf {
				v.RemoveLabel = p.T("ParticipantLeave")
			}
		}
		out[i] = v
	}
	return out
}

// sharingHelp describes the admin's sharing policy in the viewer's language.
func sharingHelp(p *Page, st store.Settings) string {
	switch st.TicketSharing {
	case store.SharingCompany:
		return p.T("ShareHelpCompany")
	case store.SharingDomains:
		return p.T("ShareHelpDomains", "Domains", strings.Join(st.TicketSharingDomains, ", "))
	case store.SharingAnyone:
		return p.T("ShareHelpAnyone")
	}
	return ""
}

// sharingView builds the box from the ticket's participants (d.Participants, read with the
// ticket); d.Access tells what the viewer may do.
func (h *Handlers) sharingView(c *fiber.Ctx, p *Page, d store.TicketDetail) *sharingView {
	v := h.viewer(c, "")
	list := d.Participants
	st := SettingsOf(c)
	id := strconv.FormatInt(d.Ticket.ID, 10)
	sv := &sharingView{People: participantViews(p, list, "/tickets/"+id+"/participants/", v.ContactID, d.Access.Manage)}
	if d.Access.Manage && st.TicketSharing != store.SharingOff && st.TicketSharing != "" {
		sv.ShareAction = "/tickets/" + id + "/participants"
		sv.ShareHelp = sharingHelp(p, st)
	}
	if d.Access.Participant && !d.Access.Manage {
		sv.Intro = p.T("SharedWithYouIntro")
	}
	switch c.Query("shared") {
	case "added":
		sv.Notice = p.T("ShareAdded")
	case "removed":
		sv.Notice = p.T("ShareRemoved")
	}
	return sv
}

// participantAccess narrows the ticket view to what a participant may do: no close button
// unless the viewer holds the ticket, and a read-only notice instead of the reply box when
// participants may not reply.
func participantAccess(p *Page, tv *ticketView, d store.TicketDetail) {
	if !d.Access.Manage {
		tv.CloseAction = ""
	}
	if !d.Access.Reply {
		tv.Reply.CanReply = false
		tv.Reply.Notice = ""
		tv.Reply.ClosedNotice = p.T("ParticipantReadOnly")
	}
}

// TicketShareCreate shares a ticket with a colleague or an allowed address (POST
// /tickets/:id/participants, field email): 303 back to the ticket with a notice; 422 with the
// page and the message beside the field. Not the ticket's holder, or sharing off: 404.
func (h *Handlers) TicketShareCreate(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	v := h.viewer(c, "")
	email := strings.TrimSpace(c.FormValue("email"))
	_, err = h.Store.TicketShareForViewer(c.UserContext(), v, SettingsOf(c), id, email)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		d, gerr := h.Store.TicketGetForViewer(c.UserContext(), v, id)
		if gerr != nil {
			return gerr
		}
		p := h.newPage(c, d.Ticket.Subject, nil)
		tv := h.ticketView(c, p, d)
		participantAccess(p, tv, d)
		tv.Sharing = h.sharingView(c, p, d)
		tv.Sharing.Email = email
		tv.Sharing.Error = p.T(ve.Fields["email"])
		p.Data = tv
		return h.renderPage(c, fiber.StatusUnprocessableEntity, "pages/ticket", p)
	}
	if err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10)+"?shared=added#participants")
}

// TicketParticipantRemove removes a participant (POST /tickets/:id/participants/:contact/remove):
// the ticket's holder removes anyone, a participant themselves. Their access ends at once (open
// live streams close at the next notice). 303 to the ticket, or to the list for someone who
// left. Outside scope: 404.
func (h *Handlers) TicketParticipantRemove(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	contact, err := strconv.ParseInt(c.Params("contact"), 10, 64)
	if err != nil || contact <= 0 {
		return store.ErrNotFound
	}
	v := h.viewer(c, "")
	if err := h.Store.TicketParticipantRemoveForViewer(c.UserContext(), v, id, contact); err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	if contact == v.ContactID {
		if err := h.Store.TicketVisible(c.UserContext(), v, id); err != nil {
			return Redirect(c, "/tickets?left=1")
		}
	}
	return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10)+"?shared=removed#participants")
}

// inboxSharing builds the inbox ticket's participant box: everyone may be removed, anyone added.
func (h *Handlers) inboxSharing(c *fiber.Ctx, p *Page, ticketID int64) (*sharingView, error) {
	list, err := h.Store.InboxParticipantList(c.UserContext(), ticketID)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(ticketID, 10)
	return &sharingView{People: participantViews(p, list, "/admin/inbox/"+id+"/participants/", 0, true),
		ShareAction: "/admin/inbox/" + id + "/participants", ShareHelp: p.T("InboxShareHelp")}, nil
}

// InboxParticipantCreate adds a participant for staff (POST /admin/inbox/:id/participants, field
// email; an unknown address becomes a contact). 303 back; 422 with the message beside the field.
func (h *Handlers) InboxParticipantCreate(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	email := strings.TrimSpace(c.FormValue("email"))
	_, err = h.Store.InboxParticipantAdd(c.UserContext(), *StaffOf(c), id, email)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		d, gerr := h.Store.InboxTicketGet(c.UserContext(), id)
		if gerr != nil {
			return gerr
		}
		p := h.newPage(c, d.Subject, nil)
		v, verr := h.inboxTicketView(c, p, d)
		if verr != nil {
			return verr
		}
		v.Sharing.Email, v.Sharing.Error = email, p.T(ve.Fields["email"])
		return h.renderInboxPage(c, fiber.StatusUnprocessableEntity, p, v)
	}
	if err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	return Redirect(c, "/admin/inbox/"+strconv.FormatInt(id, 10)+"?done=participant_added#participants")
}

// InboxParticipantRemove removes a participant for staff (POST
// /admin/inbox/:id/participants/:contact/remove). 303 back. Unknown: 404.
func (h *Handlers) InboxParticipantRemove(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	contact, err := strconv.ParseInt(c.Params("contact"), 10, 64)
	if err != nil || contact <= 0 {
		return store.ErrNotFound
	}
	if err := h.Store.InboxParticipantRemove(c.UserContext(), id, contact); err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id) // the removed participant's open page loses the ticket
	return Redirect(c, "/admin/inbox/"+strconv.FormatInt(id, 10)+"?done=participant_removed#participants")
}

// listViews fills the list's View menu: Organization tickets (company mode), Owned by me, and
// Shared with me when tickets are shared with the viewer (lv.HasShared, from the listing's
// ProbeShared answer, or that view is shown).
func (h *Handlers) listViews(c *fiber.Ctx, p *Page, v store.Viewer, lv *listView) {
	st := lv.State
	lv.CanSeeOrg = v.CanSeeOrg()
	lv.HasShared = lv.HasShared || v.View == store.ViewShared
	if c.Query("left") == "1" {
		lv.Notice = p.T("ShareLeft")
	}
	lv.ShowViews = lv.CanSeeOrg || lv.HasShared
	if !lv.ShowViews {
		return
	}
	switch st.View {
	case store.ViewOrg:
		lv.ViewLabel = p.T("OrganizationTickets")
	case store.ViewShared:
		lv.ViewLabel = p.T("SharedWithMe")
	default:
		lv.ViewLabel = p.T("OwnedByMe")
	}
	lv.MineHref = listState{View: store.ViewMine, Q: st.Q, Status: st.Status, Sort: st.Sort}.query("")
	if lv.CanSeeOrg {
		lv.OrgHref = listState{View: store.ViewOrg, Q: st.Q, Status: st.Status, Sort: st.Sort}.query("")
	}
	if lv.HasShared {
		lv.SharedHref = listState{View: store.ViewShared, Q: st.Q, Status: st.Status, Sort: st.Sort}.query("")
	}
}
