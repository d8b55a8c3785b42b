package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"portico/sql/store"
	"portico/webhook"
)

// WebhookTimeout bounds one delivery attempt: connecting, sending and the answer's headers.
const WebhookTimeout = 10 * time.Second

// WebhookEventWorker fans one event out: it builds the payload once (Config.WebhookPayload:
// the API's representations) and enqueues one WebhookDeliveryJob per enabled subscription, all
// carrying the same body and webhook-id. An event whose ticket or contact is gone is dropped.
type WebhookEventWorker struct {
	river.WorkerDefaults[store.WebhookEventJob]
	cfg Config
}

// Work fans the event out.
func (w *WebhookEventWorker) Work(ctx context.Context, job *river.Job[store.WebhookEventJob]) error {
	ev := job.Args.Event
	ids, err := w.cfg.Store.WebhookSubscribers(ctx, ev.Type)
	if err != nil || len(ids) == 0 {
		return err
	}
	if w.cfg.WebhookPayload == nil {
		return river.JobCancel(errors.New("no webhook payload builder configured"))
	}
	payload, err := w.cfg.WebhookPayload(ctx, ev)
	if errors.Is(err, store.ErrNotFound) {
		w.cfg.Log.Info("webhook event dropped: its record is gone", "event", ev.Type, "webhook_id", ev.ID)
		return nil
	}
	if err != nil {
		return err
	}
	return w.cfg.Store.WebhookDeliveriesEnqueue(ctx, ids, ev, payload)
}

// WebhookDeliveryWorker sends one message to one subscription, signed in the Standard
// Webhooks style, and logs the attempt. A 2xx answer delivers it; a network error, a 5xx, 408
// or 429 is retried with the queue's backoff up to store.WebhookMaxAttempts; any other answer
// (3xx: redirects are not followed; 4xx) and an address the SSRF guard refuses give up at once.
// A disabled or deleted subscription gets nothing more (test messages go to disabled ones too).
type WebhookDeliveryWorker struct {
	river.WorkerDefaults[store.WebhookDeliveryJob]
	cfg     Config
	clients sync.Map // allowPrivate bool → *http.Client
}

// Timeout bounds the whole job (the request has WebhookTimeout).
func (w *WebhookDeliveryWorker) Timeout(*river.Job[store.WebhookDeliveryJob]) time.Duration {
	return WebhookTimeout + 20*time.Second
}

func (w *WebhookDeliveryWorker) client(allowPrivate bool) *http.Client {
	if c, ok := w.clients.Load(allowPrivate); ok {
		return c.(*http.Client)
	}
	c, _ := w.clients.LoadOrStore(allowPrivate, webhook.NewClient(WebhookTimeout, allowPrivate))
	return c.(*http.Client)
}

// errPermanent marks a failure that no retry will mend.
type errPermanent struct{ error }

// Work delivers the message.
func (w *WebhookDeliveryWorker) Work(ctx context.Context, job *river.Job[store.WebhookDeliveryJob]) error {
	a := job.Args
	if w.cfg.WebhookSealer == nil {
		return river.JobCancel(errors.New("no webhook sealer configured"))
	}
	wh, secret, err := w.cfg.Store.WebhookWithSecret(ctx, a.WebhookID, w.cfg.WebhookSealer)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile: nothing to send, nowhere to log
	}
	if err != nil {
		return err
	}
	if !wh.Enabled && a.Event != webhook.Test {
		w.cfg.Log.Info("webhook message dropped: the webhook is disabled", "webhook", a.WebhookID, "webhook_id", a.MessageID)
		return nil
	}
	st, err := w.cfg.Settings(ctx)
	if err != nil {
		return err
	}
	status, dur, sendErr := w.send(ctx, wh.URL, secret, a, st.WebhooksAllowPrivate)
	d := store.WebhookDelivery{WebhookID: a.WebhookID, MessageID: a.MessageID, Event: a.Event, Attempt: job.Attempt,
		DurationMS: int(dur / time.Millisecond), Outcome: store.WebhookDelivered}
	if status != 0 {
		s := int32(status)
		d.Status = &s
	}
	var perm errPermanent
	switch {
	case sendErr == nil && status >= 200 && status < 300:
	case sendErr == nil && (status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout):
		sendErr = fmt.Errorf("the receiver answered %d", status)
	case sendErr == nil:
		sendErr = errPermanent{fmt.Errorf("the receiver answered %d", status)}
	}
	final := errors.As(sendErr, &perm) || job.Attempt >= job.MaxAttempts
	if sendErr != nil {
		d.Error, d.Outcome = sendErr.Error(), store.WebhookRetrying
		if final {
			d.Outcome = store.WebhookFailed
		}
	}
	if err := w.cfg.Store.WebhookDeliveryRecord(context.WithoutCancel(ctx), d); err != nil {
		w.cfg.Log.Warn("webhook attempt not logged", "webhook", a.WebhookID, "err", err)
	}
	if sendErr == nil {
		return nil
	}
	w.cfg.Log.Warn("webhook delivery failed", "webhook", a.WebhookID, "event", a.Event, "webhook_id", a.MessageID,
		"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "final", final, "err", sendErr)
	if errors.As(sendErr, &perm) {
		return river.JobCancel(sendErr)
	}
	return sendErr
}

// send posts the payload and returns the status (0: no answer) and how long it took.
func (w *WebhookDeliveryWorker) send(ctx context.Context, url, secret string, a store.WebhookDeliveryJob, allowPrivate bool) (int, time.Duration, error) {
	// The URL was checked when saved; a setting switched off since then is enforced here.
	if _, err := webhook.CheckURL(ctx, url, true, nil); err != nil {
		return 0, 0, errPermanent{err}
	}
	hdr, err := webhook.Sign(secret, a.MessageID, time.Now(), a.Payload)
	if err != nil {
		return 0, 0, errPermanent{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(a.Payload))
	if err != nil {
		return 0, 0, errPermanent{err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhook.UserAgent)
	start := time.Now()
	resp, err := w.client(allowPrivate).Do(req)
	if err != nil {
		dur := time.Since(start)
		if errors.Is(err, webhook.ErrRefused) {
			return 0, dur, errPermanent{errors.New("refused: the address is private, loopback or otherwise not public (setting webhooks_allow_private is off)")}
		}
		return 0, dur, err
	}
	// Read a little of the answer so the connection can be reused; its content is not kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}
