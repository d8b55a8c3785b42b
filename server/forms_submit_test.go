package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// formFixture is a support form on its own inbox and pipeline ("Billing"), connected to the
// portal: subject, description, a required priority and an optional custom order_number.
type formFixture struct {
	FormID, InboxID, PipelineID, NewStageID int64
}

func mustSupportForm(t *testing.T, ts *testServer) formFixture {
	t.Helper()
	ctx := context.Background()
	var fx formFixture
	var err error
	if fx.InboxID, err = ts.Store.InboxCreate(ctx, store.CLIEditor, "Billing"); err != nil {
		t.Fatal(err)
	}
	if fx.PipelineID, err = ts.Store.PipelineCreate(ctx, store.CLIEditor, "Billing"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE pipeline_id = $1 AND NOT is_closed ORDER BY position LIMIT 1`, fx.PipelineID).Scan(&fx.NewStageID); err != nil {
		t.Fatal(err)
	}
	if fx.FormID, err = ts.Store.SupportFormCreate(ctx, 0, "Billing questions", fx.InboxID, fx.PipelineID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.FormField{
		{Property: store.FormPriority, Required: true},
		{Property: store.FormCustom, Key: "order_number", Label: "Order number", Help: "On your invoice, e.g. A-123."},
	} {
		if err := ts.Store.SupportFormFieldAdd(ctx, 0, fx.FormID, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Store.SettingSet(ctx, "support_form_id", strconv.FormatInt(fx.FormID, 10)); err != nil {
		t.Fatal(err)
	}
	return fx
}

func TestSupportFormCreatesTicketWithAttachments(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	fx := mustSupportForm(t, ts)
	ctx := context.Background()

	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	_, list := alice.get("/tickets", false)
	if got := texts(list, "#new-ticket"); len(got) != 1 || got[0] != "Submit a support ticket" {
		t.Fatalf("ticket list button: %q", got)
	}
	if got := texts(list, "#nav-new-ticket"); len(got) != 1 || got[0] != "Submit a support ticket" {
		t.Fatalf("nav link: %q", got)
	}
	resp, page := alice.get("/tickets/new", false)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /tickets/new: %d", resp.StatusCode)
	}
	if h := texts(page, "h1#form-heading"); len(h) != 1 || h[0] != "Submit a support ticket" {
		t.Fatalf("default heading: %q, want Submit a support ticket", h)
	}
	for _, sel := range []string{"input#form-subject", "textarea#form-description", "select#form-priority", "input#form-prop_order_number",
		"#form-prop_order_number-help", "input#form-files[multiple]", "progress.upload-progress", "form#support-form[data-upload-progress]"} {
		if page.Find(sel).Length() != 1 {
			t.Errorf("form has no %s", sel)
		}
	}

	// htmx: streamed multipart with two files.
	text := []byte("error log\nline 2\n")
	ctype, body := multipartBody(t, [][2]string{{"subject", "Invoice 77 is wrong"}, {"description", "The VAT on invoice 77 is 12%, not 21%."},
		{"priority", "high"}, {"prop_order_number", "A-77"}}, []filePart{{"invoice.png", pngBytes}, {"log.txt", text}})
	resp, _ = alice.postMultipart("/tickets/new", ctype, body, true)
	loc := resp.Header.Get("HX-Redirect")
	if resp.StatusCode != http.StatusNoContent || !strings.HasPrefix(loc, "/tickets/") {
		t.Fatalf("submit (htmx): %d HX-Redirect %q", resp.StatusCode, loc)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/tickets/"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	// The stored ticket, conversation, message and attachments.
	var subject, channel, priority, order string
	var pipeline, stage, requester, company int64
	if err := ts.Pool.QueryRow(ctx, `SELECT subject, channel, priority, properties->>'order_number', pipeline_id, stage_id, requester_id, company_id
		FROM tickets WHERE id = $1`, id).Scan(&subject, &channel, &priority, &order, &pipeline, &stage, &requester, &company); err != nil {
		t.Fatal(err)
	}
	if subject != "Invoice 77 is wrong" || channel != "form" || priority != "high" || order != "A-77" ||
		pipeline != fx.PipelineID || stage != fx.NewStageID || requester != std.Alice || company != std.Acme {
		t.Fatalf("ticket: %q %q %q %q pipeline %d stage %d requester %d company %d", subject, channel, priority, order, pipeline, stage, requester, company)
	}
	var convChannel string
	var inbox int64
	if err := ts.Pool.QueryRow(ctx, `SELECT channel, inbox_id FROM conversations WHERE ticket_id = $1`, id).Scan(&convChannel, &inbox); err != nil {
		t.Fatal(err)
	}
	if convChannel != "form" || inbox != fx.InboxID {
		t.Fatalf("conversation: channel %q inbox %d (want form, %d)", convChannel, inbox, fx.InboxID)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE ticket_id = $1 AND kind = 'public' AND author_contact_id = $2 AND body LIKE 'The VAT%'`, id, std.Alice); n != 1 {
		t.Fatalf("first message: %d rows", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.ticket_id = $1`, id); n != 2 {
		t.Fatalf("attachments: %d", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM timeline_events WHERE contact_id = $1 AND ticket_id = $2 AND kind = 'email'`, std.Alice, id); n != 1 {
		t.Fatalf("timeline email event: %d", n)
	}

	// At once in the customer's list and on its page, with the files.
	_, list = alice.get("/tickets", false)
	if got := texts(list, "#tickets-table tbody td:first-child a"); len(got) == 0 || got[0] != "Invoice 77 is wrong" {
		t.Fatalf("customer list: %q", got)
	}
	resp, tp := alice.get(loc, false)
	if resp.StatusCode != 200 || !strings.Contains(tp.Find("#messages").Text(), "The VAT on invoice 77") {
		t.Fatalf("ticket page: %d", resp.StatusCode)
	}
	if n := tp.Find(`#messages a[href^="/attachments/"]`).Length(); n < 2 {
		t.Fatalf("ticket page shows %d attachment links", n)
	}

	// At once in the agent inbox, filtered by the form's inbox.
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	_, inboxPage := agent.get("/admin/inbox?inbox="+strconv.FormatInt(fx.InboxID, 10), false)
	if !strings.Contains(inboxPage.Text(), "Invoice 77 is wrong") {
		t.Fatal("the agent inbox (form's inbox) does not list the new ticket")
	}
	_, other := agent.get("/admin/inbox?inbox=1", false) // the default inbox
	if strings.Contains(other.Text(), "Invoice 77 is wrong") {
		t.Fatal("the ticket is listed in the default inbox too")
	}

	// Another customer never sees it.
	carol := ts.client()
	carol.signIn(std.CarolEmail, std.Password)
	if resp, _ := carol.get(loc, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Carol opens Alice's form ticket: %d", resp.StatusCode)
	}
	_, cl := carol.get("/tickets", false)
	if strings.Contains(cl.Text(), "Invoice 77") {
		t.Fatal("Carol's list shows Alice's form ticket")
	}

	// Without JavaScript: a plain multipart post (CSRF in the body, before the files) → 303.
	ctype, body = multipartBody(t, [][2]string{{"_csrf", alice.csrf}, {"subject", "Second question"}, {"description", "Plain form."},
		{"priority", "low"}}, []filePart{{"a.txt", []byte("hello")}})
	resp, _ = alice.postMultipart("/tickets/new", ctype, body, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/tickets/") {
		t.Fatalf("plain submit: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSupportFormValidationKeepsEveryField(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	mustSupportForm(t, ts)
	before := countRows(t, ts, `SELECT count(*) FROM tickets`)
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	alice.get("/tickets/new", false)
	long := strings.Repeat("x", store.MaxSubjectRunes+1)
	for _, hx := range []bool{false, true} {
		form := url.Values{"subject": {""}, "description": {"  Line one\nline two"}, "priority": {"sky-high"}, "prop_order_number": {"A-1"}}
		resp, doc := alice.post("/tickets/new", form, hx)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("hx=%v: status %d", hx, resp.StatusCode)
		}
		if hx && doc.Find("body > form#support-form, form#support-form").Length() != 1 {
			t.Fatal("htmx: the answer is not the form fragment")
		}
		if v, _ := doc.Find("#form-subject").Attr("aria-invalid"); v != "true" {
			t.Errorf("hx=%v: subject not marked invalid", hx)
		}
		if got := texts(doc, "#form-subject-error"); len(got) != 1 || got[0] != "Please fill in this field." {
			t.Errorf("hx=%v: subject error %q", hx, got)
		}
		if got := texts(doc, "#form-priority-error"); len(got) != 1 || got[0] != "Please choose one of the options." {
			t.Errorf("hx=%v: priority error %q", hx, got)
		}
		if got := doc.Find("textarea#form-description").Text(); got != "  Line one\nline two" {
			t.Errorf("hx=%v: description not kept as typed: %q", hx, got)
		}
		if v, _ := doc.Find("#form-prop_order_number").Attr("value"); v != "A-1" {
			t.Errorf("hx=%v: custom property not kept: %q", hx, v)
		}
		// Now a too-long subject and a valid priority: the priority stays selected.
		resp, doc = alice.post("/tickets/new", url.Values{"subject": {long}, "description": {"d"}, "priority": {"urgent"}}, hx)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("hx=%v: long subject: %d", hx, resp.StatusCode)
		}
		if v, _ := doc.Find("#form-subject").Attr("value"); v != long {
			t.Errorf("hx=%v: long subject not kept", hx)
		}
		if v, _ := doc.Find(`#form-priority option[selected]`).Attr("value"); v != "urgent" {
			t.Errorf("hx=%v: priority selection not kept: %q", hx, v)
		}
	}
	if after := countRows(t, ts, `SELECT count(*) FROM tickets`); after != before {
		t.Fatalf("a refused form created %d tickets", after-before)
	}
}

func TestSupportFormNotConnected(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	if resp, _ := alice.get("/tickets/new", false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /tickets/new without a form: %d", resp.StatusCode)
	}
	if resp, _ := alice.post("/tickets/new", url.Values{"subject": {"x"}, "description": {"y"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /tickets/new without a form: %d", resp.StatusCode)
	}
	_, list := alice.get("/tickets", false)
	if list.Find("#new-ticket, #nav-new-ticket").Length() != 0 {
		t.Fatal("the submit link shows without a connected form")
	}
	// Signed out: the sign-in page, never the form.
	anon := ts.client()
	if resp, _ := anon.get("/tickets/new", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out: %d", resp.StatusCode)
	}
}

// TestSupportFormPipelineWithoutOpenStage: when the form's pipeline has no open stage, the
// submission is refused with the form again (422), everything typed kept and a translated
// message; no ticket is stored.
func TestSupportFormPipelineWithoutOpenStage(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	fx := mustSupportForm(t, ts)
	if _, err := ts.Pool.Exec(context.Background(), `UPDATE stages SET is_closed = true WHERE pipeline_id = $1`, fx.PipelineID); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, ts, `SELECT count(*) FROM tickets`)
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	alice.get("/tickets/new", false)
	for _, hx := range []bool{false, true} {
		form := url.Values{"subject": {"Invoice twice"}, "description": {"  I was billed\ntwice"}, "priority": {"urgent"}, "prop_order_number": {"A-7"}}
		resp, doc := alice.post("/tickets/new", form, hx)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("hx=%v: status %d, want 422", hx, resp.StatusCode)
		}
		if got := texts(doc, "#form-error"); len(got) != 1 || !strings.HasPrefix(got[0], "This form cannot take tickets right now.") {
			t.Errorf("hx=%v: form message %q", hx, got)
		}
		if v, _ := doc.Find("#form-subject").Attr("value"); v != "Invoice twice" {
			t.Errorf("hx=%v: subject not kept: %q", hx, v)
		}
		if got := doc.Find("textarea#form-description").Text(); got != "  I was billed\ntwice" {
			t.Errorf("hx=%v: description not kept: %q", hx, got)
		}
		if v, _ := doc.Find(`#form-priority option[selected]`).Attr("value"); v != "urgent" {
			t.Errorf("hx=%v: priority not kept: %q", hx, v)
		}
		if v, _ := doc.Find("#form-prop_order_number").Attr("value"); v != "A-7" {
			t.Errorf("hx=%v: custom property not kept: %q", hx, v)
		}
	}
	// Another language gets the message translated.
	alice.lang = "nl"
	resp, doc := alice.post("/tickets/new", url.Values{"subject": {"x"}, "description": {"y"}, "priority": {"urgent"}}, false)
	if got := texts(doc, "#form-error"); resp.StatusCode != http.StatusUnprocessableEntity || len(got) != 1 || !strings.HasPrefix(got[0], "Dit formulier") {
		t.Errorf("nl: %d %q", resp.StatusCode, got)
	}
	if after := countRows(t, ts, `SELECT count(*) FROM tickets`); after != before {
		t.Fatalf("a refused form created %d tickets", after-before)
	}
}

// TestSupportFormTicketHiddenByFilters: when the admin's ticket filters hide the form's tickets
// from customers, a submission still lands (for the agents) and the customer is told so on the
// list, never sent to a 404.
func TestSupportFormTicketHiddenByFilters(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	mustSupportForm(t, ts)
	if err := ts.Store.SettingSet(context.Background(), "ticket_filters", "pipeline is not Billing"); err != nil {
		t.Fatal(err)
	}
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	alice.get("/tickets/new", false)
	form := url.Values{"subject": {"Hidden by filters"}, "description": {"Please help"}, "priority": {"low"}}
	resp, _ := alice.post("/tickets/new", form, false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/tickets?submitted=1" {
		t.Fatalf("submission: %d %q", resp.StatusCode, loc)
	}
	_, doc := alice.get("/tickets?submitted=1", false)
	if doc.Find("#list-notice").Length() != 1 {
		t.Fatal("no notice that the ticket was received")
	}
	if n := countRows(t, ts, `SELECT count(*) FROM tickets WHERE subject = 'Hidden by filters'`); n != 1 {
		t.Fatalf("tickets stored: %d", n)
	}
}

// TestSupportFormSentTwiceMakesOneTicket: the form carries a submission key; the same filled-in
// form posted again (a double click, a retried upload, Back and Send) leads to the first ticket
// and creates nothing, also when both posts race; a fresh form makes a new ticket.
func TestSupportFormSentTwiceMakesOneTicket(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	mustSupportForm(t, ts)
	ctx := context.Background()
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	count := func() int {
		var n int
		if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE subject LIKE 'Twice%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	_, page := alice.get("/tickets/new", false)
	key, _ := page.Find(`input[name="submission"]`).Attr("value")
	if len(key) != 32 {
		t.Fatalf("submission key %q", key)
	}
	form := url.Values{"subject": {"Twice sent"}, "description": {"d"}, "priority": {"urgent"}, "submission": {key}}
	first, _ := alice.post("/tickets/new", form, false)
	second, _ := alice.post("/tickets/new", form, false)
	if first.StatusCode != http.StatusSeeOther || second.StatusCode != http.StatusSeeOther || first.Header.Get("Location") != second.Header.Get("Location") {
		t.Fatalf("sent twice: %d %q, then %d %q; want both 303 to the same ticket", first.StatusCode, first.Header.Get("Location"),
			second.StatusCode, second.Header.Get("Location"))
	}
	if n := count(); n != 1 {
		t.Fatalf("%d tickets after sending one form twice", n)
	}
	_, page = alice.get("/tickets/new", false)
	if again, _ := page.Find(`input[name="submission"]`).Attr("value"); again == key {
		t.Fatal("a fresh form reused the submission key")
	} else {
		form.Set("submission", again)
	}
	if resp, _ := alice.post("/tickets/new", form, false); resp.StatusCode != http.StatusSeeOther || count() != 2 {
		t.Fatalf("a fresh form: %d, %d tickets; want a second ticket", resp.StatusCode, count())
	}

	// Racing twins: eight submissions with one key at once make one ticket, and all name it.
	v := store.NewViewer(std.Alice, std.Acme, store.DefaultSettings(), "")
	formID, _ := strconv.ParseInt(strings.TrimSpace(mustSetting(t, ts, "support_form_id")), 10, 64)
	race := "0123456789abcdef0123456789abcdef"
	ids := make(chan int64, 8)
	for range 8 {
		go func() {
			id, err := ts.Store.SupportFormSubmit(ctx, v, formID, store.FormSubmission{
				Values: map[string]string{"subject": "Twice raced", "description": "d", "priority": "urgent"}, Key: race})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		}()
	}
	want := <-ids
	for range 7 {
		if id := <-ids; id != want {
			t.Errorf("racing twins answered tickets %d and %d", want, id)
		}
	}
	if n := count(); n != 3 {
		t.Fatalf("%d tickets after eight racing twins (want 3 in all)", n)
	}
}

// mustSetting reads a portal setting's stored JSON value as text.
func mustSetting(t *testing.T, ts *testServer, key string) string {
	t.Helper()
	var v string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT value #>> '{}' FROM portal_settings WHERE key = $1`, key).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
