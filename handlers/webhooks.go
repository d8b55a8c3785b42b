package handlers

import (
	"context"
	"encoding/json"
	"time"

	"portico/sql/store"
	"portico/webhook"
)

// The body of a webhook message (Standard Webhooks payload structure): the event's type, when
// it happened, and data in the JSON API's own representations (schemas AdminTicket, Message,
// Contact), so a receiver parses one format whether it polls or listens.
type webhookPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      webhookData `json:"data"`
}

type webhookData struct {
	// Ticket is the ticket as admin keys see it (AdminTicket) without its messages.
	Ticket *webhookTicket `json:"ticket,omitempty"`
	// Message is the message added (message.added) or the ticket's first message
	// (ticket.created); internal notes have internal: true.
	Message *apiStaffMessage `json:"message,omitempty"`
	// PreviousStage is the stage the ticket left (ticket.stage_changed, ticket.closed).
	PreviousStage *webhookStage `json:"previous_stage,omitempty"`
	// Rating is the customer's vote (satisfaction.rated).
	Rating *webhookRating `json:"rating,omitempty"`
	// Contact is the new contact (contact.created).
	Contact *apiContact `json:"contact,omitempty"`
}

// webhookTicket is AdminTicket without messages (Messages shadows the embedded ones; nil is
// left out).
type webhookTicket struct {
	apiAdminTicket
	Messages []apiStaffMessage `json:"messages,omitempty"`
}

type webhookStage struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type webhookRating struct {
	ID        int64     `json:"id"`
	Score     string    `json:"score"`
	Comment   string    `json:"comment"`
	ContactID *int64    `json:"contact_id"`
	Contact   string    `json:"contact"`
	ClosedAt  time.Time `json:"closed_at"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookPayload builds the body of ev's webhook messages from the records as they are now
// (jobs.Config.WebhookPayload). Errors: store.ErrNotFound when the ticket, message, rating or
// contact is gone (the event is then dropped), database errors.
func (h *Handlers) WebhookPayload(ctx context.Context, ev store.WebhookEvent) ([]byte, error) {
	out := webhookPayload{Type: ev.Type, Timestamp: ev.At.UTC()}
	if ev.TicketID != 0 {
		d, err := h.Store.InboxTicketGet(ctx, ev.TicketID)
		if err != nil {
			return nil, err
		}
		t := apiAdminTicketOf(d)
		if ev.MessageID != 0 {
			for i := range t.Messages {
				if t.Messages[i].ID == ev.MessageID {
					m := t.Messages[i]
					out.Data.Message = &m
				}
			}
			if out.Data.Message == nil {
				return nil, store.ErrNotFound
			}
		}
		out.Data.Ticket = &webhookTicket{apiAdminTicket: t}
	}
	if ev.FromStageID != 0 {
		name, err := h.Store.StageName(ctx, ev.FromStageID)
		if err != nil {
			return nil, err
		}
		out.Data.PreviousStage = &webhookStage{ID: ev.FromStageID, Name: name}
	}
	switch ev.Type {
	case webhook.SatisfactionRated:
		r, err := h.Store.RatingGet(ctx, ev.RatingID)
		if err != nil {
			return nil, err
		}
		out.Data.Rating = &webhookRating{ID: ev.RatingID, Score: r.Score, Comment: r.Comment, ContactID: idOrNil(ev.ContactID),
			Contact: r.ContactName, ClosedAt: r.ClosedAt.UTC(), CreatedAt: r.RatedAt.UTC()}
	case webhook.ContactCreated:
		ct, err := h.Store.ContactGet(ctx, ev.ContactID)
		if err != nil {
			return nil, err
		}
		c := apiContactOf(ct)
		out.Data.Contact = &c
	}
	return json.Marshal(out)
}
