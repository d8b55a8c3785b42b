package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The customer side of the JSON API: exactly what the portal shows the token's contact, through
// the same store methods, the same Viewer and the same settings as /tickets.

// apiViewer builds the token's Viewer like the portal's (store.NewViewer, settings of the
// request); view is "mine", "org" or "" (the portal's default).
func (h *Handlers) apiViewer(c *fiber.Ctx, view string) store.Viewer {
	p := APIPrincipalOf(c)
	return store.NewViewer(p.ContactID, p.CompanyID, SettingsOf(c), view)
}

// apiTicketSummary is one row of the ticket list (schema TicketSummary).
type apiTicketSummary struct {
	ID             int64     `json:"id"`
	Subject        string    `json:"subject"`
	Requester      string    `json:"requester"`
	Owner          *string   `json:"owner"`
	Status         string    `json:"status"`
	Stage          *string   `json:"stage,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
}

// apiTicketPage is one page of tickets (schema TicketPage).
type apiTicketPage struct {
	Data       []apiTicketSummary `json:"data"`
	NextCursor *string            `json:"next_cursor"`
	PrevCursor *string            `json:"prev_cursor"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ticketStatus(closed bool) string {
	if closed {
		return store.StatusClosed
	}
	return store.StatusOpen
}

// APITicketList lists the customer's tickets (GET /api/v1/tickets): query view (mine|org), q,
// status (open|closed|all), sort (as the portal's), cursor, limit (1–100, default 25). The
// answer carries next/prev cursors and a Link header (RFC 8288) for them.
func (h *Handlers) APITicketList(c *fiber.Ctx) error {
	status := c.Query("status", store.StatusAll)
	switch status {
	case store.StatusOpen, store.StatusClosed, store.StatusAll:
	default:
		return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "status must be open, closed or all.")
	}
	view := c.Query("view")
	if view != "" && view != store.ViewMine && view != store.ViewOrg && view != store.ViewShared {
		return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "view must be mine, org or shared.")
	}
	limit := 25
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "limit must be a number from 1 to 100.")
		}
		limit = n
	}
	q := c.Query("q")
	if len([]rune(q)) > 200 {
		return APIProblem(c, fiber.StatusBadRequest, problemInvalidParams, "q is longer than 200 characters.")
	}
	sort := store.NormalizeTicketSort(c.Query("sort"))
	st := SettingsOf(c)
	v := h.apiViewer(c, view)
	page, err := h.Store.TicketListForViewer(c.UserContext(), v, store.TicketListParams{Q: q, Status: status, Sort: sort,
		Cursor: c.Query("cursor"), Limit: limit, StatusByStage: st.ShowCustomStages})
	if err != nil {
		return err
	}
	out := apiTicketPage{Data: make([]apiTicketSummary, len(page.Rows)), NextCursor: strOrNil(page.NextCursor), PrevCursor: strOrNil(page.PrevCursor)}
	for i, r := range page.Rows {
		t := apiTicketSummary{ID: r.ID, Subject: r.Subject, Requester: r.RequesterName, Owner: strOrNil(r.OwnerName),
			Status: ticketStatus(r.IsClosed), CreatedAt: r.CreatedAt.UTC(), LastActivityAt: r.LastActivityAt.UTC()}
		if st.ShowCustomStages {
			t.Stage = &r.StageName
		}
		out.Data[i] = t
	}
	link := func(cur, rel string) string {
		qv := url.Values{}
		for k, val := range map[string]string{"view": view, "q": q, "status": c.Query("status"), "sort": c.Query("sort"), "limit": c.Query("limit")} {
			if val != "" {
				qv.Set(k, val)
			}
		}
		qv.Set("cursor", cur)
		return "<" + APIPrefix + "/tickets?" + qv.Encode() + `>; rel="` + rel + `"`
	}
	var links []string
	if page.NextCursor != "" {
		links = append(links, link(page.NextCursor, "next"))
	}
	if page.PrevCursor != "" {
		links = append(links, link(page.PrevCursor, "prev"))
	}
	for _, l := range links {
		c.Append(fiber.HeaderLink, l)
	}
	return writeJSON(c, fiber.StatusOK, out)
}

// apiAttachment is an attachment's metadata (schema Attachment); its bytes are at URL.
type apiAttachment struct {
	ID          int64  `json:"id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	URL         string `json:"url"`
}

// apiMessage is one public message (schema Message).
type apiMessage struct {
	ID           int64           `json:"id"`
	Author       string          `json:"author"`
	FromCustomer bool            `json:"from_customer"`
	Body         string          `json:"body"`
	CreatedAt    time.Time       `json:"created_at"`
	Channel      string          `json:"channel"`
	Attachments  []apiAttachment `json:"attachments"`
}

// apiField is a custom property of a support form (schema Field).
type apiField struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// apiTicket is one ticket with its public messages (schema Ticket).
type apiTicket struct {
	ID             int64        `json:"id"`
	Subject        string       `json:"subject"`
	Status         string       `json:"status"`
	Stage          *string      `json:"stage,omitempty"`
	Pipeline       string       `json:"pipeline"`
	Priority       string       `json:"priority"`
	Category       string       `json:"category"`
	Channel        string       `json:"channel"`
	Requester      string       `json:"requester"`
	Company        *string      `json:"company"`
	Owner          *string      `json:"owner"`
	CreatedAt      time.Time    `json:"created_at"`
	LastActivityAt time.Time    `json:"last_activity_at"`
	ClosedAt       *time.Time   `json:"closed_at"`
	Fields         []apiField   `json:"fields"`
	Messages       []apiMessage `json:"messages"`
	// CanReply and CanClose say what the portal would offer on this ticket now.
	CanReply bool `json:"can_reply"`
	CanClose bool `json:"can_close"`
}

func apiMessageOf(m store.Message) apiMessage {
	am := apiMessage{ID: m.ID, Author: m.AuthorName, FromCustomer: m.FromCustomer, Body: m.Body, CreatedAt: m.CreatedAt.UTC(),
		Channel: m.Channel, Attachments: make([]apiAttachment, len(m.Attachments))}
	for i, a := range m.Attachments {
		am.Attachments[i] = apiAttachment{ID: a.ID, FileName: a.FileName, ContentType: a.ContentType, SizeBytes: a.SizeBytes,
			URL: APIPrefix + "/attachments/" + strconv.FormatInt(a.ID, 10)}
	}
	return am
}

func apiTicketOf(st store.Settings, d store.TicketDetail) apiTicket {
	t := d.Ticket
	out := apiTicket{ID: t.ID, Subject: t.Subject, Status: ticketStatus(t.IsClosed), Pipeline: t.PipelineName, Priority: t.Priority,
		Category: t.Category, Channel: t.Channel, Requester: t.RequesterName, Company: strOrNil(t.CompanyName), Owner: strOrNil(t.OwnerName),
		CreatedAt: t.CreatedAt.UTC(), LastActivityAt: t.LastActivityAt.UTC(), ClosedAt: t.ClosedAt,
		Fields: make([]apiField, len(t.Fields)), Messages: make([]apiMessage, len(d.Messages)),
		CanReply: !t.IsClosed || st.AllowReplyOnClosed || st.ReopenOnReply, CanClose: !t.IsClosed && st.AllowCloseFromPortal}
	if st.ShowCustomStages {
		out.Stage = &t.StageName
	}
	if out.ClosedAt != nil {
		u := out.ClosedAt.UTC()
		out.ClosedAt = &u
	}
	for i, f := range t.Fields {
		out.Fields[i] = apiField{Label: f.Label, Value: f.Value}
	}
	for i, m := range d.Messages {
		out.Messages[i] = apiMessageOf(m)
	}
	return out
}

// APITicketShow returns one of the customer's tickets with its public messages (GET
// /api/v1/tickets/:id). Outside the Viewer's scope: 404, as in the portal.
func (h *Handlers) APITicketShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := h.Store.TicketGetForViewer(c.UserContext(), h.apiViewer(c, ""), id)
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, apiTicketOf(SettingsOf(c), d))
}

// apiReplyInput is the body of a reply (schema ReplyInput).
type apiReplyInput struct {
	Body string `json:"body"`
}

// APITicketReplyCreate adds the customer's public reply (POST /api/v1/tickets/:id/messages,
// body {"body": "…"}): 201 with the message and its Location; the settings decide as in the
// portal (closed tickets: 409 unless allow_reply_on_closed or reopen_on_reply). 422 for an empty
// or too long text; 404 outside scope. Open ticket pages update live.
func (h *Handlers) APITicketReplyCreate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in apiReplyInput
	if err := decodeJSON(c, &in); err != nil {
		return bodyDone(err)
	}
	st := SettingsOf(c)
	m, err := h.Store.TicketReplyCreate(c.UserContext(), h.apiViewer(c, ""), id, in.Body,
		store.ReplyOptions{AllowOnClosed: st.AllowReplyOnClosed, ReopenOnReply: st.ReopenOnReply})
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return h.validationProblem(c, ve)
	case errors.Is(err, store.ErrTicketClosed):
		return APIProblem(c, fiber.StatusConflict, "", "The ticket is closed; replies are not accepted.")
	case err != nil:
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	m.Channel = "portal"
	c.Location(APIPrefix + "/tickets/" + strconv.FormatInt(id, 10) + "#message-" + strconv.FormatInt(m.ID, 10))
	return writeJSON(c, fiber.StatusCreated, apiMessageOf(m))
}

// APITicketClose closes the customer's ticket (POST /api/v1/tickets/:id/close) when the setting
// allow_close_from_portal is on (else 404, as the portal); closing a closed ticket changes
// nothing. It answers the ticket.
func (h *Handlers) APITicketClose(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	st := SettingsOf(c)
	if !st.AllowCloseFromPortal {
		return store.ErrNotFound
	}
	v := h.apiViewer(c, "")
	if err := h.Store.TicketCloseForViewer(c.UserContext(), v, id); err != nil {
		return err
	}
	h.Live.Publish(c.UserContext(), id)
	d, err := h.Store.TicketGetForViewer(c.UserContext(), v, id)
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, apiTicketOf(st, d))
}

// APIAttachmentDownload sends an attachment of a ticket in the customer's scope (GET
// /api/v1/attachments/:id), like /attachments/:id; outside scope 404.
func (h *Handlers) APIAttachmentDownload(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, r, err := h.Store.AttachmentGetForViewer(c.UserContext(), h.apiViewer(c, ""), id)
	if err != nil {
		return err
	}
	return sendAttachment(c, a, r)
}

// apiMe is the caller (schema Me).
type apiMe struct {
	Kind    string   `json:"kind"`
	Contact *apiWho  `json:"contact,omitempty"`
	Scopes  []string `json:"scopes"`
}

type apiWho struct {
	ID      int64   `json:"id"`
	Email   string  `json:"email"`
	Name    string  `json:"name"`
	Company *string `json:"company"`
	// CanSeeOrg says whether view=org lists the company's tickets.
	CanSeeOrg bool `json:"can_see_org"`
}

// APIMe describes the token's caller (GET /api/v1/me).
func (h *Handlers) APIMe(c *fiber.Ctx) error {
	p := APIPrincipalOf(c)
	out := apiMe{Kind: p.Kind, Scopes: p.Scopes}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if p.Kind == store.TokenCustomer {
		ct, err := h.Store.ContactGet(c.UserContext(), p.ContactID)
		if err != nil {
			return err
		}
		out.Contact = &apiWho{ID: ct.ID, Email: ct.Email, Name: ct.Name, Company: strOrNil(ct.CompanyName), CanSeeOrg: h.apiViewer(c, "").CanSeeOrg()}
	}
	return writeJSON(c, fiber.StatusOK, out)
}
