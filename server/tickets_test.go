package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

func ticketPath(id int64) string { return "/tickets/" + strconv.FormatInt(id, 10) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// TestScopeMatrix: in own and company mode, each access path (list, search, detail, reply)
// shows exactly the tickets in scope and answers 404 across the line.
func TestScopeMatrix(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	type want struct {
		listed, hidden []string // subjects
		reach, refuse  []int64  // detail + reply
	}
	cases := []struct {
		mode, email string
		w           want
	}{
		{"own", fx.AliceEmail, want{[]string{"Printer on fire", "Invoice copy"}, []string{"VPN keeps dropping", "Globex payroll export"}, []int64{fx.AliceOpen}, []int64{fx.BobT, fx.CarolT}}},
		{"own", fx.CarolEmail, want{[]string{"Globex payroll export"}, []string{"Printer on fire", "VPN keeps dropping"}, []int64{fx.CarolT}, []int64{fx.AliceOpen, fx.BobT}}},
		{"company", fx.AliceEmail, want{[]string{"Printer on fire", "Invoice copy", "VPN keeps dropping"}, []string{"Globex payroll export"}, []int64{fx.AliceOpen, fx.BobT}, []int64{fx.CarolT}}},
		{"company", fx.CarolEmail, want{[]string{"Globex payroll export"}, []string{"Printer on fire", "VPN keeps dropping", "Invoice copy"}, []int64{fx.CarolT}, []int64{fx.AliceOpen, fx.BobT}}},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.email, func(t *testing.T) {
			if err := ts.Store.SettingSet(ctx, "ticket_permissions", tc.mode); err != nil {
				t.Fatal(err)
			}
			c := ts.client()
			c.signIn(tc.email, fx.Password)
			_, doc := c.get("/tickets", false)
			listed := texts(doc, "#tickets-table tbody td:first-child")
			for _, s := range tc.w.listed {
				if !contains(listed, s) {
					t.Errorf("list lacks %q: %v", s, listed)
				}
			}
			for _, s := range tc.w.hidden {
				if contains(listed, s) {
					t.Errorf("list shows %q out of scope", s)
				}
				// Search finds nothing across the line, by subject or by message text.
				_, sdoc := c.get("/tickets?q="+url.QueryEscape(s), true)
				if contains(texts(sdoc, "#tickets-table tbody td:first-child"), s) {
					t.Errorf("search for %q shows it out of scope", s)
				}
			}
			if _, sdoc := c.get("/tickets?q=zebra", true); tc.email != fx.CarolEmail && sdoc.Find("#tickets-table tbody tr").Length() != 0 {
				t.Error("message-text search leaks Carol's ticket")
			}
			for _, id := range tc.w.reach {
				if resp, _ := c.get(ticketPath(id), false); resp.StatusCode != 200 {
					t.Errorf("detail %d: %d, want 200", id, resp.StatusCode)
				}
			}
			for _, id := range tc.w.refuse {
				if resp, _ := c.get(ticketPath(id), false); resp.StatusCode != http.StatusNotFound {
					t.Errorf("detail %d: %d, want 404", id, resp.StatusCode)
				}
				resp, _ := c.post(ticketPath(id)+"/replies", url.Values{"body": {"sneaky"}}, true)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("reply %d: %d, want 404", id, resp.StatusCode)
				}
			}
			var n int
			ts.Pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE body = 'sneaky'`).Scan(&n)
			if n != 0 {
				t.Fatalf("%d replies stored across the line", n)
			}
		})
	}
	// A ticket id that does not exist answers exactly like one out of scope.
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	if resp, _ := c.get("/tickets/999999999", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing ticket: %d", resp.StatusCode)
	}
}

func TestViewMenuOnlyInCompanyModeAndKeepsStateInURL(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	if _, doc := c.get("/tickets", false); doc.Find("#view-menu").Length() != 0 {
		t.Fatal("View menu shown in own mode")
	}
	if err := ts.Store.SettingSet(context.Background(), "ticket_permissions", "company"); err != nil {
		t.Fatal(err)
	}
	_, doc := c.get("/tickets", false)
	if !strings.Contains(doc.Find("#view-menu").Text(), "Organization tickets") {
		t.Fatalf("View menu = %q", doc.Find("#view-menu").Text())
	}
	mine, _ := doc.Find("#view-mine").Attr("hx-get")
	resp, frag := c.get(mine, true)
	if frag.Find("header nav").Length() != 0 || frag.Find("title").Length() != 0 {
		t.Error("htmx request got a whole page, want the list fragment")
	}
	if frag.Find("#ticket-list").Length() != 1 || resp.StatusCode != 200 {
		t.Fatal("fragment lacks #ticket-list")
	}
	listed := texts(frag, "#tickets-table tbody td:first-child")
	if contains(listed, "VPN keeps dropping") || !contains(listed, "Printer on fire") {
		t.Errorf("Owned by me lists %v", listed)
	}
	// Reload of the pushed URL keeps the view.
	_, full := c.get("/tickets?view=mine", false)
	if !strings.Contains(full.Find("#view-menu").Text(), "Owned by me") {
		t.Errorf("reload lost the view: %q", full.Find("#view-menu").Text())
	}
}

func TestStatusFilterAndCustomStages(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get("/tickets?status=closed", false)
	if got := texts(doc, "#tickets-table tbody td:first-child"); len(got) != 1 || got[0] != "Invoice copy" {
		t.Fatalf("closed filter: %v", got)
	}
	if got := texts(doc, "#tickets-table tbody td:last-child"); got[0] != "Closed" {
		t.Errorf("status column = %v", got)
	}
	_, doc = c.get("/tickets?status=open", false)
	if got := texts(doc, "#tickets-table tbody td:first-child"); len(got) != 1 || got[0] != "Printer on fire" {
		t.Fatalf("open filter: %v", got)
	}
	if err := ts.Store.SettingSet(context.Background(), "show_custom_stages", "true"); err != nil {
		t.Fatal(err)
	}
	_, doc = c.get("/tickets?status=open", false)
	if got := texts(doc, "#tickets-table tbody td:last-child"); got[0] != "New" {
		t.Errorf("custom stage column = %v, want the stage name", got)
	}
}

func TestPaginationKeysetBothWays(t *testing.T) {
	ts := newTestServer(t, nil)
	co := storetest.MustCompany(t, ts.Pool, "Initech")
	ct := storetest.MustContact(t, ts.Pool, "peter@initech.test", "Peter", co, "swingline stapler")
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 60; i++ {
		storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: fmt.Sprintf("T%02d", i), Body: "b", RequesterID: ct, CompanyID: co, Activity: base.Add(time.Duration(i) * time.Second)})
	}
	c := ts.client()
	c.signIn("peter@initech.test", "swingline stapler")
	_, doc := c.get("/tickets", false)
	var seen []string
	pages := 0
	for {
		pages++
		seen = append(seen, texts(doc, "#tickets-table tbody td:first-child")...)
		next, ok := doc.Find(`a[rel=next]`).Attr("href")
		if !ok {
			break
		}
		_, doc = c.get(next, true)
	}
	if pages != 3 || len(seen) != 60 || seen[0] != "T59" || seen[59] != "T00" {
		t.Fatalf("pages %d, rows %d, first %q last %q", pages, len(seen), seen[0], seen[len(seen)-1])
	}
	prev, ok := doc.Find(`a[rel=prev]`).Attr("href")
	if !ok {
		t.Fatal("last page has no rel=prev")
	}
	_, doc = c.get(prev, true)
	if got := texts(doc, "#tickets-table tbody td:first-child"); len(got) != 25 || got[0] != "T34" {
		t.Fatalf("prev page: %d rows starting %v", len(got), got[:1])
	}
}

func TestTicketDetailShowsPublicMessagesOnly(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	resp, doc := c.get(ticketPath(fx.AliceOpen), false)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	msgs := texts(doc, "#messages .message-body")
	if len(msgs) != 2 || msgs[0] != "The printer is on fire." || msgs[1] != "Please unplug it." {
		t.Fatalf("messages = %q", msgs)
	}
	html, _ := doc.Html()
	if strings.Contains(html, "SECRET-NOTE") {
		t.Fatal("internal note reached the customer")
	}
	// Search does not match internal notes either.
	_, sdoc := c.get("/tickets?q=SECRET-NOTE", true)
	if sdoc.Find("#tickets-table tbody tr").Length() != 0 {
		t.Fatal("search matched an internal note")
	}
}

func TestReplyHTMXAndPlainForm(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	path := ticketPath(fx.AliceOpen) + "/replies"

	// Empty reply: 422, message beside the box.
	resp, doc := c.post(path, url.Values{"body": {"   "}}, true)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#reply-error").Length() != 1 {
		t.Fatalf("empty reply: %d, error shown %d", resp.StatusCode, doc.Find("#reply-error").Length())
	}
	// Oversized reply: 422 and the text kept.
	long := strings.Repeat("é", 20001)
	resp, doc = c.post(path, url.Values{"body": {long}}, true)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#reply-body").Text() != long {
		t.Fatalf("long reply: %d, text kept %v", resp.StatusCode, doc.Find("#reply-body").Text() == long)
	}
	// A good reply: the box clears and the page is told to fetch what changed; that fetch
	// brings the message (escaped), the new last activity and the new marker.
	_, before := c.get(ticketPath(fx.AliceOpen), false)
	after, _ := before.Find("#after-id").Attr("value")
	body := "Still smoking <b>bold</b> & ü"
	resp, doc = c.post(path, url.Values{"body": {body}}, true)
	if resp.StatusCode != 200 || resp.Header.Get("HX-Trigger") != "ticket-changed" {
		t.Fatalf("reply: %d, HX-Trigger %q", resp.StatusCode, resp.Header.Get("HX-Trigger"))
	}
	if doc.Find("#reply-body").Text() != "" {
		t.Error("reply box not cleared")
	}
	_, doc = c.get(ticketPath(fx.AliceOpen)+"/messages?after="+after, true)
	if got := texts(doc, ".message .message-body"); len(got) != 1 || got[0] != body {
		t.Errorf("changes after %s = %q", after, got)
	}
	if doc.Find(`#last-activity[hx-swap-oob]`).Length() != 1 || doc.Find(`#after-id[hx-swap-oob]`).AttrOr("value", after) == after {
		t.Error("last activity / marker not updated out of band")
	}
	html, _ := doc.Html()
	if strings.Contains(html, "<b>bold</b>") {
		t.Error("reply HTML not escaped")
	}
	// The ticket's last activity moved, and the reply is on the contact's timeline.
	var n int
	ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM timeline_events WHERE contact_id = $1 AND kind = 'email'`, fx.Alice).Scan(&n)
	if n != 1 {
		t.Errorf("timeline events = %d", n)
	}
	// Without JavaScript: 303 back to the ticket, where the reply shows.
	resp, _ = c.post(path, url.Values{"body": {"plain form reply"}}, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), ticketPath(fx.AliceOpen)) {
		t.Fatalf("plain reply: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, doc = c.get(ticketPath(fx.AliceOpen), false)
	if msgs := texts(doc, "#messages .message-body"); msgs[len(msgs)-1] != "plain form reply" {
		t.Errorf("last message = %q", msgs[len(msgs)-1])
	}
	// Plain-form validation error keeps the text in the whole page.
	resp, doc = c.post(path, url.Values{"body": {""}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#reply-error").Length() != 1 || doc.Find("#ticket-subject").Length() != 1 {
		t.Fatalf("plain empty reply: %d", resp.StatusCode)
	}
}

func TestReplyOnClosedTicketRefusedUnlessAllowed(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get(ticketPath(fx.AliceClosed), false)
	if doc.Find("#reply-form").Length() != 0 || doc.Find("#closed-notice").Length() != 1 {
		t.Fatal("closed ticket offers a reply box")
	}
	resp, doc := c.post(ticketPath(fx.AliceClosed)+"/replies", url.Values{"body": {"reopen please"}}, true)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#reply-body").Text() != "reopen please" {
		t.Fatalf("reply on closed: %d", resp.StatusCode)
	}
	if err := ts.Store.SettingSet(context.Background(), "allow_reply_on_closed", "true"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.post(ticketPath(fx.AliceClosed)+"/replies", url.Values{"body": {"reopen please"}}, true); resp.StatusCode != 200 {
		t.Fatalf("allowed reply on closed: %d", resp.StatusCode)
	}
}

func TestDutchFromAcceptLanguageAndTicketsLabel(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.lang = "nl-NL,nl;q=0.9,en;q=0.5"
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get("/tickets", false)
	heads := texts(doc, "#tickets-table thead th")
	want := []string{"Onderwerp", "Aangevraagd door", "Aanmaakdatum", "Ticketeigenaar", "Laatste activiteit", "Status"}
	if strings.Join(heads, "|") != strings.Join(want, "|") {
		t.Errorf("Dutch headings = %v", heads)
	}
	if lang, _ := doc.Find("html").Attr("lang"); lang != "nl" {
		t.Errorf("html lang = %q", lang)
	}
	if err := ts.Store.SettingSet(context.Background(), "tickets_label", "Cases"); err != nil {
		t.Fatal(err)
	}
	_, doc = c.get("/tickets", false)
	if doc.Find("main h1").Text() != "Cases" || !strings.Contains(doc.Find("title").Text(), "Cases") {
		t.Errorf("label: h1 %q title %q", doc.Find("main h1").Text(), doc.Find("title").Text())
	}
}

func TestSortByColumnWithKeysetPages(t *testing.T) {
	ts := newTestServer(t, nil)
	co := storetest.MustCompany(t, ts.Pool, "Initech")
	ct := storetest.MustContact(t, ts.Pool, "peter@initech.test", "Peter", co, "swingline stapler")
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 30; i++ {
		// Subjects sort differently from activity: activity rises with i, subjects fall.
		storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: fmt.Sprintf("S%02d", 29-i), Body: "b", RequesterID: ct, CompanyID: co,
			Closed: i%3 == 0, Activity: base.Add(time.Duration(i) * time.Second)})
	}
	c := ts.client()
	c.signIn("peter@initech.test", "swingline stapler")
	walk := func(start string) []string {
		_, doc := c.get(start, true)
		var all []string
		for {
			all = append(all, texts(doc, "#tickets-table tbody td:first-child")...)
			next, ok := doc.Find(`a[rel=next]`).Attr("href")
			if !ok {
				return all
			}
			_, doc = c.get(next, true)
		}
	}
	asc := walk("/tickets?sort=subject")
	if len(asc) != 30 || asc[0] != "S00" || asc[29] != "S29" {
		t.Fatalf("subject ascending: %d rows, %v … %v", len(asc), asc[:1], asc[len(asc)-1:])
	}
	desc := walk("/tickets?sort=-subject")
	if desc[0] != "S29" || desc[29] != "S00" {
		t.Fatalf("subject descending: %v … %v", desc[:1], desc[len(desc)-1:])
	}
	status := walk("/tickets?sort=status")
	_, doc := c.get("/tickets?sort=status", true)
	if got := texts(doc, "#tickets-table tbody td:last-child"); got[0] != "Open" || len(status) != 30 {
		t.Errorf("status sort starts with %v", got[:1])
	}
	// The heading links toggle the direction and mark the current sort for screen readers.
	_, doc = c.get("/tickets?sort=subject", false)
	th := doc.Find("#tickets-table thead th").First()
	if th.AttrOr("aria-sort", "") != "ascending" || !strings.Contains(th.Find("a").AttrOr("href", ""), "sort=-subject") {
		t.Errorf("subject heading: aria-sort %q href %q", th.AttrOr("aria-sort", ""), th.Find("a").AttrOr("href", ""))
	}
	// An unknown sort falls back to newest activity first; a cursor from another sort restarts.
	if got := walk("/tickets?sort=password_hash"); got[0] != "S00" {
		t.Errorf("unknown sort: first row %q", got[0])
	}
}

func TestThreadsOldestOnlyUnlessAllThreads(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	// A second, later conversation on Alice's ticket (a chat), with a public message and a note.
	if _, err := ts.Pool.Exec(ctx, `WITH cv AS (INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
			SELECT $1, id, 'chat', now() FROM inboxes WHERE is_default RETURNING id)
		INSERT INTO messages (conversation_id, ticket_id, kind, body, created_at)
		SELECT cv.id, $1, k, b, now() FROM cv, (VALUES ('public', 'chat answer'), ('internal_note', 'CHAT-NOTE')) x (k, b)`, fx.AliceOpen); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get(ticketPath(fx.AliceOpen), false)
	if contains(texts(doc, ".message-body"), "chat answer") || doc.Find(".thread-label").Length() != 0 {
		t.Fatal("default view shows the later thread")
	}
	ts.Store.SettingSet(ctx, "show_all_threads", "true")
	_, doc = c.get(ticketPath(fx.AliceOpen), false)
	bodies := texts(doc, ".message-body")
	if len(bodies) != 3 || bodies[2] != "chat answer" {
		t.Fatalf("all threads: %q", bodies)
	}
	if labels := texts(doc, ".thread-label"); len(labels) != 2 || labels[0] != "Email conversation" || labels[1] != "Chat conversation" {
		t.Errorf("thread labels %q", labels)
	}
	html, _ := doc.Html()
	if strings.Contains(html, "CHAT-NOTE") {
		t.Fatal("internal note of the second thread shown")
	}
}

// TestUnstorableTextNeverA500: NUL bytes and invalid UTF-8 in any text input get a clear 4xx,
// never a database error.
func TestUnstorableTextNeverA500(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	for _, bad := range []string{"a\x00b", "a\xc3\x28b"} {
		if resp, _ := c.get("/tickets?q="+url.QueryEscape(bad), false); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("search %q: %d", bad, resp.StatusCode)
		}
		if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {bad}}, false); resp.StatusCode >= 500 || resp.StatusCode < 400 {
			t.Errorf("reply %q: %d", bad, resp.StatusCode)
		}
		anon := ts.client()
		anon.get("/login", false)
		if resp, _ := anon.post("/login", url.Values{"email": {"x" + bad + "@example.test"}, "password": {"whatever1"}}, false); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("login %q: %d", bad, resp.StatusCode)
		}
		ctype, body := multipartBody(t, [][2]string{{"body", bad}}, nil)
		if resp, _ := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("multipart reply %q: %d", bad, resp.StatusCode)
		}
	}
}

func TestTooLargeBodyGetsTranslatedPage(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.lang = "nl"
	c.signIn(fx.AliceEmail, fx.Password)
	resp, doc := c.post(ticketPath(fx.AliceOpen)+"/close", url.Values{"pad": {strings.Repeat("x", 2<<20)}}, false)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(doc.Find("#error").Text(), "te groot") {
		t.Fatalf("2 MiB form: %d %q", resp.StatusCode, doc.Find("#error").Text())
	}
}
