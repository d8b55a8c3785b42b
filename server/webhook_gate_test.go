package server

import (
	"context"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
	"portico/webhook"
)

// TestWebhookGateAcrossInstances: with no webhook, a customer reply enqueues no event and asks
// PostgreSQL about subscribers once per instance, not once per reply (proved by a subscription
// made with the announcing trigger off: instance b, which had answered from memory, does not see
// it); an announced change reaches b, whose next replies enqueue their events.
func TestWebhookGateAcrossInstances(t *testing.T) {
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	a := newTestServerWithPrefix(t, pool, prefix)
	b := newTestServerWithPrefix(t, pool, prefix)
	a.waitLive()
	b.waitLive()
	fx := storetest.MustStandard(t, pool)
	ctx := context.Background()
	adminID := mustStaff(t, pool, "root@portico.test", "Root Admin", "admin")
	a.allowPrivateWebhooks(adminID, true)
	ticket := storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Gate", Body: "hello", RequesterID: fx.Alice, CompanyID: fx.Acme})
	v := store.NewViewer(fx.Alice, fx.Acme, store.DefaultSettings(), "")
	reply := func(s *testServer) {
		t.Helper()
		if _, err := s.Store.TicketReplyCreate(ctx, v, ticket, "a reply", store.ReplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	events := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, store.WebhookEventJob{}.Kind()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	reply(b)
	reply(b)
	if n := events(); n != 0 {
		t.Fatalf("%d webhook events enqueued without any webhook", n)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE webhooks DISABLE TRIGGER webhooks_notify_changed`); err != nil {
		t.Fatal(err)
	}
	id, _, err := a.Store.WebhookCreate(ctx, adminID, store.WebhookInput{URL: "http://127.0.0.1:9/hook", Events: []string{webhook.MessageAdded}, Enabled: true}, a.Handlers.WebhookSealer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE webhooks ENABLE TRIGGER webhooks_notify_changed`); err != nil {
		t.Fatal(err)
	}
	reply(b)
	if n := events(); n != 0 {
		t.Fatalf("instance b enqueued %d events for an unannounced subscription: it asked PostgreSQL on every reply", n)
	}
	reply(a) // the instance that made the change knows at once
	if n := events(); n != 1 {
		t.Fatalf("instance a: %d events after its own subscription, want 1", n)
	}
	if err := a.Store.WebhookSetEnabled(ctx, adminID, id, true); err != nil { // announced
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		reply(b)
		if events() > 1 {
			t.Logf("instance b heard of the subscription after %v", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("instance b never heard of the subscription")
		}
	}
}
