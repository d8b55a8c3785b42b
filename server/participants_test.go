package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestParticipantsOnEveryPath is the HTTP permission matrix's participant axis (issue 16.1):
// Alice shares her ticket with Bob from the portal ("Share with"); Bob then reaches it on every
// customer path (the "Shared with me" list, search, detail, attachments, live updates) and may
// reply only when the admin allows; Carol of another company reaches none of it; a participant
// cannot close or share; once Alice removes Bob, his open session loses every path at once.
func TestParticipantsOnEveryPath(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	alice, bob, carol := ts.client(), ts.client(), ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	bob.signIn(fx.BobEmail, fx.Password)
	carol.signIn(fx.CarolEmail, fx.Password)

	// An attachment on Alice's ticket, uploaded by her.
	ctype, body := multipartBody(t, [][2]string{{"body", "screenshot attached"}}, []filePart{{"screen.png", pngBytes}})
	alice.get(ticketPath(fx.AliceOpen), false)
	if resp, _ := alice.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	var attID int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM attachments WHERE ticket_id = $1`, fx.AliceOpen).Scan(&attID); err != nil {
		t.Fatal(err)
	}
	att := fmt.Sprintf("/attachments/%d", attID)

	// Before sharing, Bob (own mode) has no view menu and no access.
	if _, doc := bob.get("/tickets", false); doc.Find("#view-menu").Length() != 0 {
		t.Fatal("view menu without shared tickets in own mode")
	}
	// Carol's share attempt (not her ticket) and Alice's share with Carol (another company,
	// default policy) are refused; Alice's share with Bob works.
	carol.get("/tickets", false)
	if resp, _ := carol.post(ticketPath(fx.AliceOpen)+"/participants", url.Values{"email": {fx.CarolEmail}}, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("stranger shares: %d", resp.StatusCode)
	}
	_, page := alice.get(ticketPath(fx.AliceOpen), false)
	if page.Find("#share-form").Length() != 1 || !strings.Contains(page.Find("#share-help").Text(), "colleagues") {
		t.Fatalf("no share form for the requester: %q", page.Find("#participants").Text())
	}
	resp, doc := alice.post(ticketPath(fx.AliceOpen)+"/participants", url.Values{"email": {fx.CarolEmail}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#share-error").Length() != 1 || doc.Find("#share-email").AttrOr("value", "") != fx.CarolEmail {
		t.Fatalf("share with another company: %d %q", resp.StatusCode, doc.Find("#share-error").Text())
	}
	resp, _ = alice.post(ticketPath(fx.AliceOpen)+"/participants", url.Values{"email": {fx.BobEmail}}, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "shared=added") {
		t.Fatalf("share with Bob: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = alice.get(ticketPath(fx.AliceOpen)+"?shared=added", false)
	if !strings.Contains(page.Find("#participant-list").Text(), "Bob Baker") || page.Find("#participants-notice").Length() != 1 {
		t.Fatalf("participant list: %q", page.Find("#participants").Text())
	}
	if n := countRows(t, ts, `SELECT count(*) FROM river_job WHERE args->>'template' = 'ticket_shared' AND args->>'to' = $1`, fx.BobEmail); n != 1 {
		t.Fatalf("%d share mails to Bob", n)
	}

	type path struct {
		name, url string
		hx        bool
	}
	paths := []path{
		{"detail", ticketPath(fx.AliceOpen), false},
		{"changes", ticketPath(fx.AliceOpen) + "/messages?after=0", true},
		{"events", ticketPath(fx.AliceOpen) + "/events", false},
		{"attachment", att, false},
	}
	reach := func(c *client, who string, want int) {
		t.Helper()
		for _, p := range paths {
			if p.name == "events" && want == http.StatusOK {
				continue // a stream that stays open: its refusal is what matters here
			}
			req := httptest.NewRequest(http.MethodGet, p.url, nil)
			if p.hx {
				req.Header.Set("HX-Request", "true")
			}
			resp := c.do(req)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s %s: %d, want %d", who, p.name, resp.StatusCode, want)
			}
		}
	}
	reach(bob, "Bob", http.StatusOK)
	reach(carol, "Carol", http.StatusNotFound)

	// Bob's list: the view menu offers Shared with me, which lists the ticket and finds it by
	// subject and by message text; Owned by me does not list it.
	_, doc = bob.get("/tickets", false)
	shared, ok := doc.Find("#view-shared").Attr("href")
	if !ok {
		t.Fatalf("no Shared with me in %q", doc.Find(".view-menu").Text())
	}
	if contains(texts(doc, "#tickets-table tbody td:first-child"), "Printer on fire") {
		t.Error("Owned by me lists a shared ticket")
	}
	_, doc = bob.get(shared, true)
	if !contains(texts(doc, "#tickets-table tbody td:first-child"), "Printer on fire") {
		t.Fatalf("Shared with me lists %v", texts(doc, "#tickets-table tbody td:first-child"))
	}
	for _, q := range []string{"Printer", "screenshot attached"} {
		_, sdoc := bob.get("/tickets?view=shared&q="+url.QueryEscape(q), true)
		if !contains(texts(sdoc, "#tickets-table tbody td:first-child"), "Printer on fire") {
			t.Errorf("shared search %q finds nothing", q)
		}
		_, cdoc := carol.get("/tickets?view=shared&q="+url.QueryEscape(q), true)
		if cdoc.Find("#tickets-table tbody tr").Length() != 0 {
			t.Errorf("Carol's shared search %q finds a ticket", q)
		}
	}

	// Bob reads but may not reply (default), close, share or remove Alice's other participants.
	_, doc = bob.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#reply-form").Length() != 0 || !strings.Contains(doc.Find("#closed-notice").Text(), "only the requester") {
		t.Errorf("participant reply box: %q", doc.Find("#reply-box").Text())
	}
	if doc.Find("#close-form").Length() != 0 || doc.Find("#share-form").Length() != 0 || doc.Find("#shared-intro").Length() != 1 {
		t.Error("participant sees close or share, or no intro")
	}
	if resp, _ := bob.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"participant reply"}}, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("participant reply without permission: %d", resp.StatusCode)
	}
	if resp, _ := bob.post(ticketPath(fx.AliceOpen)+"/close", nil, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("participant close: %d", resp.StatusCode)
	}
	if err := ts.Store.SettingSet(ctx, "participants_can_reply", "true"); err != nil {
		t.Fatal(err)
	}
	_, doc = bob.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#reply-form").Length() != 1 {
		t.Error("no reply box with participants_can_reply")
	}
	if resp, _ := bob.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"participant reply"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("participant reply with permission: %d", resp.StatusCode)
	}
	if resp, _ := carol.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"participant reply"}}, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("stranger reply: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body = 'participant reply'`); n != 1 {
		t.Fatalf("%d participant replies stored, want 1", n)
	}

	// Alice removes Bob: his open session loses every path at once.
	var bobID = fx.Bob
	if resp, _ := carol.post(fmt.Sprintf("%s/participants/%d/remove", ticketPath(fx.AliceOpen), bobID), nil, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("stranger removes: %d", resp.StatusCode)
	}
	if resp, _ := alice.post(fmt.Sprintf("%s/participants/%d/remove", ticketPath(fx.AliceOpen), bobID), nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	reach(bob, "removed Bob", http.StatusNotFound)
	if _, doc := bob.get("/tickets?view=shared", true); doc.Find("#tickets-table tbody tr").Length() != 0 {
		t.Error("removed participant still lists the ticket")
	}
	if resp, _ := bob.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"after removal"}}, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("reply after removal: %d", resp.StatusCode)
	}
}

// TestInboxParticipants: an agent adds a participant by address (a new one becomes a contact
// and is mailed a link), sees them listed, removes them; a participant leaves on their own.
func TestInboxParticipants(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	base := fmt.Sprintf("/admin/inbox/%d", fx.BobT)
	_, doc := agent.get(base, false)
	if doc.Find("#share-form").Length() != 1 {
		t.Fatal("no add-participant form in the inbox")
	}
	resp, doc := agent.post(base+"/participants", url.Values{"email": {"nope"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#share-error").Length() != 1 {
		t.Fatalf("bad address: %d", resp.StatusCode)
	}
	if resp, _ := agent.post(base+"/participants", url.Values{"email": {fx.CarolEmail}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add Carol: %d", resp.StatusCode)
	}
	if resp, _ := agent.post(base+"/participants", url.Values{"email": {"newcomer@else.test"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a new address: %d", resp.StatusCode)
	}
	_, doc = agent.get(base, false)
	list := doc.Find("#participant-list").Text()
	if !strings.Contains(list, "Carol Cruz") || !strings.Contains(list, "newcomer@else.test") || !strings.Contains(list, "Agent Smith") {
		t.Fatalf("inbox participants: %q", list)
	}
	// An agent's public reply notifies the participants too.
	if resp, _ := agent.post(base+"/messages", url.Values{"body": {"We are on it."}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agent reply: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM river_job WHERE args->>'template' = 'ticket_reply' AND args->>'to' = $1`, fx.CarolEmail); n != 1 {
		t.Fatalf("Carol got %d reply notices", n)
	}
	carol := ts.client()
	carol.signIn(fx.CarolEmail, fx.Password)
	if resp, _ := carol.get(ticketPath(fx.BobT), false); resp.StatusCode != 200 {
		t.Fatalf("Carol, added by an agent: %d", resp.StatusCode)
	}
	// Carol leaves: back to the list with a notice, and the ticket is gone for her.
	_, doc = carol.get(ticketPath(fx.BobT), false)
	leave, _ := doc.Find(fmt.Sprintf("#participant-%d form", fx.Carol)).Attr("action")
	resp, _ = carol.post(leave, nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets?left=1" {
		t.Fatalf("leave: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := carol.get(ticketPath(fx.BobT), false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Carol after leaving: %d", resp.StatusCode)
	}
	var newcomer int64
	ts.Pool.QueryRow(context.Background(), `SELECT id FROM contacts WHERE email = 'newcomer@else.test'`).Scan(&newcomer)
	if resp, _ := agent.post(fmt.Sprintf("%s/participants/%d/remove", base, newcomer), nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agent removes: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_participants WHERE ticket_id = $1`, fx.BobT); n != 0 {
		t.Fatalf("%d participants left", n)
	}
}
