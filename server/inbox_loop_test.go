package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store"
)

// TestInboxLoop: agent replies → customer sees it; internal note → no customer path shows it;
// customer replies → the agent sees it at once; stage and owner changes stay consistent.
func TestInboxLoop(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	tid := itoa(f.fx.AliceOpen)

	// The inbox lists every ticket (staff are not Viewer-scoped) and filters by text.
	_, doc := f.agent.get("/admin/inbox", false)
	if n := doc.Find("#inbox-table tbody tr").Length(); n != 4 {
		t.Errorf("inbox rows = %d, want 4", n)
	}
	_, doc = f.agent.get("/admin/inbox?q=zebra", true)
	if n := doc.Find("#inbox-table tbody tr").Length(); n != 1 {
		t.Errorf("inbox q=zebra rows = %d, want 1", n)
	}
	// Full history: the fixture's internal note is there, marked.
	_, doc = f.agent.get("/admin/inbox/"+tid, false)
	if !strings.Contains(doc.Find(".internal-note").Text(), "SECRET-NOTE") {
		t.Error("agent does not see the internal note marked as such")
	}

	// Agent: a public reply and an internal note (htmx).
	resp, doc := f.agent.post("/admin/inbox/"+tid+"/messages", url.Values{"body": {"PUBLIC-ANSWER-42"}}, true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(doc.Find("#inbox-ticket").Text(), "PUBLIC-ANSWER-42") {
		t.Fatalf("agent reply: %d", resp.StatusCode)
	}
	resp, _ = f.agent.post("/admin/inbox/"+tid+"/messages", url.Values{"body": {"NOTE-NEVER-SHOWN"}, "internal": {"true"}}, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent note: %d", resp.StatusCode)
	}
	resp, doc = f.agent.post("/admin/inbox/"+tid+"/messages", url.Values{"body": {"  "}}, true)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#compose-error").Length() != 1 {
		t.Errorf("empty reply: %d", resp.StatusCode)
	}

	// The customer sees the reply, never a note: detail, list, search.
	_, doc = f.alice.get("/tickets/"+tid, false)
	page := doc.Text()
	if !strings.Contains(page, "PUBLIC-ANSWER-42") {
		t.Error("customer does not see the agent's reply")
	}
	for _, path := range []string{"/tickets/" + tid, "/tickets", "/tickets?q=NOTE-NEVER", "/tickets?q=SECRET-NOTE"} {
		_, doc := f.alice.get(path, false)
		if txt := doc.Text(); strings.Contains(txt, "NOTE-NEVER-SHOWN") || strings.Contains(txt, "SECRET-NOTE") {
			t.Errorf("%s shows an internal note", path)
		}
	}
	_, doc = f.alice.get("/tickets?q=NOTE-NEVER", false)
	if doc.Find("#tickets-table tbody tr").Length() != 0 {
		t.Error("a search for a note's text finds the ticket")
	}

	// The customer replies; the agent sees it at once.
	f.alice.get("/tickets/"+tid, false)
	if resp, _ := f.alice.post("/tickets/"+tid+"/replies", url.Values{"body": {"CUSTOMER-REPLY-7"}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("customer reply: %d", resp.StatusCode)
	}
	_, doc = f.agent.get("/admin/inbox/"+tid, false)
	if !strings.Contains(doc.Find(".from-customer").Text(), "CUSTOMER-REPLY-7") {
		t.Error("agent does not see the customer's reply")
	}

	// Stage: closing sets is_closed and closed_at; reopening clears them.
	ctx := context.Background()
	var closedStage, openStage int64
	ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE is_closed LIMIT 1`).Scan(&closedStage)
	ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE NOT is_closed ORDER BY position LIMIT 1`).Scan(&openStage)
	if resp, _ := f.agent.post("/admin/inbox/"+tid+"/stage", url.Values{"stage": {itoa(closedStage)}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("stage: %d", resp.StatusCode)
	}
	var closed, hasClosedAt bool
	ts.Pool.QueryRow(ctx, `SELECT is_closed, closed_at IS NOT NULL FROM tickets WHERE id = $1`, f.fx.AliceOpen).Scan(&closed, &hasClosedAt)
	if !closed || !hasClosedAt {
		t.Errorf("after closing: is_closed=%v closed_at set=%v", closed, hasClosedAt)
	}
	_, doc = f.alice.get("/tickets/"+tid, false)
	if st := strings.TrimSpace(doc.Find("#ticket-status").Text()); st != "Closed" {
		t.Errorf("customer status after closing = %q", st)
	}
	f.agent.post("/admin/inbox/"+tid+"/stage", url.Values{"stage": {itoa(openStage)}}, false)
	ts.Pool.QueryRow(ctx, `SELECT is_closed, closed_at IS NOT NULL FROM tickets WHERE id = $1`, f.fx.AliceOpen).Scan(&closed, &hasClosedAt)
	if closed || hasClosedAt {
		t.Errorf("after reopening: is_closed=%v closed_at set=%v", closed, hasClosedAt)
	}
	// Owner.
	f.agent.post("/admin/inbox/"+tid+"/owner", url.Values{"owner": {itoa(f.agentID)}}, false)
	_, doc = f.alice.get("/tickets", false)
	if !strings.Contains(doc.Find("#tickets-table").Text(), "Gus Agent") {
		t.Error("customer list does not show the new owner")
	}
	_, doc = f.agent.get("/admin/inbox?owner=none", false)
	if strings.Contains(doc.Find("#inbox-table").Text(), "Printer on fire") {
		t.Error("owner=none lists an assigned ticket")
	}
}

// TestPhoneTicketOpensThreadOnFirstReply: a ticket an agent creates for a contact has no
// conversation; the customer's first reply opens one in the default inbox.
func TestPhoneTicketOpensThreadOnFirstReply(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	var pipeline int64
	ts.Pool.QueryRow(ctx, `SELECT id FROM pipelines WHERE name = 'Support'`).Scan(&pipeline)
	f.agent.get("/admin/inbox/new", false)
	resp, doc := f.agent.post("/admin/inbox/new", url.Values{"contact": {"nobody@x.test"}, "subject": {""}, "pipeline": {itoa(pipeline)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-contact").Length() != 1 || doc.Find("#e-subject").Length() != 1 {
		t.Fatalf("invalid new ticket: %d", resp.StatusCode)
	}
	resp, _ = f.agent.post("/admin/inbox/new", url.Values{"contact": {f.fx.AliceEmail}, "subject": {"Called about the router"}, "pipeline": {itoa(pipeline)}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("new ticket: %d", resp.StatusCode)
	}
	var id int64
	var channel string
	var convs int
	ts.Pool.QueryRow(ctx, `SELECT id, channel, (SELECT count(*) FROM conversations c WHERE c.ticket_id = t.id) FROM tickets t WHERE subject = 'Called about the router'`).Scan(&id, &channel, &convs)
	if channel != "phone" || convs != 0 {
		t.Fatalf("phone ticket: channel %q, %d conversations", channel, convs)
	}
	f.alice.get("/tickets/"+itoa(id), false)
	if resp, _ := f.alice.post("/tickets/"+itoa(id)+"/replies", url.Values{"body": {"First words"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("customer first reply: %d", resp.StatusCode)
	}
	var inboxDefault bool
	var cch string
	ts.Pool.QueryRow(ctx, `SELECT i.is_default, c.channel FROM conversations c JOIN inboxes i ON i.id = c.inbox_id WHERE c.ticket_id = $1`, id).Scan(&inboxDefault, &cch)
	if !inboxDefault || cch != "portal" {
		t.Errorf("first reply's conversation: default inbox %v, channel %q", inboxDefault, cch)
	}
	_ = store.RoleAgent
}
