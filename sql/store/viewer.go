package store

import "strconv"

// Ticket listing views (query string `view`).
const (
	ViewMine = "mine"
	ViewOrg  = "org"
	// ViewShared lists the tickets others shared with the viewer (participants, issue 16.1).
	ViewShared = "shared"
)

// Viewer is the customer on whose behalf a store method runs: the permission model of
// ARCHITECTURE.md. Build it from the session and the portal settings on every request.
type Viewer struct {
	// ContactID is the signed-in contact.
	ContactID int64
	// CompanyID is the contact's primary company (0 when none).
	CompanyID int64
	// Permissions is PermissionsOwn or PermissionsCompany (setting ticket_permissions).
	Permissions string
	// View is ViewMine or ViewOrg; ViewOrg counts only with PermissionsCompany and a company.
	View string
	// AllThreads shows every public conversation of a ticket, not only the oldest (setting
	// show_all_threads).
	AllThreads bool
	// Filters are the admin's ticket-filter rules (setting ticket_filters), part of every scope.
	Filters []FilterRule
	// ParticipantsReply lets participants reply (setting participants_can_reply); without it a
	// participant reads a shared ticket but never writes to it.
	ParticipantsReply bool
	// OnlyTicket, when not 0, confines the viewer to that one ticket: every predicate below
	// (list, detail, reply, manage, attachments) also requires t.id = OnlyTicket. A guest link's
	// viewer (GuestViewer) carries it.
	OnlyTicket int64
}

// NewViewer returns the Viewer for a contact under the portal settings, with the requested
// view normalised: org only when the settings allow it and the contact has a company.
func NewViewer(contactID, companyID int64, st Settings, view string) Viewer {
	v := Viewer{ContactID: contactID, CompanyID: companyID, Permissions: st.TicketPermissions, View: ViewMine, AllThreads: st.ShowAllThreads,
		Filters: st.TicketFilters, ParticipantsReply: st.ParticipantsCanReply}
	if view == ViewShared {
		v.View = ViewShared
	} else if v.CanSeeOrg() && view != ViewMine {
		v.View = ViewOrg // company mode defaults to Organization tickets, as the reference does
	}
	return v
}

// CanSeeOrg reports whether the viewer may switch to organization tickets.
func (v Viewer) CanSeeOrg() bool {
	return v.Permissions == PermissionsCompany && v.CompanyID != 0
}

// scope returns the one predicate over tickets alias t that every ticket-returning query uses,
// appending its arguments to args. Another contact's ticket never matches: the requester is the
// viewer, or (company mode, org view) the ticket's company is the viewer's primary company, or
// (shared view) the viewer is one of the ticket's participants.
func (v Viewer) scope(args *[]any) string {
	if v.ContactID == 0 {
		return "false"
	}
	var p string
	if v.View == ViewShared {
		p = v.participant(args)
	} else if v.View == ViewOrg && v.CanSeeOrg() {
		*args = append(*args, v.CompanyID)
		p = "t.company_id = $" + strconv.Itoa(len(*args))
	} else {
		*args = append(*args, v.ContactID)
		p = "t.requester_id = $" + strconv.Itoa(len(*args))
	}
	return v.withFilters(p, args)
}

// withFilters adds the admin's ticket-filter rules (and the one-ticket confinement of
// OnlyTicket) to a scope predicate.
func (v Viewer) withFilters(p string, args *[]any) string {
	if v.OnlyTicket != 0 {
		*args = append(*args, v.OnlyTicket)
		p = "(" + p + " AND t.id = $" + strconv.Itoa(len(*args)) + ")"
	}
	if f := filterSQL(v.Filters, args); f != "" {
		return "(" + p + " AND " + f + ")"
	}
	return p
}

// participant is the predicate "the viewer is a participant of ticket t".
func (v Viewer) participant(args *[]any) string {
	*args = append(*args, v.ContactID)
	return "EXISTS (SELECT 1 FROM ticket_participants tp WHERE tp.ticket_id = t.id AND tp.contact_id = $" + strconv.Itoa(len(*args)) + ")"
}

// ownScope is the predicate without filters for what the viewer holds as requester or, in
// company mode, through their company: the tickets they may act on (close, accept, rate, share).
func (v Viewer) ownScope(args *[]any) string {
	*args = append(*args, v.ContactID)
	p := "(t.requester_id = $" + strconv.Itoa(len(*args))
	if v.CanSeeOrg() {
		*args = append(*args, v.CompanyID)
		p += " OR t.company_id = $" + strconv.Itoa(len(*args))
	}
	return p + ")"
}

// detailScope is the predicate for reaching a single ticket: anything the viewer could list in
// any of its views (a ticket of the company stays reachable while "Owned by me" is chosen, a
// shared one while another view is chosen).
func (v Viewer) detailScope(args *[]any) string {
	if v.ContactID == 0 {
		return "false"
	}
	p := v.ownScope(args)
	return v.withFilters("("+p+" OR "+v.participant(args)+")", args)
}

// replyScope is the predicate for writing to a ticket: the detail scope, but participants only
// when the admin lets them reply (ParticipantsReply).
func (v Viewer) replyScope(args *[]any) string {
	if !v.ParticipantsReply {
		return v.manageScope(args)
	}
	return v.detailScope(args)
}

// manageScope is the predicate for acting on a ticket as its owner (close, accept or reopen,
// rate, share): requester or company, never a participant.
func (v Viewer) manageScope(args *[]any) string {
	if v.ContactID == 0 {
		return "false"
	}
	return v.withFilters(v.ownScope(args), args)
}

// searchMatches returns the query listing the ids of tickets matching pattern (an ILIKE
// pattern, argument pat) within the viewer's list scope: subjects (as id) and public message
// bodies (as -id), each through a (scope column, trigram) index and each branch limited to limit
// rows on its own, so it costs what it finds rather than the size of the company. Filters apply
// to the outer query.
func (v Viewer) searchMatches(pat string, limit int, args *[]any) string {
	l := strconv.Itoa(limit)
	if v.View == ViewShared {
		*args = append(*args, v.ContactID)
		n := "$" + strconv.Itoa(len(*args))
		return "(SELECT s.id FROM tickets s JOIN ticket_participants tp ON tp.ticket_id = s.id WHERE tp.contact_id = " + n + " AND s.subject ILIKE " + pat + " LIMIT " + l + ")" +
			" UNION ALL (SELECT -m.ticket_id FROM messages m JOIN ticket_participants tp ON tp.ticket_id = m.ticket_id WHERE tp.contact_id = " + n +
			" AND m.kind = 'public' AND m.body ILIKE " + pat + " LIMIT " + l + ")"
	}
	col, val := "requester_id", any(v.ContactID)
	if v.View == ViewOrg && v.CanSeeOrg() {
		col, val = "company_id", any(v.CompanyID)
	}
	*args = append(*args, val)
	n := "$" + strconv.Itoa(len(*args))
	return "(SELECT s.id FROM tickets s WHERE s." + col + " = " + n + " AND s.subject ILIKE " + pat + " LIMIT " + l + ")" +
		" UNION ALL (SELECT -m.ticket_id FROM messages m WHERE m." + col + " = " + n + " AND m.kind = 'public' AND m.body ILIKE " + pat + " LIMIT " + l + ")"
}
