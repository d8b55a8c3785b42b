package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestAcceptOrReopen (issue 16.5): an agent moves a ticket to the "Solved" stage (one that asks
// for confirmation); the requester is mailed and sees "Is this solved?"; Yes closes it; on
// another ticket a reply ("No, it still happens") reopens it; a participant and a stranger
// cannot accept; accepting a ticket that is not waiting changes nothing.
func TestAcceptOrReopen(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	var solved, newStage int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = 'Solved' AND asks_confirmation`).Scan(&solved); err != nil {
		t.Fatalf("the migration's Solved stage: %v", err)
	}
	ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = 'New'`).Scan(&newStage)
	if _, err := ts.Pool.Exec(ctx, `INSERT INTO ticket_participants (ticket_id, contact_id, added_via) VALUES ($1, $2, 'agent')`, fx.AliceOpen, fx.Carol); err != nil {
		t.Fatal(err)
	}
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	setStage := func(ticket, stage int64) {
		t.Helper()
		if resp, _ := agent.post(fmt.Sprintf("/admin/inbox/%d/stage", ticket), url.Values{"stage": {fmt.Sprint(stage)}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set stage: %d", resp.StatusCode)
		}
	}
	alice, bob, carol := ts.client(), ts.client(), ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	bob.signIn(fx.BobEmail, fx.Password)
	carol.signIn(fx.CarolEmail, fx.Password)

	// Not waiting: no question, and accepting changes nothing.
	_, doc := alice.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#confirm-solution").Length() != 0 {
		t.Fatal("question on an open ticket")
	}
	alice.post(ticketPath(fx.AliceOpen)+"/accept", nil, false)
	if n := countRows(t, ts, `SELECT count(*) FROM tickets WHERE id = $1 AND is_closed`, fx.AliceOpen); n != 0 {
		t.Fatal("accepting a ticket that is not waiting closed it")
	}

	setStage(fx.AliceOpen, solved)
	if n := countRows(t, ts, `SELECT count(*) FROM river_job WHERE args->>'template' = 'ticket_solved' AND args->>'to' = $1`, fx.AliceEmail); n != 1 {
		t.Fatalf("%d solved mails to Alice", n)
	}
	_, doc = alice.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#confirm-solution").Length() != 1 || doc.Find("#accept-form").Length() != 1 || !strings.Contains(doc.Find("#reply-notice").Text(), "reopens") {
		t.Fatalf("no question for the requester: %q", doc.Find("#ticket-actions").Text())
	}
	if v, _ := doc.Find("#ticket-state").Attr("value"); v != "solved" {
		t.Errorf("page state %q", v)
	}
	_, doc = carol.get(ticketPath(fx.AliceOpen), false) // a participant sees no question
	if doc.Find("#confirm-solution").Length() != 0 {
		t.Error("participant asked to confirm")
	}
	for name, c := range map[string]*client{"participant": carol, "stranger": bob} {
		if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/accept", nil, false); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s accepts: %d", name, resp.StatusCode)
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM tickets WHERE id = $1 AND is_closed`, fx.AliceOpen); n != 0 {
		t.Fatal("refused accept closed the ticket")
	}
	resp, _ := alice.post(ticketPath(fx.AliceOpen)+"/accept", nil, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?accepted=1") {
		t.Fatalf("accept: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, doc = alice.get(resp.Header.Get("Location"), false)
	if doc.Find("#ticket-notice").Length() != 1 || doc.Find("#confirm-solution").Length() != 0 {
		t.Fatal("no thanks after accepting")
	}
	if n := countRows(t, ts, `SELECT count(*) FROM tickets t JOIN stages s ON s.id = t.stage_id WHERE t.id = $1 AND t.is_closed AND s.is_closed AND t.closed_at IS NOT NULL`, fx.AliceOpen); n != 1 {
		t.Fatal("accepted ticket not closed")
	}

	// Reopen: Bob's ticket marked solved, Bob answers "No, it still happens" with a reply.
	setStage(fx.BobT, solved)
	_, doc = bob.get(ticketPath(fx.BobT), false)
	if href, _ := doc.Find("#accept-no").Attr("href"); href != "#reply-body" || doc.Find("#reply-body").Length() != 1 {
		t.Fatalf("No leads to %q", href)
	}
	if resp, _ := bob.post(ticketPath(fx.BobT)+"/replies", url.Values{"body": {"It still drops every hour."}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopening reply: %d", resp.StatusCode)
	}
	var stage int64
	var closed bool
	ts.Pool.QueryRow(ctx, `SELECT stage_id, is_closed FROM tickets WHERE id = $1`, fx.BobT).Scan(&stage, &closed)
	if stage != newStage || closed {
		t.Fatalf("after the reply: stage %d (want New %d), closed %v", stage, newStage, closed)
	}
	if _, doc := bob.get(ticketPath(fx.BobT), false); doc.Find("#confirm-solution").Length() != 0 {
		t.Error("question still shown after reopening")
	}
}
