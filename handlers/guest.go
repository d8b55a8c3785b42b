package handlers

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// Guest links (issue 16.3). A ticket's notification mail may carry a link
// /guest?token=… (the token in the query string, which the access log never writes). Opening
// it checks the token (store.GuestLinkOpen), starts a guest session in Redis (auth.GuestSessions)
// whose cookie is scoped to /guest/t/<ticket>, and redirects to that clean URL, so the token
// leaves the address bar at once. The guest routes (/guest/t/:id/…) are the only ones a guest
// session opens: each request re-checks the session's ticket against the path, the link (live,
// not revoked, not expired, account not disabled) and the recipient's Viewer confined to the
// ticket; anything else answers the ordinary 404 page. No other route reads the guest cookie.

const localGuest = "portico.guest"

// guestAccess is what a guest request holds: its session, the live link, the recipient and
// their Viewer confined to the link's ticket.
type guestAccess struct {
	Session *auth.GuestSession
	Link    store.GuestLink
	Contact store.Contact
	Viewer  store.Viewer
}

// guestOf returns the request's guest access (nil outside the guest routes).
func guestOf(c *fiber.Ctx) *guestAccess {
	g, _ := c.Locals(localGuest).(*guestAccess)
	return g
}

// CheckCSRF reports whether token is the request's CSRF token: the guest session's on the
// guest routes, else the browser session's. A token of one never passes for the other.
func CheckCSRF(c *fiber.Ctx, token string) bool {
	if g := guestOf(c); g != nil {
		return g.Session.CheckCSRF(token)
	}
	return SessionOf(c).CheckCSRF(token)
}

// GuestCookieName is the guest session's cookie: "__Secure-portico_guest" behind https (the
// __Host- prefix would force Path=/, and this cookie is scoped to one ticket's path), else
// "portico_guest".
func (h *Handlers) GuestCookieName() string {
	if h.Config.SecureCookies() {
		return "__Secure-portico_guest"
	}
	return "portico_guest"
}

// guestBase is the path of ticket id's guest page; the guest cookie is scoped to it.
func guestBase(id int64) string { return "/guest/t/" + strconv.FormatInt(id, 10) }

// guestTTL is how long a guest session lives without use: the portal's idle timeout, never
// past the link's expiry.
func guestTTL(st store.Settings, l store.GuestLink) time.Duration {
	return max(min(st.IdleTimeout, time.Until(l.ExpiresAt)), time.Second)
}

// GuestHeaders sets what every guest response carries: no Referer leaves a guest page (its
// URLs name a ticket), and nothing is cached.
func GuestHeaders(c *fiber.Ctx) error {
	c.Set("Referrer-Policy", "no-referrer")
	return c.Next()
}

// GuestOpen opens a guest link (GET /guest?token=…): a live link starts a guest session for
// its ticket and recipient and answers 303 to the ticket's guest page; the token is not
// consumed (the mail's link works again until it expires or is revoked). Guest links off, or a
// forged, expired or revoked token: the ordinary 404 page.
func (h *Handlers) GuestOpen(c *fiber.Ctx) error {
	st := SettingsOf(c)
	if !st.GuestLinksEnabled || h.Guests == nil {
		return store.ErrNotFound
	}
	ctx := c.UserContext()
	l, err := h.Store.GuestLinkOpen(ctx, c.Query("token"))
	if err != nil {
		return err
	}
	gs, err := h.Guests.Create(ctx, l.TicketID, l.ContactID, l.ID, guestTTL(st, l))
	if err != nil {
		return err
	}
	base := guestBase(l.TicketID)
	c.Cookie(&fiber.Cookie{Name: h.GuestCookieName(), Value: gs.ID, Path: base, HTTPOnly: true,
		Secure: h.Config.SecureCookies(), SameSite: fiber.CookieSameSiteLaxMode, SessionOnly: true})
	return c.Redirect(base, fiber.StatusSeeOther)
}

// RequireGuest guards the guest routes /guest/t/:id/…: the guest cookie must name a guest
// session for ticket :id whose link is still live, and the recipient must still see the ticket
// (their Viewer, confined to it). Anything else: the ordinary 404 page (a dead session is
// deleted). It picks the page language from the recipient's own choice first.
func (h *Handlers) RequireGuest(c *fiber.Ctx) error {
	st := SettingsOf(c)
	if !st.GuestLinksEnabled || h.Guests == nil {
		return store.ErrNotFound
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	gs, err := h.Guests.Load(ctx, c.Cookies(h.GuestCookieName()), st.IdleTimeout)
	if errors.Is(err, auth.ErrNoSession) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if gs.TicketID != id {
		return store.ErrNotFound
	}
	l, err := h.Store.GuestLinkLive(ctx, gs.LinkID)
	if err == nil && (l.TicketID != gs.TicketID || l.ContactID != gs.ContactID) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		_ = h.Guests.Destroy(ctx, gs.ID)
		return err
	}
	if err != nil {
		return err
	}
	ct, err := h.Store.ContactGetSignedIn(ctx, gs.ContactID)
	if err != nil {
		return err
	}
	g := &guestAccess{Session: gs, Link: l, Contact: ct, Viewer: store.GuestViewer(l, ct, st)}
	if err := h.Store.TicketVisible(ctx, g.Viewer, id); err != nil {
		return err
	}
	c.Locals(localGuest, g)
	loc := h.Catalogue.Pick(ct.Language, c.Cookies(LanguageCookie), c.Get(fiber.HeaderAcceptLanguage), st.PortalLanguage)
	loc.Zone = ZoneFromCookie(c.Cookies(ZoneCookie))
	SetLocale(c, loc)
	return c.Next()
}

// guestSurface is the ticket surface of a guest request (after RequireGuest).
func guestSurface(c *fiber.Ctx) ticketSurface {
	g := guestOf(c)
	return ticketSurface{Viewer: g.Viewer, Base: guestBase(g.Link.TicketID), Guest: g}
}

// guestView is the guest page's banner (pages/ticket.html with a guest surface).
type guestView struct {
	Intro, SignIn, SignInHref string
}

// guestTicketView narrows the ticket page to what a guest link allows: the conversation and
// the reply box (as its recipient may reply), nothing else — no close, accept, rating or
// sharing, no link to the list; attachments through the guest route.
func (h *Handlers) guestTicketView(c *fiber.Ctx, p *Page, d store.TicketDetail) *ticketView {
	g := guestOf(c)
	tv := h.ticketView(c, p, d)
	base := guestBase(d.Ticket.ID)
	tv.Base = base
	tv.CloseAction, tv.Confirm, tv.Rating, tv.Sharing = "", nil, nil, nil
	tv.Reply.Action = base + "/replies"
	for i, m := range d.Messages {
		tv.Messages[i].Attachments = attachmentLinks(p, m.Attachments, base+"/attachments/")
	}
	until, _ := p.Locale.Times(g.Link.ExpiresAt)
	tv.Guest = &guestView{Intro: p.T("GuestIntro", "Email", g.Contact.Email, "Until", until),
		SignIn: p.T("GuestSignIn"), SignInHref: "/login"}
	return tv
}

// GuestTicketShow shows the guest page of a ticket (GET /guest/t/:id, after RequireGuest).
func (h *Handlers) GuestTicketShow(c *fiber.Ctx) error {
	VaryHTMX(c)
	g := guestOf(c)
	d, err := h.Store.TicketGetForViewer(c.UserContext(), g.Viewer, g.Link.TicketID)
	if err != nil {
		return err
	}
	p := h.newPage(c, d.Ticket.Subject, nil)
	p.Data = h.guestTicketView(c, p, d)
	return h.renderPage(c, fiber.StatusOK, "pages/ticket", p)
}

// GuestReplyCreate posts the recipient's reply through a guest link (POST
// /guest/t/:id/replies): exactly TicketReplyCreate — the same store call, attachments, live
// update and answers — as the link's contact, on the link's ticket only.
func (h *Handlers) GuestReplyCreate(c *fiber.Ctx) error {
	return h.replyCreate(c, guestOf(c).Link.TicketID, guestSurface(c))
}

// GuestMessagesAfter is TicketMessagesAfter for the guest page (GET /guest/t/:id/messages).
func (h *Handlers) GuestMessagesAfter(c *fiber.Ctx) error {
	return h.messagesAfter(c, guestOf(c).Link.TicketID, guestSurface(c))
}

// GuestTicketEvents is TicketEvents for the guest page (GET /guest/t/:id/events): the stream
// also ends when the link is revoked or expires.
func (h *Handlers) GuestTicketEvents(c *fiber.Ctx) error {
	g := guestOf(c)
	linkID := g.Link.ID
	return h.ticketEvents(c, g.Link.TicketID, g.Viewer, func(ctx context.Context) error {
		_, err := h.Store.GuestLinkLive(ctx, linkID)
		return err
	})
}

// GuestAttachmentDownload streams an attachment of the link's ticket (GET
// /guest/t/:id/attachments/:file): public messages only, the same headers as
// AttachmentDownload. An attachment of any other ticket: 404.
func (h *Handlers) GuestAttachmentDownload(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("file"), 10, 64)
	if err != nil || id <= 0 {
		return store.ErrNotFound
	}
	a, r, err := h.Store.AttachmentGetForViewer(c.UserContext(), guestOf(c).Viewer, id)
	if err != nil {
		return err
	}
	return sendAttachment(c, a, r)
}

// inboxGuestLinks is the inbox ticket page's guest-link box (inbox/guest_links.html).
type inboxGuestLinks struct {
	// Status says how many emailed links open the ticket now, and until when.
	Status string
	// Action revokes them ("" = none to revoke).
	Action string
}

// inboxGuestLinks builds the box while guest links are on (nil otherwise).
func (h *Handlers) inboxGuestLinks(c *fiber.Ctx, p *Page, ticketID int64) (*inboxGuestLinks, error) {
	if !SettingsOf(c).GuestLinksEnabled {
		return nil, nil
	}
	gs, err := h.Store.GuestLinkStatusGet(c.UserContext(), ticketID)
	if err != nil {
		return nil, err
	}
	v := &inboxGuestLinks{Status: p.T("GuestLinksNone")}
	if gs.Live > 0 {
		until, _ := p.Locale.Times(gs.Until)
		v.Status = p.T("GuestLinksLive", "Count", gs.Live, "Until", until)
		v.Action = "/admin/inbox/" + strconv.FormatInt(ticketID, 10) + "/guest-links/revoke"
	}
	return v, nil
}

// InboxGuestLinksRevoke revokes every live guest link of a ticket (POST
// /admin/inbox/:id/guest-links/revoke, staff; the page asked for confirmation first) and ends
// the open guest pages' live streams. Audited. 303 back with the count. Unknown ticket: 404.
func (h *Handlers) InboxGuestLinksRevoke(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	n, err := h.Store.GuestLinksRevoke(c.UserContext(), *StaffOf(c), id)
	if err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id) // open guest streams re-check their link and end
	return Redirect(c, "/admin/inbox/"+strconv.FormatInt(id, 10)+"?done=guest_links_revoked&n="+strconv.FormatInt(n, 10)+"#guest-links")
}
