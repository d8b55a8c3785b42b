package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"portico/sql/store"
	"portico/sql/store/storetest"
	"portico/webhook"
)

// hookReceiver is a real HTTP receiver on 127.0.0.1: it records every request and answers
// with the queued statuses, then 204.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	got []hookRequest
	// answers are the statuses of the next requests, in order.
	answers []int
}

type hookRequest struct {
	header http.Header
	body   []byte
	used   bool
}

func newHookReceiver(t *testing.T, answers ...int) *hookReceiver {
	r := &hookReceiver{t: t, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{header: req.Header.Clone(), body: body})
		status := http.StatusNoContent
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			status = http.StatusMethodNotAllowed
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) url() string { return r.srv.URL + "/portico-hook" }

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// hookMessage is a received message's envelope with its data left raw.
type hookMessage struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	id        string
	body      []byte
	header    http.Header
}

// take waits for an unused request whose payload has type typ, checks its signature with the
// Standard Webhooks library and secret, and returns it.
func (r *hookReceiver) take(secret, typ string) hookMessage {
	r.t.Helper()
	var out hookMessage
	eventually(r.t, "a "+typ+" message", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.got {
			var m hookMessage
			if r.got[i].used || json.Unmarshal(r.got[i].body, &m) != nil || m.Type != typ {
				continue
			}
			r.got[i].used = true
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				r.t.Fatal(err)
			}
			if err := wh.Verify(r.got[i].body, r.got[i].header); err != nil {
				r.t.Fatalf("%s: the signature does not verify: %v", typ, err)
			}
			m.id, m.body, m.header = r.got[i].header.Get("webhook-id"), r.got[i].body, r.got[i].header
			out = m
			return true
		}
		return false
	})
	return out
}

// newWebhookServer is a test server whose job workers run, with fast polling and a 20 ms retry
// base (attempt n waits 20 ms × n⁴).
func newWebhookServer(t *testing.T) *testServer {
	t.Helper()
	pool := storetest.NewDB(t)
	rdb := newRedis(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	cfg := testConfig(t)
	cfg.MailRetryBase = 20 * time.Millisecond
	s, err := New(context.Background(), cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond, JobPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.StopJobs(5 * time.Second) })
	return &testServer{Server: s, t: t, prefix: prefix}
}

func (ts *testServer) allowPrivateWebhooks(adminID int64, on bool) {
	ts.t.Helper()
	if _, err := ts.Store.SettingsSetAudited(context.Background(), adminID, map[string]string{"webhooks_allow_private": strconv.FormatBool(on)}); err != nil {
		ts.t.Fatal(err)
	}
}

// deliveries returns a webhook's logged attempts as "attempt:status:outcome", oldest first.
func (ts *testServer) deliveries(id int64) []string {
	ts.t.Helper()
	ds, err := ts.Store.WebhookDeliveries(context.Background(), id, 100)
	if err != nil {
		ts.t.Fatal(err)
	}
	var out []string
	for i := len(ds) - 1; i >= 0; i-- {
		st := "-"
		if ds[i].Status != nil {
			st = strconv.Itoa(int(*ds[i].Status))
		}
		out = append(out, strconv.Itoa(ds[i].Attempt)+":"+st+":"+ds[i].Outcome)
	}
	return out
}

// TestWebhookConsole: an admin adds a webhook in the console (refused URLs explained beside the
// field, every error at once, nothing typed lost), sees the signing secret once (stored sealed),
// sends a test event whose signature verifies and whose result the page then shows, edits,
// disables, enables, rotates the secret and deletes it after a confirmation step; every change
// is audited; agents are refused.
func TestWebhookConsole(t *testing.T) {
	ts := newWebhookServer(t)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	mustStaff(t, ts.Pool, "agent@portico.test", "Agnes Agent", "agent")
	en := ts.Handlers.Catalogue.Match("en")
	rcv := newHookReceiver(t)
	c := ts.client()
	c.staffSignIn("root@portico.test")

	// SSRF at save: with the setting off (default), loopback, link-local, private addresses
	// and other schemes are refused beside the field, the URL kept.
	for u, reason := range map[string]string{
		rcv.url(): webhook.URLPrivate, "http://169.254.169.254/latest/meta-data/": webhook.URLPrivate,
		"http://10.0.0.5/hook": webhook.URLPrivate, "http://[::1]:8080/": webhook.URLPrivate,
		"ftp://example.com/hook": webhook.URLScheme, "file:///etc/passwd": webhook.URLScheme,
	} {
		resp, doc := c.post("/admin/webhooks", url.Values{"url": {u}, "events": {"ticket.created"}, "enabled": {"on"}}, false)
		if resp.StatusCode != http.StatusUnprocessableEntity || strings.TrimSpace(doc.Find("#webhook-url-error").Text()) != en.T(reason) {
			t.Errorf("%s: %d %q, want %s", u, resp.StatusCode, doc.Find("#webhook-url-error").Text(), reason)
		}
		if v, _ := doc.Find("#webhook-url").Attr("value"); v != u {
			t.Errorf("%s: the field holds %q", u, v)
		}
	}
	// Every error at once, beside its field; what was typed stays.
	long := strings.Repeat("d", store.WebhookMaxDescription+1)
	resp, doc := c.post("/admin/webhooks", url.Values{"url": {"gopher://x"}, "description": {long}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#webhook-url-error").Length() != 1 ||
		doc.Find("#webhook-events-error").Length() != 1 || doc.Find("#webhook-description-error").Length() != 1 {
		t.Errorf("several errors: %d, url %d events %d description %d", resp.StatusCode, doc.Find("#webhook-url-error").Length(),
			doc.Find("#webhook-events-error").Length(), doc.Find("#webhook-description-error").Length())
	}
	if v, _ := doc.Find("#webhook-description").Attr("value"); v != long {
		t.Error("the description was lost")
	}
	if n := ts.count(`SELECT count(*) FROM webhooks`); n != 0 {
		t.Fatalf("%d webhooks stored from refused forms", n)
	}

	// The receiver runs on 127.0.0.1: the admin allows private addresses.
	ts.allowPrivateWebhooks(adminID, true)
	resp, doc = c.post("/admin/webhooks", url.Values{"url": {rcv.url()}, "description": {"CRM"}, "events": {"ticket.created", "message.added"}, "enabled": {"on"}}, false)
	secret, _ := doc.Find("#webhook-secret-value").Attr("value")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create: %d %q", resp.StatusCode, secret)
	}
	var id int64
	var sealed []byte
	if err := ts.Pool.QueryRow(ctx, `SELECT id, secret_sealed FROM webhooks`).Scan(&id, &sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || strings.Contains(string(sealed), strings.TrimPrefix(secret, "whsec_")) {
		t.Error("the secret is not sealed at rest")
	}
	key := "webhook:" + itoa(id)
	var after string
	if err := ts.Pool.QueryRow(ctx, `SELECT after FROM audit_log WHERE key = $1 AND staff_id = $2`, key, adminID).Scan(&after); err != nil ||
		!strings.Contains(after, rcv.url()) || !strings.Contains(after, "ticket.created message.added") || strings.Contains(after, secret) {
		t.Errorf("audit of the new webhook: %q %v", after, err)
	}
	// Shown once.
	_, doc = c.get("/admin/webhooks", false)
	if strings.Contains(doc.Text(), secret) || doc.Find("#webhook-secret-value").Length() != 0 || doc.Find("#webhook-"+itoa(id)+" .webhook-url").Text() != rcv.url() {
		t.Errorf("list: secret shown again or webhook missing")
	}

	// Send test event: a signed webhook.test reaches the receiver; the page shows the result.
	resp, _ = c.post("/admin/webhooks/"+itoa(id)+"/test", nil, false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "test=msg_") {
		t.Fatalf("test: %d %q", resp.StatusCode, loc)
	}
	m := rcv.take(secret, webhook.Test)
	testID := strings.TrimSuffix(loc[strings.Index(loc, "test=")+5:], "#webhook-log")
	if m.id != testID {
		t.Errorf("webhook-id %q, page waits for %q", m.id, testID)
	}
	eventually(t, "the test result on the page", func() bool {
		_, doc := c.get(loc, false)
		row := doc.Find(`#webhook-delivery-table tr[data-message="` + testID + `"]`)
		return row.Length() == 1 && row.HasClass("delivery-delivered") && strings.TrimSpace(row.Find(".delivery-status").Text()) == "204" &&
			doc.Find("#webhook-test-pending").Length() == 0
	})
	// The htmx fragment stops polling once the result is there.
	_, frag := c.get("/admin/webhooks/"+itoa(id)+"/deliveries?test="+testID, true)
	if root := frag.Find("#webhook-deliveries"); root.Length() != 1 || root.AttrOr("hx-get", "") != "" {
		t.Errorf("fragment after the result: %d roots, hx-get %q", root.Length(), root.AttrOr("hx-get", ""))
	}

	// Edit: refused input keeps what was typed; a valid edit is audited before → after.
	resp, doc = c.post("/admin/webhooks/"+itoa(id), url.Values{"url": {"http://"}, "description": {"kept"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#webhook-url-error").Length() != 1 || doc.Find("#webhook-events-error").Length() != 1 ||
		doc.Find("#webhook-description").AttrOr("value", "") != "kept" {
		t.Errorf("refused edit: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/webhooks/"+itoa(id), url.Values{"url": {rcv.url()}, "description": {"CRM sync"}, "events": webhook.Events, "enabled": {"on"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND before LIKE '%ticket.created message.added)%' AND after LIKE '%contact.created%CRM sync'`, key); n != 1 {
		t.Errorf("edit audited %d times", n)
	}

	// Disabled: events are not delivered; enabled again: they are.
	if resp, _ := c.post("/admin/webhooks/"+itoa(id)+"/disable", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	before := rcv.count()
	if _, err := ts.Store.ContactAdd(ctx, "quiet@acme.test", "Quiet", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // nothing may arrive: give the workers time to (wrongly) send
	if rcv.count() != before {
		t.Error("a disabled webhook got a message")
	}
	c.post("/admin/webhooks/"+itoa(id)+"/enable", nil, false)
	if _, err := ts.Store.ContactAdd(ctx, "loud@acme.test", "Loud", ""); err != nil {
		t.Fatal(err)
	}
	rcv.take(secret, webhook.ContactCreated)
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND (after LIKE '%, disabled%' OR (before LIKE '%, disabled%' AND after LIKE '%, enabled%'))`, key); n != 2 {
		t.Errorf("disable and enable audited %d times", n)
	}

	// Rotate: a new secret, shown once; messages verify with it and no longer with the old one.
	_, doc = c.get("/admin/webhooks/"+itoa(id), false)
	if doc.Find("details#webhook-rotate form").Length() != 1 || doc.Find("details#webhook-delete form #webhook-delete-yes").Length() != 1 {
		t.Error("rotate and delete need a confirmation step")
	}
	resp, doc = c.post("/admin/webhooks/"+itoa(id)+"/rotate", nil, false)
	secret2, _ := doc.Find("#webhook-secret-value").Attr("value")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(secret2, "whsec_") || secret2 == secret {
		t.Fatalf("rotate: %d %q", resp.StatusCode, secret2)
	}
	c.post("/admin/webhooks/"+itoa(id)+"/test", nil, false)
	if m := rcv.take(secret2, webhook.Test); webhook.Verify(secret, m.body, m.header) == nil {
		t.Error("the old secret still verifies")
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND after LIKE 'secret rotated%'`, key); n != 1 {
		t.Errorf("rotation audited %d times", n)
	}

	// Agents may not manage webhooks.
	ag := ts.client()
	ag.staffSignIn("agent@portico.test")
	for _, p := range []string{"/admin/webhooks", "/admin/webhooks/" + itoa(id)} {
		if resp, _ := ag.get(p, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := ag.post("/admin/webhooks/"+itoa(id)+"/delete", nil, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent delete: %d", resp.StatusCode)
	}

	// Delete: the webhook and its log go; audited.
	resp, _ = c.post("/admin/webhooks/"+itoa(id)+"/delete", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/webhooks?done=deleted" {
		t.Fatalf("delete: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if ts.count(`SELECT count(*) FROM webhooks`)+ts.count(`SELECT count(*) FROM webhook_deliveries`) != 0 {
		t.Error("webhook or its log left behind")
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND after = 'deleted' AND staff_id = $2`, key, adminID); n != 1 {
		t.Errorf("deletion audited %d times", n)
	}
	if resp, _ := c.get("/admin/webhooks/"+itoa(id), false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted webhook page: %d", resp.StatusCode)
	}
}

// TestWebhookEvents: each event type reaches a subscribed receiver, signed, with the API's
// representations: ticket.created (with its first message), message.added (a customer reply;
// an internal note marked internal), ticket.stage_changed (with the previous stage),
// ticket.closed, satisfaction.rated and contact.created.
func TestWebhookEvents(t *testing.T) {
	ts := newWebhookServer(t)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	ts.allowPrivateWebhooks(adminID, true)
	rcv := newHookReceiver(t)
	_, secret, err := ts.Store.WebhookCreate(ctx, adminID, store.WebhookInput{URL: rcv.url(), Events: webhook.Events, Enabled: true}, ts.Handlers.WebhookSealer)
	if err != nil {
		t.Fatal(err)
	}
	type message struct {
		ID           int64  `json:"id"`
		Body         string `json:"body"`
		FromCustomer bool   `json:"from_customer"`
		Internal     *bool  `json:"internal"`
	}
	type data struct {
		Ticket *struct {
			ID          int64     `json:"id"`
			Subject     string    `json:"subject"`
			Status      string    `json:"status"`
			StageID     int64     `json:"stage_id"`
			RequesterID *int64    `json:"requester_id"`
			Messages    []message `json:"messages"`
		} `json:"ticket"`
		Message       *message `json:"message"`
		PreviousStage *struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"previous_stage"`
		Rating *struct {
			Score   string `json:"score"`
			Comment string `json:"comment"`
		} `json:"rating"`
		Contact *struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"contact"`
	}
	take := func(typ string) data {
		t.Helper()
		m := rcv.take(secret, typ)
		var d data
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if time.Since(m.Timestamp) > time.Minute || !strings.HasPrefix(m.id, "msg_") {
			t.Errorf("%s: timestamp %v, id %q", typ, m.Timestamp, m.id)
		}
		return d
	}

	ct, err := ts.Store.ContactAdd(ctx, "dora@acme.test", "Dora", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.ContactCreated); d.Contact == nil || d.Contact.ID != ct.ID || d.Contact.Email != "dora@acme.test" {
		t.Errorf("contact.created: %+v", d.Contact)
	}

	tid, err := ts.Store.APITicketCreate(ctx, store.APITicketNew{ContactEmail: fx.AliceEmail, Subject: "Printer on fire", Body: "Smoke everywhere", Channel: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	d := take(webhook.TicketCreated)
	if d.Ticket == nil || d.Ticket.ID != tid || d.Ticket.Subject != "Printer on fire" || d.Ticket.RequesterID == nil || *d.Ticket.RequesterID != fx.Alice ||
		d.Ticket.Messages != nil || d.Message == nil || d.Message.Body != "Smoke everywhere" || !d.Message.FromCustomer || d.Message.Internal == nil || *d.Message.Internal {
		t.Errorf("ticket.created: %+v %+v", d.Ticket, d.Message)
	}

	st, err := ts.Store.SettingsGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alice := store.NewViewer(fx.Alice, fx.Acme, st, "")
	reply, err := ts.Store.TicketReplyCreate(ctx, alice, tid, "Still smoking", store.ReplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.MessageAdded); d.Message == nil || d.Message.ID != reply.ID || !d.Message.FromCustomer || *d.Message.Internal || d.Ticket.ID != tid {
		t.Errorf("message.added (reply): %+v", d.Message)
	}
	note, err := ts.Store.InboxMessageCreate(ctx, adminID, tid, "Check the fuse", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.MessageAdded); d.Message == nil || d.Message.ID != note.ID || d.Message.Body != "Check the fuse" || !*d.Message.Internal {
		t.Errorf("message.added (note): %+v", d.Message)
	}

	var from, to int64
	var fromName string
	if err := ts.Pool.QueryRow(ctx, `SELECT t.stage_id, s.name, (SELECT o.id FROM stages o WHERE o.pipeline_id = t.pipeline_id AND NOT o.is_closed AND o.id <> t.stage_id LIMIT 1)
		FROM tickets t JOIN stages s ON s.id = t.stage_id WHERE t.id = $1`, tid).Scan(&from, &fromName, &to); err != nil {
		t.Fatalf("a second open stage: %v", err)
	}
	if err := ts.Store.InboxTicketSetStage(ctx, tid, to); err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.TicketStageChanged); d.PreviousStage == nil || d.PreviousStage.ID != from || d.PreviousStage.Name != fromName || d.Ticket.StageID != to {
		t.Errorf("ticket.stage_changed: %+v %+v", d.PreviousStage, d.Ticket)
	}

	if err := ts.Store.TicketCloseForViewer(ctx, alice, tid); err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.TicketClosed); d.Ticket == nil || d.Ticket.Status != "closed" || d.PreviousStage == nil || d.PreviousStage.ID != to {
		t.Errorf("ticket.closed: %+v %+v", d.Ticket, d.PreviousStage)
	}
	if d := take(webhook.TicketStageChanged); d.PreviousStage == nil || d.PreviousStage.ID != to {
		t.Errorf("ticket.stage_changed on close: %+v", d.PreviousStage)
	}

	if err := ts.Store.TicketRateForViewer(ctx, alice, tid, store.ScoreGood, "Quick fix"); err != nil {
		t.Fatal(err)
	}
	if d := take(webhook.SatisfactionRated); d.Rating == nil || d.Rating.Score != "good" || d.Rating.Comment != "Quick fix" || d.Ticket.ID != tid {
		t.Errorf("satisfaction.rated: %+v", d.Rating)
	}
}

// TestWebhookRetries: 500 and 429 answers are retried with backoff under the same webhook-id
// and body until a 2xx; a 4xx gives up at once; each attempt is logged with its status.
func TestWebhookRetries(t *testing.T) {
	ts := newWebhookServer(t)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	ts.allowPrivateWebhooks(adminID, true)
	rcv := newHookReceiver(t, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusOK, http.StatusGone)
	id, secret, err := ts.Store.WebhookCreate(ctx, adminID, store.WebhookInput{URL: rcv.url(), Events: []string{webhook.ContactCreated}, Enabled: true}, ts.Handlers.WebhookSealer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.ContactAdd(ctx, "eve@example.test", "Eve", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three attempts", func() bool { return len(ts.deliveries(id)) == 3 })
	if got := strings.Join(ts.deliveries(id), " "); got != "1:500:retrying 2:429:retrying 3:200:delivered" {
		t.Errorf("attempts: %s", got)
	}
	rcv.mu.Lock()
	for i, r := range rcv.got {
		if r.header.Get("webhook-id") != rcv.got[0].header.Get("webhook-id") || string(r.body) != string(rcv.got[0].body) {
			t.Errorf("attempt %d: another id or body", i+1)
		}
		if err := webhook.Verify(secret, r.body, r.header); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	rcv.mu.Unlock()

	// 410 Gone: no retry.
	if _, err := ts.Store.ContactAdd(ctx, "frank@example.test", "Frank", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the fourth attempt", func() bool { return len(ts.deliveries(id)) == 4 })
	time.Sleep(500 * time.Millisecond) // a retry would come after 20 ms
	if got := ts.deliveries(id); len(got) != 4 || got[3] != "1:410:failed" || rcv.count() != 4 {
		t.Errorf("after a 410: %v, %d requests", got, rcv.count())
	}
}

// TestWebhookSSRFAtDelivery: a webhook saved while private addresses were allowed is refused
// when the setting is off at delivery time (the dialer checks the resolved address): nothing
// reaches the receiver, the attempt is logged as failed and not retried.
func TestWebhookSSRFAtDelivery(t *testing.T) {
	ts := newWebhookServer(t)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	ts.allowPrivateWebhooks(adminID, true)
	rcv := newHookReceiver(t)
	for _, u := range []string{rcv.url(), strings.Replace(rcv.url(), "127.0.0.1", "localhost", 1)} {
		id, _, err := ts.Store.WebhookCreate(ctx, adminID, store.WebhookInput{URL: u, Events: []string{webhook.ContactCreated}, Enabled: true}, ts.Handlers.WebhookSealer)
		if err != nil {
			t.Fatal(err)
		}
		ts.allowPrivateWebhooks(adminID, false)
		if _, err := ts.Store.WebhookTest(ctx, id); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the refused attempt", func() bool { return len(ts.deliveries(id)) == 1 })
		ds, _ := ts.Store.WebhookDeliveries(ctx, id, 10)
		if ds[0].Outcome != store.WebhookFailed || ds[0].Status != nil || !strings.Contains(ds[0].Error, "refused") {
			t.Errorf("%s: %+v", u, ds[0])
		}
		if rcv.count() != 0 {
			t.Fatalf("%s: the receiver was reached", u)
		}
		// Saving it again is refused too.
		if err := ts.Store.WebhookUpdate(ctx, adminID, id, store.WebhookInput{URL: u, Events: []string{webhook.ContactCreated}, Enabled: true}); err == nil {
			t.Errorf("%s: saved with private addresses refused", u)
		}
		ts.allowPrivateWebhooks(adminID, true)
	}
}

// TestWebhookLogPurge: attempts older than 30 days are forgotten, newer ones kept.
func TestWebhookLogPurge(t *testing.T) {
	pool := storetest.NewDB(t)
	s := store.New(pool)
	ctx := context.Background()
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO webhooks (url, events) VALUES ('https://example.com/', '{contact.created}') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, message_id, event, attempt, outcome, created_at) VALUES
		($1, 'msg_old', 'contact.created', 1, 'delivered', now() - interval '31 days'),
		($1, 'msg_new', 'contact.created', 1, 'delivered', now() - interval '29 days')`, id); err != nil {
		t.Fatal(err)
	}
	n, err := s.WebhookDeliveriesPurge(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	ds, _ := s.WebhookDeliveries(ctx, id, 10)
	if len(ds) != 1 || ds[0].MessageID != "msg_new" {
		t.Errorf("left: %+v", ds)
	}
}
