package handlers

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
	"portico/webhook"
)

// The admin console's webhooks (issue 17.3, admins only): subscribe URLs to events, edit,
// enable or disable, rotate the signing secret (shown once), delete after a confirmation step,
// send a test event, and read each webhook's delivery log. Every change is audited by the store
// as "webhook:ID".

// webhookDeliveriesShown is how many attempts a webhook's page lists (newest first).
const webhookDeliveriesShown = 50

// webhookForm is the create and edit form with its values and errors.
type webhookForm struct {
	Action      string
	URL         string
	Description string
	Enabled     bool
	Events      []option
	Errors      map[string]string
}

// webhookRow is one webhook as the console lists it.
type webhookRow struct {
	ID          int64
	URL         string
	Description string
	Events      []string
	Enabled     bool
	StateLabel  string
	SecretHint  string
	// Last… describe the latest attempt ("" = none yet).
	Last, LastISO, LastResult, LastOutcome string
}

// deliveryRow is one logged attempt.
type deliveryRow struct {
	MessageID      string
	Event          string
	EventLabel     string
	When, WhenISO  string
	Attempt        int
	Result         string
	Error          string
	Duration       string
	Outcome, Label string
}

// webhooksView is the list page's model.
type webhooksView struct {
	Webhooks []webhookRow
	Form     webhookForm
	// NewSecret is the secret of the webhook just created (shown once), NewID its id.
	NewSecret string
	NewID     int64
	Notice    string
	// AllowPrivate reports the setting webhooks_allow_private.
	AllowPrivate bool
}

// webhookView is one webhook's page model.
type webhookView struct {
	Webhook    webhookRow
	Form       webhookForm
	NewSecret  string
	Notice     string
	Deliveries []deliveryRow
	// Pending is set while a test message just sent has no logged attempt yet: the log then
	// refreshes itself (htmx) until it has; TestID is its webhook-id.
	Pending bool
	TestID  string
	LogURL  string
}

func (h *Handlers) newWebhookForm(p *Page, action string, in store.WebhookInput) webhookForm {
	f := webhookForm{Action: action, URL: in.URL, Description: in.Description, Enabled: in.Enabled, Errors: map[string]string{}}
	for _, e := range webhook.Events {
		f.Events = append(f.Events, option{Value: e, Label: p.T(eventLabelID(e)), Selected: slices.Contains(in.Events, e)})
	}
	return f
}

// eventLabelID is the catalogue id of an event's name ("ticket.created" → "WebhookEvent_ticket_created").
func eventLabelID(e string) string {
	return "WebhookEvent_" + strings.NewReplacer(".", "_").Replace(e)
}

// webhookInput reads the form (url, description, events checkboxes, enabled checkbox).
func webhookInput(c *fiber.Ctx) store.WebhookInput {
	in := store.WebhookInput{URL: strings.TrimSpace(c.FormValue("url")), Description: c.FormValue("description"),
		Enabled: c.FormValue("enabled") == "on"}
	for _, v := range c.Request().PostArgs().PeekMulti("events") {
		in.Events = append(in.Events, string(v))
	}
	return in
}

func (h *Handlers) webhookRowOf(p *Page, w store.Webhook) webhookRow {
	r := webhookRow{ID: w.ID, URL: w.URL, Description: w.Description, Enabled: w.Enabled, SecretHint: w.SecretHint,
		StateLabel: p.T("WebhookDisabled"), LastOutcome: w.LastOutcome}
	if w.Enabled {
		r.StateLabel = p.T("WebhookEnabled")
	}
	for _, e := range w.Events {
		r.Events = append(r.Events, p.T(eventLabelID(e)))
	}
	if w.LastOutcome != "" {
		r.Last, r.LastISO = p.Locale.Times(w.LastAt)
		r.LastResult = p.T("WebhookOutcome_" + w.LastOutcome)
		if w.LastStatus != nil {
			r.LastResult += " (" + strconv.Itoa(int(*w.LastStatus)) + ")"
		}
	}
	return r
}

// webhooksPage renders the list with the create form f (nil: an empty one).
func (h *Handlers) webhooksPage(c *fiber.Ctx, status int, v webhooksView) error {
	p := h.newPage(c, "", nil)
	ws, err := h.Store.WebhookList(c.UserContext())
	if err != nil {
		return err
	}
	for _, w := range ws {
		v.Webhooks = append(v.Webhooks, h.webhookRowOf(p, w))
	}
	if v.Form.Action == "" {
		v.Form = h.newWebhookForm(p, "/admin/webhooks", store.WebhookInput{Enabled: true})
	}
	v.AllowPrivate = SettingsOf(c).WebhooksAllowPrivate
	p.Title, p.Data = p.T("WebhooksHeading"), v
	return h.renderAdmin(c, status, "admin/webhooks", p)
}

// AdminWebhookList shows the webhooks and the form that adds one (GET /admin/webhooks).
func (h *Handlers) AdminWebhookList(c *fiber.Ctx) error {
	v := webhooksView{}
	if c.Query("done") == "deleted" {
		v.Notice = h.newPage(c, "", nil).T("WebhookDeleted")
	}
	return h.webhooksPage(c, fiber.StatusOK, v)
}

// AdminWebhookCreate subscribes a URL to events (POST /admin/webhooks: url, description,
// events, enabled) and shows the signing secret once; 422 with every error beside its field.
func (h *Handlers) AdminWebhookCreate(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	in := webhookInput(c)
	id, secret, err := h.Store.WebhookCreate(c.UserContext(), StaffOf(c).ID, in, h.WebhookSealer)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := h.newWebhookForm(p, "/admin/webhooks", in)
		for k, msg := range ve.Fields {
			f.Errors[k] = p.T(msg, "Max", store.WebhookMaxDescription)
		}
		return h.webhooksPage(c, fiber.StatusUnprocessableEntity, webhooksView{Form: f})
	}
	if err != nil {
		return err
	}
	return h.webhooksPage(c, fiber.StatusOK, webhooksView{NewSecret: secret, NewID: id})
}

// webhookPage renders one webhook: its edit form f (nil: from the record), its actions and
// its delivery log.
func (h *Handlers) webhookPage(c *fiber.Ctx, status int, id int64, v webhookView, f *webhookForm) error {
	p := h.newPage(c, "", nil)
	w, err := h.Store.WebhookGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	v.Webhook = h.webhookRowOf(p, w)
	if f == nil {
		ff := h.newWebhookForm(p, "/admin/webhooks/"+strconv.FormatInt(id, 10), store.WebhookInput{URL: w.URL, Description: w.Description,
			Events: w.Events, Enabled: w.Enabled})
		f = &ff
	}
	v.Form = *f
	if err := h.webhookLog(c, p, id, &v); err != nil {
		return err
	}
	p.Title, p.Data = p.T("WebhookHeading"), v
	return h.renderAdmin(c, status, "admin/webhook", p)
}

// webhookLog fills the delivery log of v (and Pending for a test message given as ?test=).
func (h *Handlers) webhookLog(c *fiber.Ctx, p *Page, id int64, v *webhookView) error {
	ds, err := h.Store.WebhookDeliveries(c.UserContext(), id, webhookDeliveriesShown)
	if err != nil {
		return err
	}
	v.TestID = c.Query("test")
	if !strings.HasPrefix(v.TestID, "msg_") || len(v.TestID) > 40 {
		v.TestID = ""
	}
	v.LogURL = "/admin/webhooks/" + strconv.FormatInt(id, 10) + "/deliveries"
	if v.TestID != "" {
		v.LogURL += "?test=" + v.TestID
		v.Pending = true
	}
	for _, d := range ds {
		r := deliveryRow{MessageID: d.MessageID, Event: d.Event, EventLabel: p.T(eventLabelID(d.Event)), Attempt: d.Attempt, Error: d.Error,
			Outcome: d.Outcome, Label: p.T("WebhookOutcome_" + d.Outcome), Duration: p.T("WebhookDurationMS", "MS", p.Locale.Number(int64(d.DurationMS)))}
		r.When, r.WhenISO = p.Locale.Times(d.CreatedAt)
		if d.Status != nil {
			r.Result = strconv.Itoa(int(*d.Status))
		} else {
			r.Result = p.T("WebhookNoAnswer")
		}
		if d.MessageID == v.TestID {
			v.Pending = false
		}
		v.Deliveries = append(v.Deliveries, r)
	}
	return nil
}

// AdminWebhookShow shows one webhook (GET /admin/webhooks/:id).
func (h *Handlers) AdminWebhookShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v := webhookView{}
	p := h.newPage(c, "", nil)
	switch c.Query("done") {
	case "saved":
		v.Notice = p.T("WebhookSaved")
	case "enabled":
		v.Notice = p.T("WebhookNowEnabled")
	case "disabled":
		v.Notice = p.T("WebhookNowDisabled")
	case "tested":
		v.Notice = p.T("WebhookTestQueued")
	}
	return h.webhookPage(c, fiber.StatusOK, id, v, nil)
}

// AdminWebhookDeliveries is the delivery log alone (GET /admin/webhooks/:id/deliveries): the
// fragment htmx refreshes while a test message waits; without htmx the whole page.
func (h *Handlers) AdminWebhookDeliveries(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if !IsHTMX(c) {
		return h.webhookPage(c, fiber.StatusOK, id, webhookView{}, nil)
	}
	if _, err := h.Store.WebhookGet(c.UserContext(), id); err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	v := webhookView{}
	if err := h.webhookLog(c, p, id, &v); err != nil {
		return err
	}
	p.Data = v
	return h.renderFragment(c, fiber.StatusOK, "admin/webhook_deliveries", p)
}

// AdminWebhookUpdate saves the edit form (POST /admin/webhooks/:id); 422 with every error
// beside its field and what was typed kept.
func (h *Handlers) AdminWebhookUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	in := webhookInput(c)
	err = h.Store.WebhookUpdate(c.UserContext(), StaffOf(c).ID, id, in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := h.newWebhookForm(p, "/admin/webhooks/"+strconv.FormatInt(id, 10), in)
		for k, msg := range ve.Fields {
			f.Errors[k] = p.T(msg, "Max", store.WebhookMaxDescription)
		}
		return h.webhookPage(c, fiber.StatusUnprocessableEntity, id, webhookView{}, &f)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/webhooks/"+strconv.FormatInt(id, 10)+"?done=saved")
}

// AdminWebhookEnable and AdminWebhookDisable switch a webhook on or off (POST
// /admin/webhooks/:id/enable|disable); audited.
func (h *Handlers) AdminWebhookEnable(c *fiber.Ctx) error { return h.webhookSetEnabled(c, true) }

// AdminWebhookDisable: see AdminWebhookEnable.
func (h *Handlers) AdminWebhookDisable(c *fiber.Ctx) error { return h.webhookSetEnabled(c, false) }

func (h *Handlers) webhookSetEnabled(c *fiber.Ctx, on bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.WebhookSetEnabled(c.UserContext(), StaffOf(c).ID, id, on); err != nil {
		return err
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	return Redirect(c, "/admin/webhooks/"+strconv.FormatInt(id, 10)+"?done="+done)
}

// AdminWebhookRotate replaces the signing secret (POST /admin/webhooks/:id/rotate) and shows
// the new one once; audited.
func (h *Handlers) AdminWebhookRotate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	secret, err := h.Store.WebhookRotateSecret(c.UserContext(), StaffOf(c).ID, id, h.WebhookSealer)
	if err != nil {
		return err
	}
	return h.webhookPage(c, fiber.StatusOK, id, webhookView{NewSecret: secret}, nil)
}

// AdminWebhookTest sends a "webhook.test" message (POST /admin/webhooks/:id/test) and shows
// the webhook's page, whose log refreshes until the attempt is logged.
func (h *Handlers) AdminWebhookTest(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	msgID, err := h.Store.WebhookTest(c.UserContext(), id)
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/webhooks/"+strconv.FormatInt(id, 10)+"?done=tested&test="+msgID+"#webhook-log")
}

// AdminWebhookDelete deletes a webhook and its log (POST /admin/webhooks/:id/delete, the
// button inside the confirmation step); audited.
func (h *Handlers) AdminWebhookDelete(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.WebhookDelete(c.UserContext(), StaffOf(c).ID, id); err != nil {
		return err
	}
	return Redirect(c, "/admin/webhooks?done=deleted")
}
