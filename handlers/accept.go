package handlers

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// Accept or reopen (issue 16.5): the ticket page asks "Is this solved?" when an agent moved
// the ticket to a stage that asks for confirmation. "Yes" posts to /tickets/:id/accept and
// closes the ticket; "No, it still happens" leads to the reply box, whose reply reopens it.

// confirmView is the "Is this solved?" box (tickets/confirm.html).
type confirmView struct {
	// AcceptAction is the "Yes" form's URL.
	AcceptAction string
}

// ticketStateSolved is the page state of a ticket waiting for the customer's confirmation: a
// live update that finds another state swaps the box away (or in).
const ticketStateSolved = "solved"

// confirmSolution adds the question for a viewer who holds a ticket marked solved, and says
// beside the reply box that a reply reopens it.
func confirmSolution(p *Page, tv *ticketView, d store.TicketDetail) {
	if !d.Ticket.AwaitsConfirmation {
		return
	}
	tv.State = ticketStateSolved
	if !d.Access.Manage {
		return
	}
	tv.Confirm = &confirmView{AcceptAction: "/tickets/" + strconv.FormatInt(d.Ticket.ID, 10) + "/accept"}
	tv.CloseAction = "" // "Yes, close the ticket" says the same
	if tv.Reply.CanReply {
		tv.Reply.Notice = p.T("SolvedReplyReopens")
	}
}

// TicketAccept confirms a solved ticket (POST /tickets/:id/accept): it is closed, and the page
// thanks the customer (?accepted=1). A ticket no longer waiting (the page was stale): back to
// the ticket. Not the ticket's holder: 404.
func (h *Handlers) TicketAccept(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	err = h.Store.TicketAcceptForViewer(c.UserContext(), h.viewer(c, ""), id)
	if errors.Is(err, store.ErrConflict) {
		return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10))
	}
	if err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10)+"?accepted=1")
}
