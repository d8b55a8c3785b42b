package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"portico/sql/store/storetest"
)

// liveNotices subscribes to the live-update channel of a ticket, as every instance does.
type liveNotices struct {
	t       *testing.T
	rdb     redis.UniversalClient
	channel string
	ch      <-chan *redis.Message
}

func subscribeTicket(t *testing.T, ts *testServer, id int64) *liveNotices {
	t.Helper()
	ctx := context.Background()
	channel := ChannelPrefix(ts.Redis, ts.prefix) + "ticket:" + strconv.FormatInt(id, 10)
	ps := ts.Redis.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil { // the confirmation
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	return &liveNotices{t: t, rdb: ts.Redis, channel: channel, ch: ps.Channel()}
}

// next returns the payload of the next notice (deadline 5 s).
func (l *liveNotices) next() string {
	l.t.Helper()
	select {
	case m := <-l.ch:
		return m.Payload
	case <-time.After(5 * time.Second):
		l.t.Fatal("no live notice within 5 s")
	}
	return ""
}

// none asserts that nothing was published since the last notice read: a marker published now
// must be the very next message (Redis delivers one channel's messages in order).
func (l *liveNotices) none(what string) {
	l.t.Helper()
	if err := l.rdb.Publish(context.Background(), l.channel, "marker").Err(); err != nil {
		l.t.Fatal(err)
	}
	if got := l.next(); got != "marker" {
		l.t.Fatalf("%s published a live notice (%q)", what, got)
	}
}

func replyMails(t *testing.T, ts *testServer) int {
	return countRows(t, ts, `SELECT count(*) FROM river_job WHERE kind = 'portico_mail' AND args->>'template' = 'ticket_reply'`)
}

func TestAgentReplyNotifiesCustomerAndPublishes(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	std := storetest.MustStandard(t, ts.Pool)
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	live := subscribeTicket(t, ts, std.AliceOpen)
	path := "/admin/inbox/" + strconv.FormatInt(std.AliceOpen, 10)

	// An internal note: no mail, no live notice.
	if resp, _ := agent.post(path+"/messages", url.Values{"body": {"SECRET internal remark"}, "internal": {"true"}}, true); resp.StatusCode != 200 {
		t.Fatalf("note: %d", resp.StatusCode)
	}
	if n := replyMails(t, ts); n != 0 {
		t.Fatalf("a note enqueued %d notification mails", n)
	}
	live.none("an internal note")

	// A public reply: one notification mail (in the reply's transaction) and a live notice.
	if resp, _ := agent.post(path+"/messages", url.Values{"body": {"We replaced the printer."}}, true); resp.StatusCode != 200 {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	if got := live.next(); got != "changed" {
		t.Fatalf("live notice after a reply: %q", got)
	}
	var to, p string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT args->>'to', args->>'path' FROM river_job
		WHERE kind = 'portico_mail' AND args->>'template' = 'ticket_reply'`).Scan(&to, &p); err != nil {
		t.Fatal(err)
	}
	if to != std.AliceEmail || p != ticketPath(std.AliceOpen) {
		t.Fatalf("notification to %q path %q", to, p)
	}
	m := smtpd.next()
	if m.To != std.AliceEmail || m.Subject != "New reply on your ticket “Printer on fire”" {
		t.Fatalf("mail to %q subject %q", m.To, m.Subject)
	}
	if link := m.link(t, ticketPath(std.AliceOpen)); link != ticketPath(std.AliceOpen) {
		t.Fatalf("link %q", link)
	}
	if strings.Contains(m.Text+m.HTML, "SECRET") {
		t.Fatal("the notification carries the internal note")
	}
	if !strings.Contains(m.Text, "> We replaced the printer.") || !strings.Contains(m.HTML, "We replaced the printer.") {
		t.Fatalf("the notification lacks the answer:\n%s", m.Text)
	}
	// The link opens the ticket for Alice, with the reply.
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	resp, doc := alice.get(ticketPath(std.AliceOpen), false)
	if resp.StatusCode != 200 || !strings.Contains(doc.Find("#messages").Text(), "We replaced the printer.") {
		t.Fatalf("ticket page after the reply: %d", resp.StatusCode)
	}

	// Stage and owner changes publish too (no mail).
	var stage int64
	if err := ts.Pool.QueryRow(context.Background(), `SELECT id FROM stages WHERE name = 'Waiting on contact'`).Scan(&stage); err != nil {
		t.Fatal(err)
	}
	if resp, _ := agent.post(path+"/stage", url.Values{"stage": {strconv.FormatInt(stage, 10)}}, true); resp.StatusCode != 200 {
		t.Fatalf("stage: %d", resp.StatusCode)
	}
	if got := live.next(); got != "changed" {
		t.Fatalf("live notice after a stage change: %q", got)
	}
	if resp, _ := agent.post(path+"/owner", url.Values{"owner": {"0"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner: %d", resp.StatusCode)
	}
	if got := live.next(); got != "changed" {
		t.Fatalf("live notice after an owner change: %q", got)
	}
	if n := replyMails(t, ts); n != 1 {
		t.Fatalf("notification mails: %d, want 1", n)
	}
}

// TestAgentReplyOnFilteredTicketSendsNoMail: a ticket the admin's filters hide from customers
// gets no notification (its link would answer 404).
func TestAgentReplyOnFilteredTicketSendsNoMail(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	path := "/admin/inbox/" + strconv.FormatInt(std.AliceOpen, 10)
	if err := ts.Store.SettingSet(context.Background(), "ticket_filters", "pipeline is not Support"); err != nil {
		t.Fatal(err)
	}
	agent.get(path, false)
	if resp, _ := agent.post(path+"/messages", url.Values{"body": {"hidden answer"}}, true); resp.StatusCode != 200 {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	if n := replyMails(t, ts); n != 0 {
		t.Fatalf("%d mails for a ticket the customer cannot see", n)
	}
	if err := ts.Store.SettingSet(context.Background(), "ticket_filters", ""); err != nil {
		t.Fatal(err)
	}
	if resp, _ := agent.post(path+"/messages", url.Values{"body": {"visible answer"}}, true); resp.StatusCode != 200 {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	if n := replyMails(t, ts); n != 1 {
		t.Fatalf("%d mails for a visible ticket, want 1", n)
	}
}
