package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestAttachmentsOffExplainsRefusal: with attachment_max_files=0 a reply (htmx or plain) or a
// support form carrying a file is refused with 422 and a message saying files cannot be
// attached, beside the text that was kept.
func TestAttachmentsOffExplainsRefusal(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	mustSupportForm(t, ts)
	if err := ts.Store.SettingSet(context.Background(), "attachment_max_files", "0"); err != nil {
		t.Fatal(err)
	}
	const want = "Files cannot be attached here. Send your message without them."
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, page := c.get(ticketPath(fx.AliceOpen), false)
	if page.Find("#reply-files").Length() != 0 {
		t.Fatal("the reply box offers a file input with attachments off")
	}
	for _, hx := range []bool{true, false} {
		ctype, body := multipartBody(t, [][2]string{{"_csrf", c.csrf}, {"body", "words to keep"}}, []filePart{{"notes.txt", []byte("hello")}})
		resp, out := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, hx)
		doc := docOf(t, out)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("htmx=%v: reply with a file answered %d, want 422", hx, resp.StatusCode)
		}
		if got := strings.TrimSpace(doc.Find("#reply-files-error").Text()); got != want {
			t.Errorf("htmx=%v: file message %q, want %q", hx, got, want)
		}
		if got := doc.Find("#reply-body").Text(); got != "words to keep" {
			t.Errorf("htmx=%v: reply box holds %q, want the typed text", hx, got)
		}
		if d, _ := doc.Find("#reply-body").Attr("aria-describedby"); d != "reply-files-error" {
			t.Errorf("htmx=%v: the reply box is described by %q, want the file message", hx, d)
		}
	}
	ctype, body := multipartBody(t, [][2]string{{"_csrf", c.csrf}, {"subject", "With a file"}, {"description", "Body kept"}, {"priority", "high"}},
		[]filePart{{"notes.txt", []byte("hello")}})
	resp, out := c.postMultipart("/tickets/new", ctype, body, true)
	doc := docOf(t, out)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("support form with a file answered %d, want 422", resp.StatusCode)
	}
	if got := strings.TrimSpace(doc.Find("#form-files-error").Text()); got != want {
		t.Errorf("support form file message %q, want %q", got, want)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body IN ('words to keep', 'Body kept')`); n != 0 {
		t.Errorf("%d messages stored although refused", n)
	}
}

// TestStatusSortFollowsCustomStages: with show_custom_stages the Status column shows stage names
// and sorting by it orders by those names (both directions, across pages); without it, by
// open/closed.
func TestStatusSortFollowsCustomStages(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	// Move Alice's open ticket to "Waiting on us" and give her more tickets at other stages.
	stage := func(name string) int64 {
		var id int64
		if err := ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = $1`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	if err := ts.Store.InboxTicketSetStage(ctx, fx.AliceOpen, stage("Waiting on us")); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"Waiting on contact", "New", "Waiting on contact"} {
		id := storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: fmt.Sprintf("Staged %d", i), RequesterID: fx.Alice, CompanyID: fx.Acme,
			Activity: time.Now().Add(-time.Duration(i+5) * time.Hour)})
		if err := ts.Store.InboxTicketSetStage(ctx, id, stage(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Store.SettingSet(ctx, "show_custom_stages", "true"); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	statuses := func(path string) []string {
		_, doc := c.get(path, true)
		return texts(doc, "#tickets-table tbody td:last-child")
	}
	asc := statuses("/tickets?sort=status")
	if !slices.IsSorted(asc) || !slices.Contains(asc, "Closed") || !slices.Contains(asc, "New") || !slices.Contains(asc, "Waiting on us") {
		t.Fatalf("sorted by status (stage names shown) ascending: %q", asc)
	}
	desc := statuses("/tickets?sort=-status")
	if !slices.IsSortedFunc(desc, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("sorted by status descending: %q", desc)
	}
	// Paging by the stage sort: a page of 2 rows via the store keeps the order over the cursor.
	var all []string
	_, doc := c.get("/tickets?sort=status", true)
	all = append(all, texts(doc, "#tickets-table tbody td:last-child")...)
	if next, ok := doc.Find("a[rel=next]").Attr("href"); ok {
		_, doc2 := c.get(next, true)
		all = append(all, texts(doc2, "#tickets-table tbody td:last-child")...)
	}
	if !slices.IsSorted(all) {
		t.Fatalf("status order across pages: %q", all)
	}

	// Without custom stages, Open/Closed is what shows and what sorts.
	if err := ts.Store.SettingSet(ctx, "show_custom_stages", "false"); err != nil {
		t.Fatal(err)
	}
	if got := statuses("/tickets?sort=status"); got[0] != "Open" || got[len(got)-1] != "Closed" {
		t.Fatalf("open/closed sort: %q", got)
	}
}

// TestSupportFormHeadingAndFieldsShownBack: the form's default heading is "Submit a support
// ticket" (a renamed tickets label names it); a custom field the customer filled shows on the
// ticket with its label, to the customer (and, in company mode, a colleague), never elsewhere.
func TestSupportFormHeadingAndFieldsShownBack(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	mustSupportForm(t, ts)
	ctx := context.Background()
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	_, page := alice.get("/tickets/new", false)
	if got := strings.TrimSpace(page.Find("h1#form-heading").Text()); got != "Submit a support ticket" {
		t.Errorf("default heading %q", got)
	}
	if got := strings.TrimSpace(page.Find("title").Text()); !strings.HasPrefix(got, "Submit a support ticket") {
		t.Errorf("page title %q", got)
	}
	alice.lang = "de"
	if _, page := alice.get("/tickets/new", false); strings.TrimSpace(page.Find("h1#form-heading").Text()) != "Ein Support-Ticket einreichen" {
		t.Errorf("German default heading %q", page.Find("h1#form-heading").Text())
	}
	alice.lang = ""
	if err := ts.Store.SettingSet(ctx, "tickets_label", "Cases"); err != nil {
		t.Fatal(err)
	}
	if _, page := alice.get("/tickets/new", false); strings.TrimSpace(page.Find("h1#form-heading").Text()) != "Cases: submit a support ticket" {
		t.Errorf("renamed-label heading %q", page.Find("h1#form-heading").Text())
	}

	resp, _ := alice.post("/tickets/new", url.Values{"subject": {"Invoice 9"}, "description": {"Wrong VAT."}, "priority": {"high"}, "prop_order_number": {"A-9"}}, true)
	loc := resp.Header.Get("HX-Redirect")
	if !strings.HasPrefix(loc, "/tickets/") {
		t.Fatalf("submit: %d %q", resp.StatusCode, loc)
	}
	// A CRM property that is no form field stays internal.
	if _, err := ts.Pool.Exec(ctx, `UPDATE tickets SET properties = properties || '{"crm_score": "17"}' WHERE id = $1`, strings.TrimPrefix(loc, "/tickets/")); err != nil {
		t.Fatal(err)
	}
	_, doc := alice.get(loc, false)
	dl := doc.Find(".properties dl")
	if !strings.Contains(dl.Text(), "Order number") || strings.TrimSpace(dl.Find("dd.ticket-field").Text()) != "A-9" {
		t.Errorf("properties %q lack Order number A-9", strings.Join(strings.Fields(dl.Text()), " "))
	}
	// (Compared per value: the page's dates may contain "17" at 17:xx.)
	crmShown := strings.Contains(doc.Text(), "crm_score")
	dl.Find("dd").Each(func(_ int, dd *goquery.Selection) { crmShown = crmShown || strings.TrimSpace(dd.Text()) == "17" })
	if crmShown {
		t.Error("a CRM property that is not a form field is shown to the customer")
	}
	// Another customer (another company) is refused the ticket.
	carol := ts.client()
	carol.signIn(std.CarolEmail, std.Password)
	if resp, _ := carol.get(loc, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Carol opens Alice's form ticket: %d, want 404", resp.StatusCode)
	}
	// A ticket without custom fields shows none.
	if _, doc := alice.get(ticketPath(std.AliceOpen), false); doc.Find("dd.ticket-field").Length() != 0 {
		t.Error("a ticket without form fields shows some")
	}
}

// TestClosingFromPortalConfirms: closing a ticket from the portal lands on the ticket with a
// confirmation; the plain ticket page has none.
func TestClosingFromPortalConfirms(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	if err := ts.Store.SettingSet(context.Background(), "allow_close_from_portal", "true"); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	if _, doc := c.get(ticketPath(fx.AliceOpen)+"?closed=1", false); doc.Find("#ticket-notice").Length() != 0 {
		t.Error("an open ticket confirms a closing that did not happen")
	}
	c.get(ticketPath(fx.AliceOpen), false)
	resp, _ := c.post(ticketPath(fx.AliceOpen)+"/close", nil, false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != ticketPath(fx.AliceOpen)+"?closed=1" {
		t.Fatalf("close: %d %q", resp.StatusCode, loc)
	}
	_, doc := c.get(loc, false)
	if got := strings.TrimSpace(doc.Find("#ticket-notice[role=status]").Text()); got != "You closed this ticket. You can still read it here." {
		t.Errorf("confirmation %q", got)
	}
	if doc.Find("#close-ticket").Length() != 0 || doc.Find("#reply-body").Length() != 0 {
		t.Error("the closed ticket still offers Close ticket or the reply box")
	}
}

// TestLiveChangesSwapStateOnlyWhenChanged: the live-update fragment carries the Close button and
// the reply box only when the ticket's state differs from the page's (typing is never replaced).
func TestLiveChangesSwapStateOnlyWhenChanged(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	path := ticketPath(fx.AliceOpen) + "/messages?after=999999999&state="
	if _, doc := c.get(path+"open", true); doc.Find("#reply-box, #ticket-actions, #ticket-state").Length() != 0 {
		t.Error("an unchanged state swaps the reply box or the actions")
	}
	_, doc := c.get(path+"closed", true) // the page shows closed, the ticket is open again
	if doc.Find(`#reply-box[hx-swap-oob] #reply-body`).Length() != 1 || doc.Find(`#ticket-actions[hx-swap-oob]`).Length() != 1 ||
		doc.Find(`#ticket-state[value=open][hx-swap-oob]`).Length() != 1 {
		t.Error("a changed state does not swap the reply box, the actions and the state marker")
	}
	_, doc = c.get(ticketPath(fx.AliceClosed)+"/messages?after=999999999&state=open", true)
	if doc.Find(`#reply-box[hx-swap-oob] #closed-notice`).Length() != 1 || doc.Find("#reply-box #reply-body").Length() != 0 || doc.Find("#unsent-body").Length() != 1 {
		t.Error("a ticket closed since: the box is not replaced by the closed notice with room for the unsent text")
	}
	carol := ts.client()
	carol.signIn(fx.CarolEmail, fx.Password)
	if resp, _ := carol.get(path+"closed", true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Carol's live fetch of Alice's ticket: %d, want 404", resp.StatusCode)
	}
}

// TestAdminPreviewPages: the admin's preview of a contact's listing pages like the contact's own
// (25 rows and a Next link; the next page holds the rest, with Previous).
func TestAdminPreviewPages(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	old := time.Now().Add(-200 * time.Hour)
	for i := 0; i < 28; i++ {
		storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: fmt.Sprintf("Old %02d", i), RequesterID: f.fx.Alice, CompanyID: f.fx.Acme,
			Activity: old.Add(-time.Duration(i) * time.Hour)})
	}
	// Alice owns 30 tickets: her own listing shows 25 and a next page of 5.
	_, own := f.alice.get("/tickets?view=mine", false)
	_, own2 := f.alice.get(attr(own, "a[rel=next]", "href"), false)
	ownAll := append(texts(own, "#tickets-table tbody td:first-child"), texts(own2, "#tickets-table tbody td:first-child")...)

	_, p1 := f.admin.get(fmt.Sprintf("/admin/preview?contact=%d&view=mine", f.fx.Alice), false)
	rows1 := texts(p1, "#tickets-table tbody td:first-child")
	next := attr(p1, "a[rel=next]", "href")
	if len(rows1) != 25 || next == "" {
		t.Fatalf("preview page 1: %d rows, next %q; want 25 and a next link", len(rows1), next)
	}
	_, p2 := f.admin.get(next, false)
	rows2 := texts(p2, "#tickets-table tbody td:first-child")
	if p2.Find("a[rel=prev]").Length() != 1 || p2.Find("a[rel=next]").Length() != 0 {
		t.Error("preview page 2 lacks Previous or offers Next")
	}
	if got := append(rows1, rows2...); !slices.Equal(got, ownAll) || len(got) != 30 {
		t.Fatalf("preview lists %d tickets %q, the contact sees %d %q", len(got), got, len(ownAll), ownAll)
	}
}

// docOf parses an HTML body already read.
func docOf(t *testing.T, body []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// attr returns the attribute of the first element matching sel ("" when none).
func attr(doc *goquery.Document, sel, name string) string {
	v, _ := doc.Find(sel).First().Attr(name)
	return v
}

// TestCheckerFindings covers what HTML_CodeSniffer (WCAG2AA) flagged: the sign-in email fields
// carry an autocomplete token valid for an email input (1.3.5), and every <fieldset> of every
// settings section (and of the pages with forms) starts with a <legend>.
func TestCheckerFindings(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	anon := ts.client()
	for _, path := range []string{"/login", "/admin/login"} {
		_, doc := anon.get(path, false)
		in := doc.Find("input#email")
		if typ, _ := in.Attr("type"); typ != "email" {
			t.Errorf("%s: email field type %q", path, typ)
		}
		if ac, _ := in.Attr("autocomplete"); ac != "email" {
			t.Errorf("%s: email field autocomplete=%q, want email (WCAG 1.3.5; \"username\" is for text inputs)", path, ac)
		}
	}
	resp, _ := f.admin.get("/admin/settings", false)
	_, idx := f.admin.get(resp.Header.Get("Location"), false)
	var pages []string
	idx.Find(`.settings-nav a[href^="/admin/settings/"]`).Each(func(_ int, s *goquery.Selection) {
		pages = append(pages, s.AttrOr("href", ""))
	})
	if len(pages) < 5 {
		t.Fatalf("settings sections found: %q", pages)
	}
	if err := ts.Store.SettingSet(context.Background(), "consent_text", "I agree to the terms."); err != nil {
		t.Fatal(err)
	}
	check := func(c *client, path string) {
		_, doc := c.get(path, false)
		doc.Find("fieldset").Each(func(i int, fs *goquery.Selection) {
			first := fs.Children().First()
			if !first.Is("legend") || strings.TrimSpace(first.Text()) == "" {
				t.Errorf("%s: fieldset %d has no legend first (starts with %s)", path, i, goquery.NodeName(first))
			}
		})
	}
	for _, p := range pages {
		check(f.admin, p)
	}
	check(anon, "/register")
}

// TestAgentTicketPage: the agent's ticket page shows the customer's first message once (not
// again as a description), no "Closed · Closed", and the priority translated like the
// customer's page ("High", not "high").
func TestAgentTicketPage(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	if _, err := ts.Pool.Exec(ctx, `UPDATE tickets SET priority = 'high' WHERE id = ANY($1)`, []int64{f.fx.AliceOpen, f.fx.AliceClosed}); err != nil {
		t.Fatal(err)
	}
	_, doc := f.agent.get(fmt.Sprintf("/admin/inbox/%d", f.fx.AliceOpen), false)
	if n := strings.Count(doc.Find("#inbox-ticket").Text(), "The printer is on fire."); n != 1 {
		t.Errorf("the first message shows %d times, want once", n)
	}
	if got := ddOf(doc, "Priority"); got != "High" {
		t.Errorf("agent page priority %q, want High", got)
	}
	_, cust := f.alice.get(ticketPath(f.fx.AliceOpen), false)
	if got := ddOf(cust, "Priority"); got != "High" {
		t.Errorf("customer page priority %q, want High", got)
	}
	_, doc = f.agent.get(fmt.Sprintf("/admin/inbox/%d", f.fx.AliceClosed), false)
	if got := strings.Join(strings.Fields(doc.Find("#ticket-status").Parent().Text()), " "); got != "Closed" {
		t.Errorf("closed ticket's status line %q, want Closed", got)
	}
	// A stage whose name differs from the status is still named.
	var waiting int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = 'Waiting on us'`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.InboxTicketSetStage(ctx, f.fx.AliceOpen, waiting); err != nil {
		t.Fatal(err)
	}
	_, doc = f.agent.get(fmt.Sprintf("/admin/inbox/%d", f.fx.AliceOpen), false)
	if got := strings.Join(strings.Fields(doc.Find("#ticket-status").Parent().Text()), " "); got != "Open · Waiting on us" {
		t.Errorf("status line %q, want Open · Waiting on us", got)
	}
	// A description that is not a message (a ticket an agent created by phone) still shows.
	if _, err := ts.Pool.Exec(ctx, `UPDATE tickets SET description = 'Called about toner.' WHERE id = $1`, f.fx.AliceOpen); err != nil {
		t.Fatal(err)
	}
	_, doc = f.agent.get(fmt.Sprintf("/admin/inbox/%d", f.fx.AliceOpen), false)
	if got := strings.TrimSpace(doc.Find("#ticket-description").Text()); got != "Called about toner." {
		t.Errorf("description %q", got)
	}
	f.agent.lang = "de"
	_, doc = f.agent.get(fmt.Sprintf("/admin/inbox/%d", f.fx.AliceOpen), false)
	if got := ddOf(doc, "Priorität"); got != "Hoch" {
		t.Errorf("German agent page priority %q, want Hoch", got)
	}
}

// ddOf returns the text of the <dd> after the first <dt> reading label ("" when none).
func ddOf(doc *goquery.Document, label string) string {
	dt := doc.Find("dt").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.TrimSpace(s.Text()) == label }).First()
	return strings.TrimSpace(dt.NextFiltered("dd").Text())
}

// TestAgentReplyMailNamesTicketInFiveLanguages: the "agent replied" mail names the ticket in its
// subject and first sentence and carries the answer, in each language (the contact's).
func TestAgentReplyMailNamesTicketInFiveLanguages(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	std := storetest.MustStandard(t, ts.Pool)
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	path := fmt.Sprintf("/admin/inbox/%d/messages", std.AliceOpen)
	want := map[string][2]string{ // subject, first sentence (portal: the default name per language)
		"en": {"New reply on your ticket “Printer on fire”", "Our support team has answered your ticket “Printer on fire” at Customer portal:"},
		"nl": {"Nieuw antwoord op je ticket ‘Printer on fire’", "Ons supportteam heeft je ticket ‘Printer on fire’ bij Klantenportaal beantwoord:"},
		"de": {"Neue Antwort auf Ihr Ticket „Printer on fire“", "Unser Support-Team hat Ihr Ticket „Printer on fire“ bei Kundenportal beantwortet:"},
		"fr": {"Nouvelle réponse à votre ticket «\u00a0Printer on fire\u00a0»", "Notre équipe d'assistance a répondu à votre ticket «\u00a0Printer on fire\u00a0» sur Portail client\u00a0:"},
		"es": {"Nueva respuesta a su ticket «Printer on fire»", "Nuestro equipo de soporte ha respondido a su ticket «Printer on fire» en Portal de clientes:"},
	}
	for _, lang := range []string{"en", "nl", "de", "fr", "es"} {
		if _, err := ts.Pool.Exec(context.Background(), `UPDATE contacts SET language = $1 WHERE id = $2`, lang, std.Alice); err != nil {
			t.Fatal(err)
		}
		answer := "Answer in " + lang + ".\n\nSecond paragraph."
		if resp, _ := agent.post(path, url.Values{"body": {answer}}, true); resp.StatusCode != 200 {
			t.Fatalf("%s: reply answered %d", lang, resp.StatusCode)
		}
		m := smtpd.next()
		if m.Subject != want[lang][0] {
			t.Errorf("%s: subject %q, want %q", lang, m.Subject, want[lang][0])
		}
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if !strings.Contains(text, want[lang][1]) {
			t.Errorf("%s: mail text lacks %q:\n%s", lang, want[lang][1], text)
		}
		if !strings.Contains(text, "> Answer in "+lang+".\n") || !strings.Contains(text, "> Second paragraph.") {
			t.Errorf("%s: mail text does not quote the answer:\n%s", lang, text)
		}
		if !strings.Contains(m.HTML, "<blockquote") || !strings.Contains(m.HTML, "Second paragraph.") {
			t.Errorf("%s: mail HTML does not quote the answer", lang)
		}
	}
}

// TestKBSearchFindsListedArticleInItsOwnLanguage: an English reader is listed a German-only
// article (no English or portal-default translation); searching its own German words finds it,
// stemmed ("Kühlschränke" finds "Kühlschrank"); an article the reader sees in English is
// searched in English, not in its German translation. Portal-only articles stay hidden from
// visitors in search too.
func TestKBSearchFindsListedArticleInItsOwnLanguage(t *testing.T) {
	ts := newTestServer(t, nil)
	mustArticle(t, ts, "kuehlschrank", store.KBPublic, map[string][2]string{"de": {"Den Kühlschrank entkalken", "So entkalken Sie Ihren Kühlschrank in drei Schritten."}})
	mustArticle(t, ts, "invoices", store.KBPublic, map[string][2]string{"en": {"Understanding invoices", "How to read your invoice."},
		"de": {"Rechnungen verstehen", "Wie Sie Ihre Rechnung lesen. Zebrastreifen."}})
	mustArticle(t, ts, "secret-de", store.KBPortal, map[string][2]string{"de": {"Interne Kühlschränke", "Nur für Kunden: Kühlschrank."}})
	reader := ts.client()
	reader.lang = "en"
	if _, titles := kbTitles(reader, "/kb"); !slices.Contains(titles, "Den Kühlschrank entkalken") {
		t.Fatalf("the English reader's list %q lacks the German-only article", titles)
	}
	for _, q := range []string{"Kühlschrank", "entkalken", "Kühlschränke"} {
		if _, titles := kbTitles(reader, "/kb/search?q="+url.QueryEscape(q)); !slices.Equal(titles, []string{"Den Kühlschrank entkalken"}) {
			t.Errorf("English reader searching %q finds %q, want the German-only article", q, titles)
		}
	}
	if _, titles := kbTitles(reader, "/kb/search?q=Zebrastreifen"); len(titles) != 0 {
		t.Errorf("the German text of an article shown in English is searched: %q", titles)
	}
	if _, titles := kbTitles(reader, "/kb/search?q=invoices"); !slices.Equal(titles, []string{"Understanding invoices"}) {
		t.Errorf("English search finds %q", titles)
	}
	german := ts.client()
	german.lang = "de"
	if _, titles := kbTitles(german, "/kb/search?q=Rechnungen"); !slices.Equal(titles, []string{"Rechnungen verstehen"}) {
		t.Errorf("German search finds %q", titles)
	}
}

// TestKBCategoryNamesPerLanguage: an admin gives an existing category a name in another language
// through its edit page (the create form refuses the same slug); readers then see the category
// in their language, others the portal default's. An agent cannot edit; no name at all and a
// too-long name are refused with the typed values kept.
func TestKBCategoryNamesPerLanguage(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	cat, err := ts.Store.KBCategoryCreate(ctx, 0, "billing", "en", "Billing", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.KBCategoryCreate(ctx, 0, "other", "en", "Other", 1); err != nil {
		t.Fatal(err)
	}
	id := mustArticle(t, ts, "invoices", store.KBPublic, map[string][2]string{"en": {"Invoices", "Read them."}, "de": {"Rechnungen", "Lesen Sie sie."}})
	if _, err := ts.Pool.Exec(ctx, `UPDATE kb_articles SET category_id = $1 WHERE id = $2`, cat.ID, id); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/admin/kb/categories/%d", cat.ID)
	_, list := f.admin.get("/admin/kb", false)
	if attr(list, fmt.Sprintf("#kb-category-%d", cat.ID), "href") != path {
		t.Fatal("the category list does not link to the category's edit page")
	}
	resp, page := f.admin.get(path, false)
	if resp.StatusCode != http.StatusOK || page.Find("input#name_en").AttrOr("value", "") != "Billing" || page.Find("input#name_de").Length() != 1 ||
		page.Find("fieldset > legend").Length() != 1 {
		t.Fatalf("edit page: %d, name_en %q", resp.StatusCode, page.Find("input#name_en").AttrOr("value", ""))
	}
	if resp, _ := f.agent.post(path, url.Values{"name_en": {"Billing"}, "name_de": {"Abrechnung"}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an agent renames a category: %d, want 403", resp.StatusCode)
	}
	resp, _ = f.admin.post(path, url.Values{"name_en": {"Billing"}, "name_de": {"Abrechnung"}, "name_fr": {"Facturation"}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != path+"?saved=1" {
		t.Fatalf("save: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	reader := ts.client()
	for lang, want := range map[string]string{"de": "Abrechnung", "fr": "Facturation", "en": "Billing", "es": "Billing"} {
		reader.lang = lang
		_, doc := reader.get("/kb", false)
		if got := texts(doc, ".kb-category h2"); !slices.Contains(got, want) {
			t.Errorf("%s reader sees categories %q, want %q", lang, got, want)
		}
	}
	// Removing the German name falls back; removing every name is refused.
	f.admin.get(path, false)
	resp, doc := f.admin.post(path, url.Values{"name_en": {""}, "name_de": {""}, "name_fr": {""}, "name_nl": {""}, "name_es": {""}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.TrimSpace(doc.Find("#names-error").Text()) != "Give the category a name in at least one language." {
		t.Errorf("no names: %d %q", resp.StatusCode, doc.Find("#names-error").Text())
	}
	resp, doc = f.admin.post(path, url.Values{"name_en": {"Billing"}, "name_de": {strings.Repeat("x", 101)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#name_de[aria-invalid=true]").Length() != 1 || doc.Find("#name_de").AttrOr("value", "") != strings.Repeat("x", 101) {
		t.Errorf("too long: %d", resp.StatusCode)
	}
	c, _ := ts.Store.KBCategoryGet(ctx, cat.ID)
	if c.Names["de"] != "Abrechnung" || c.Names["en"] != "Billing" {
		t.Errorf("refused saves changed the names: %v", c.Names)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM audit_log WHERE key LIKE 'kb.category.billing.%'`); n != 2 {
		t.Errorf("%d audit entries for two changed names, want 2", n)
	}
	if resp, _ := f.admin.get("/admin/kb/categories/999999", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown category: %d", resp.StatusCode)
	}
}
