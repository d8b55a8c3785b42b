package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"portico/sql/db"
	"portico/webhook"
)

// Webhooks (issue 17.3): admins subscribe URLs to events; every change is audited as
// "webhook:ID"; deliveries are River jobs (WebhookEventJob fans an event out into one
// WebhookDeliveryJob per subscription) and each attempt is logged in webhook_deliveries.

// Webhook is one subscription as the console shows it.
type Webhook struct {
	ID          int64
	URL         string
	Description string
	Events      []string
	Enabled     bool
	// SecretHint is the start of the signing secret ("whsec_abcd…").
	SecretHint string
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// LastStatus, LastOutcome and LastAt describe the latest delivery attempt (WebhookList
	// only; LastOutcome "" and LastAt zero = none yet).
	LastStatus  *int32
	LastOutcome string
	LastAt      time.Time

	sealed []byte
}

// WebhookInput is what the console's form submits.
type WebhookInput struct {
	URL         string
	Description string
	Events      []string
	Enabled     bool
}

// WebhookDelivery is one logged delivery attempt.
type WebhookDelivery struct {
	ID        int64
	WebhookID int64
	// MessageID is the webhook-id header (the same on every attempt of one message).
	MessageID string
	Event     string
	Attempt   int
	// Status is the HTTP status answered (nil: no answer; Error says why).
	Status     *int32
	Error      string
	DurationMS int
	// Outcome is WebhookDelivered, WebhookRetrying or WebhookFailed.
	Outcome   string
	CreatedAt time.Time
}

// Delivery outcomes.
const (
	WebhookDelivered = "delivered"
	WebhookRetrying  = "retrying"
	WebhookFailed    = "failed"
)

// WebhookLogDays is how long delivery attempts are kept (purged by the hourly job).
const WebhookLogDays = 30

// WebhookMaxAttempts is how often one message is tried before it is given up. With the job
// queue's backoff (base × n⁴, base 1 s) the last attempt comes about 11 hours after the first.
const WebhookMaxAttempts = 12

// SecretSealer seals and opens secrets at rest (auth/providers.Sealer).
type SecretSealer interface {
	Seal(slug string, secrets map[string]string) ([]byte, error)
	Open(slug string, blob []byte) (map[string]string, error)
}

// WebhookSealerInfo is the HKDF info of the key that seals webhook signing secrets.
const WebhookSealerInfo = "portico webhook secrets v1"

func webhookSlug(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }

// WebhookMaxDescription is the longest description, in characters.
const WebhookMaxDescription = 200

// validateWebhook checks in and returns it cleaned. The URL check (webhook.CheckURL) resolves
// the host unless the setting webhooks_allow_private is on. Errors: *ValidationError with
// fields url, description, events.
func (s *Store) validateWebhook(ctx context.Context, in WebhookInput) (WebhookInput, error) {
	fields := map[string]string{}
	st, err := s.SettingsGet(ctx)
	if err != nil {
		return in, err
	}
	in.URL, err = webhook.CheckURL(ctx, in.URL, st.WebhooksAllowPrivate, nil)
	var ue *webhook.URLError
	if errors.As(err, &ue) {
		fields["url"] = ue.Reason
	} else if err != nil {
		return in, err
	}
	in.Description = strings.TrimSpace(in.Description)
	if utf8.RuneCountInString(in.Description) > WebhookMaxDescription || !utf8.ValidString(in.Description) {
		fields["description"] = "WebhookDescriptionTooLong"
	}
	var events []string
	for _, e := range webhook.Events {
		if slices.Contains(in.Events, e) {
			events = append(events, e)
		}
	}
	if len(events) == 0 || len(events) != len(slices.Compact(slices.Sorted(slices.Values(in.Events)))) {
		fields["events"] = "WebhookEventsInvalid"
	}
	in.Events = events
	if len(fields) > 0 {
		return in, &ValidationError{Fields: fields}
	}
	return in, nil
}

// webhookAudit is the audit text of a subscription (never its secret).
func webhookAudit(in WebhookInput) string {
	state := "enabled"
	if !in.Enabled {
		state = "disabled"
	}
	out := in.URL + " (" + strings.Join(in.Events, " ") + "), " + state
	if in.Description != "" {
		out += ", " + in.Description
	}
	return out
}

// sealWebhookSecret makes a new secret for subscription id, stores it sealed, and returns it.
func sealWebhookSecret(ctx context.Context, tx pgx.Tx, id int64, sealer SecretSealer) (string, error) {
	secret := webhook.NewSecret()
	sealed, err := sealer.Seal(webhookSlug(id), map[string]string{"secret": secret})
	if err != nil {
		return "", err
	}
	n, err := db.New(tx).WebhookSetSecret(ctx, db.WebhookSetSecretParams{ID: id, SecretSealed: sealed, SecretHint: webhook.SecretHint(secret)})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", ErrNotFound
	}
	return secret, nil
}

// WebhookCreate subscribes in.URL to in.Events for staff user staffID, with a new signing
// secret sealed by sealer, and writes an audit row ("webhook:ID", never the secret). It returns
// the id and the secret (shown once). Errors: *ValidationError (url, description, events),
// database errors.
func (s *Store) WebhookCreate(ctx context.Context, staffID int64, in WebhookInput, sealer SecretSealer) (int64, string, error) {
	in, err := s.validateWebhook(ctx, in)
	if err != nil {
		return 0, "", err
	}
	var id int64
	var secret string
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var by *int64
		if staffID != 0 {
			by = &staffID
		}
		if id, err = db.New(tx).WebhookInsert(ctx, db.WebhookInsertParams{Url: in.URL, Description: in.Description, Events: in.Events,
			Enabled: in.Enabled, CreatedByStaffID: by}); err != nil {
			return err
		}
		if secret, err = sealWebhookSecret(ctx, tx, id, sealer); err != nil {
			return err
		}
		return auditByStaffID(ctx, tx, staffID, webhookSlug(id), "", webhookAudit(in))
	})
	s.WebhooksChanged()
	if err != nil {
		return 0, "", fmt.Errorf("create webhook: %w", err)
	}
	return id, secret, nil
}

// WebhookUpdate changes a subscription's URL, description, events and enabled flag; audited
// with before and after. Errors: *ValidationError, ErrNotFound, database errors.
func (s *Store) WebhookUpdate(ctx context.Context, staffID, id int64, in WebhookInput) error {
	in, err := s.validateWebhook(ctx, in)
	if err != nil {
		return err
	}
	return s.webhookChange(ctx, staffID, id, func(tx pgx.Tx, old Webhook) (string, error) {
		_, err := db.New(tx).WebhookUpdate(ctx, db.WebhookUpdateParams{ID: id, Url: in.URL, Description: in.Description, Events: in.Events, Enabled: in.Enabled})
		return webhookAudit(in), err
	})
}

// WebhookSetEnabled enables or disables a subscription (a disabled one gets no new messages and
// its pending retries stop); audited. Errors: ErrNotFound, database errors.
func (s *Store) WebhookSetEnabled(ctx context.Context, staffID, id int64, enabled bool) error {
	return s.webhookChange(ctx, staffID, id, func(tx pgx.Tx, old Webhook) (string, error) {
		_, err := db.New(tx).WebhookSetEnabled(ctx, db.WebhookSetEnabledParams{ID: id, Enabled: enabled})
		old.Enabled = enabled
		return webhookAudit(old.input()), err
	})
}

// WebhookDelete removes a subscription and its delivery log; pending deliveries are dropped;
// audited. Errors: ErrNotFound, database errors.
func (s *Store) WebhookDelete(ctx context.Context, staffID, id int64) error {
	return s.webhookChange(ctx, staffID, id, func(tx pgx.Tx, old Webhook) (string, error) {
		_, err := db.New(tx).WebhookDelete(ctx, id)
		return "deleted", err
	})
}

// WebhookRotateSecret replaces a subscription's signing secret (the old one stops signing at
// once) and returns the new one (shown once); audited (never the secret). Errors: ErrNotFound,
// database errors.
func (s *Store) WebhookRotateSecret(ctx context.Context, staffID, id int64, sealer SecretSealer) (string, error) {
	var secret string
	err := s.webhookChange(ctx, staffID, id, func(tx pgx.Tx, old Webhook) (string, error) {
		var err error
		secret, err = sealWebhookSecret(ctx, tx, id, sealer)
		return "secret rotated (" + webhook.SecretHint(secret) + ")", err
	})
	return secret, err
}

func (w Webhook) input() WebhookInput {
	return WebhookInput{URL: w.URL, Description: w.Description, Events: w.Events, Enabled: w.Enabled}
}

// webhookChange runs change on subscription id under its row lock and audits before → after.
func (s *Store) webhookChange(ctx context.Context, staffID, id int64, change func(tx pgx.Tx, old Webhook) (string, error)) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		old, err := webhookGet(ctx, tx, id)
		if err != nil {
			return err
		}
		after, err := change(tx, old)
		if err != nil {
			return err
		}
		return auditByStaffID(ctx, tx, staffID, webhookSlug(id), webhookAudit(old.input()), after)
	})
	s.WebhooksChanged() // this instance at once; the others hear migration 00026's notice
	if err != nil {
		return fmt.Errorf("webhook %d: %w", id, err)
	}
	return nil
}

func webhookGet(ctx context.Context, q db.DBTX, id int64) (Webhook, error) {
	r, err := db.New(q).WebhookGet(ctx, id)
	if err != nil {
		return Webhook{}, notFound(err)
	}
	return Webhook{ID: r.ID, URL: r.Url, Description: r.Description, Events: r.Events, Enabled: r.Enabled, SecretHint: r.SecretHint,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, sealed: r.SecretSealed}, nil
}

// WebhookGet returns one subscription. Errors: ErrNotFound.
func (s *Store) WebhookGet(ctx context.Context, id int64) (Webhook, error) {
	w, err := webhookGet(ctx, s.Pool, id)
	if err != nil {
		return w, fmt.Errorf("webhook %d: %w", id, err)
	}
	return w, nil
}

// WebhookWithSecret returns one subscription and its signing secret, opened with sealer (the
// delivery worker). Errors: ErrNotFound, a secret that does not open (another
// PORTICO_SECRET_KEY).
func (s *Store) WebhookWithSecret(ctx context.Context, id int64, sealer SecretSealer) (Webhook, string, error) {
	w, err := s.WebhookGet(ctx, id)
	if err != nil {
		return w, "", err
	}
	m, err := sealer.Open(webhookSlug(id), w.sealed)
	if err != nil {
		return w, "", err
	}
	if m["secret"] == "" {
		return w, "", fmt.Errorf("webhook %d has no signing secret", id)
	}
	return w, m["secret"], nil
}

// WebhookList returns every subscription with its latest attempt, oldest first.
func (s *Store) WebhookList(ctx context.Context) ([]Webhook, error) {
	rows, err := db.New(s.Pool).WebhookList(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	out := make([]Webhook, len(rows))
	for i, r := range rows {
		out[i] = Webhook{ID: r.ID, URL: r.Url, Description: r.Description, Events: r.Events, Enabled: r.Enabled, SecretHint: r.SecretHint,
			CreatedAt: r.CreatedAt, LastStatus: r.LastStatus, LastOutcome: r.LastOutcome}
		if r.LastOutcome != "" {
			out[i].LastAt = r.LastAt
		}
	}
	return out, nil
}

// WebhookDeliveries returns a subscription's latest max attempts, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID int64, max int) ([]WebhookDelivery, error) {
	rows, err := db.New(s.Pool).WebhookDeliveryList(ctx, db.WebhookDeliveryListParams{WebhookID: webhookID, MaxRows: int32(max)})
	if err != nil {
		return nil, fmt.Errorf("webhook %d deliveries: %w", webhookID, err)
	}
	out := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = WebhookDelivery{ID: r.ID, WebhookID: webhookID, MessageID: r.MessageID, Event: r.Event, Attempt: int(r.Attempt),
			Status: r.Status, Error: r.Error, DurationMS: int(r.DurationMs), Outcome: r.Outcome, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// WebhookDeliveryRecord logs one attempt (a subscription deleted meanwhile logs nothing).
func (s *Store) WebhookDeliveryRecord(ctx context.Context, d WebhookDelivery) error {
	if utf8.RuneCountInString(d.Error) > 500 {
		d.Error = string([]rune(d.Error)[:500]) + "…"
	}
	err := db.New(s.Pool).WebhookDeliveryInsert(ctx, db.WebhookDeliveryInsertParams{WebhookID: d.WebhookID, MessageID: d.MessageID,
		Event: d.Event, Attempt: int32(d.Attempt), Status: d.Status, Error: d.Error, DurationMs: int32(d.DurationMS), Outcome: d.Outcome})
	if isForeignKey(err) {
		return nil
	}
	return err
}

// WebhookDeliveriesPurge forgets attempts older than WebhookLogDays; it returns how many.
func (s *Store) WebhookDeliveriesPurge(ctx context.Context) (int64, error) {
	return db.New(s.Pool).WebhookDeliveryPurge(ctx, time.Now().AddDate(0, 0, -WebhookLogDays))
}

// WebhookSubscribers returns the enabled subscriptions to event.
func (s *Store) WebhookSubscribers(ctx context.Context, event string) ([]int64, error) {
	return db.New(s.Pool).WebhookSubscribers(ctx, event)
}

// WebhookEvent is something that happened which subscriptions may want: the job
// WebhookEventJob carries it from the transaction that caused it to the worker that builds the
// payload (the API's representations) and fans it out.
type WebhookEvent struct {
	// ID is the webhook-id of its messages ("msg_…"), Type one of webhook.Events, At when.
	ID   string    `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// What it is about (0 = not applicable).
	TicketID  int64 `json:"ticket_id,omitempty"`
	MessageID int64 `json:"message_id,omitempty"`
	ContactID int64 `json:"contact_id,omitempty"`
	RatingID  int64 `json:"rating_id,omitempty"`
	// FromStageID is the stage a ticket left (ticket.stage_changed, ticket.closed).
	FromStageID int64 `json:"from_stage_id,omitempty"`
}

// WebhookEventJob fans one event out (River job kind "portico_webhook_event").
type WebhookEventJob struct {
	Event WebhookEvent `json:"event"`
}

// Kind is River's job kind.
func (WebhookEventJob) Kind() string { return "portico_webhook_event" }

// WebhookQueue is the River queue of deliveries: its own workers, so receivers that are slow
// to answer (up to the 10 s timeout each) never hold up mail in the default queue.
const WebhookQueue = "webhooks"

// WebhookDeliveryJob sends one message to one subscription (River job kind
// "portico_webhook_delivery"); retried with the queue's backoff up to WebhookMaxAttempts.
type WebhookDeliveryJob struct {
	WebhookID int64  `json:"webhook_id"`
	MessageID string `json:"message_id"`
	Event     string `json:"event"`
	// Payload is the exact body sent (and signed) on every attempt.
	Payload json.RawMessage `json:"payload"`
}

// Kind is River's job kind.
func (WebhookDeliveryJob) Kind() string { return "portico_webhook_delivery" }

// emitWebhook enqueues ev in tx when an enabled subscription wants its type (else nothing), so
// the event is dispatched exactly when tx commits.
func (s *Store) emitWebhook(ctx context.Context, tx pgx.Tx, ev WebhookEvent) error {
	want, err := s.webhookWanted(ctx, tx, ev.Type)
	if err != nil || !want {
		return err
	}
	ev.ID, ev.At = webhook.NewMessageID(), time.Now().UTC()
	c, err := inserter()
	if err != nil {
		return err
	}
	if _, err := c.InsertTx(ctx, tx, WebhookEventJob{Event: ev}, &river.InsertOpts{MaxAttempts: 10}); err != nil {
		return fmt.Errorf("enqueue webhook event: %w", err)
	}
	return nil
}

// emitStageChange enqueues ticket.stage_changed (and ticket.closed when the ticket closed) for
// a ticket that was in stage from with closed state wasClosed; the caller changed it in tx.
func (s *Store) emitStageChange(ctx context.Context, tx pgx.Tx, ticketID, from int64, wasClosed bool) error {
	var to int64
	var closed bool
	if err := tx.QueryRow(ctx, `SELECT stage_id, is_closed FROM tickets WHERE id = $1`, ticketID).Scan(&to, &closed); err != nil {
		return err
	}
	if to == from {
		return nil
	}
	ev := WebhookEvent{Type: webhook.TicketStageChanged, TicketID: ticketID, FromStageID: from}
	if err := s.emitWebhook(ctx, tx, ev); err != nil {
		return err
	}
	if closed && !wasClosed {
		ev.Type = webhook.TicketClosed
		return s.emitWebhook(ctx, tx, ev)
	}
	return nil
}

// WebhookDeliveriesEnqueue inserts one delivery job per subscription for a built payload (the
// event worker, after the event's transaction committed).
func (s *Store) WebhookDeliveriesEnqueue(ctx context.Context, webhookIDs []int64, ev WebhookEvent, payload []byte) error {
	if len(webhookIDs) == 0 {
		return nil
	}
	c, err := inserter()
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(webhookIDs))
	for i, id := range webhookIDs {
		params[i] = river.InsertManyParams{Args: WebhookDeliveryJob{WebhookID: id, MessageID: ev.ID, Event: ev.Type, Payload: payload},
			InsertOpts: &river.InsertOpts{MaxAttempts: WebhookMaxAttempts, Queue: WebhookQueue}}
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := c.InsertManyTx(ctx, tx, params)
		return err
	})
}

// WebhookTest enqueues a "webhook.test" message to subscription id, whether enabled or not
// (the console's "Send test event"); it returns its webhook-id, under which its attempts are
// logged. Errors: ErrNotFound.
func (s *Store) WebhookTest(ctx context.Context, id int64) (string, error) {
	w, err := s.WebhookGet(ctx, id)
	if err != nil {
		return "", err
	}
	msgID, at := webhook.NewMessageID(), time.Now().UTC()
	payload, err := json.Marshal(map[string]any{"type": webhook.Test, "timestamp": at.Format(time.RFC3339Nano),
		"data": map[string]any{"webhook_id": w.ID, "url": w.URL}})
	if err != nil {
		return "", err
	}
	c, err := inserter()
	if err != nil {
		return "", err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		_, err := c.InsertTx(ctx, tx, WebhookDeliveryJob{WebhookID: id, MessageID: msgID, Event: webhook.Test, Payload: payload},
			&river.InsertOpts{MaxAttempts: 1, Queue: WebhookQueue})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("test webhook %d: %w", id, err)
	}
	return msgID, nil
}

// StageName returns a stage's name. Errors: ErrNotFound.
func (s *Store) StageName(ctx context.Context, id int64) (string, error) {
	var name string
	if err := s.Pool.QueryRow(ctx, `SELECT name FROM stages WHERE id = $1`, id).Scan(&name); err != nil {
		return "", fmt.Errorf("stage %d: %w", id, notFound(err))
	}
	return name, nil
}

// RatingGet returns one vote (staff only). Errors: ErrNotFound.
func (s *Store) RatingGet(ctx context.Context, id int64) (Rating, error) {
	rs, err := s.ratings(ctx, `WHERE r.id = $1`, id)
	if err != nil {
		return Rating{}, err
	}
	if len(rs) == 0 {
		return Rating{}, fmt.Errorf("rating %d: %w", id, ErrNotFound)
	}
	return rs[0], nil
}
