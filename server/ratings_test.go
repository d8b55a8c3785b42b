package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestSatisfactionLinksAndPortal (issue 16.4): closing a ticket queues the closing mail with
// rating links; fetching a link (as a mail scanner does, GET and HEAD, again and again) records
// nothing; a forged link is a 404; the page's form records one vote, a second changes nothing;
// a reopened and closed again ticket may be rated again while the old link is dead; the portal
// box rates a closed ticket once; the inbox and the admins' report (and its CSV) show the votes.
func TestSatisfactionLinksAndPortal(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	mustStaff(t, ts.Pool, "admin@portico.test", "Ada Admin", "admin")
	admin := ts.client()
	admin.staffSignIn("admin@portico.test")
	var closedStage, newStage int64
	ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = 'Closed'`).Scan(&closedStage)
	ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE name = 'New'`).Scan(&newStage)
	setStage := func(ticket, stage int64) {
		t.Helper()
		if resp, _ := admin.post(fmt.Sprintf("/admin/inbox/%d/stage", ticket), url.Values{"stage": {fmt.Sprint(stage)}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set stage: %d", resp.StatusCode)
		}
	}
	// Off by default: closing sends no survey.
	setStage(fx.AliceOpen, closedStage)
	if n := countRows(t, ts, `SELECT count(*) FROM river_job WHERE args->>'template' = 'ticket_closed'`); n != 0 {
		t.Fatalf("%d survey mails with csat off", n)
	}
	setStage(fx.AliceOpen, newStage)
	if err := ts.Store.SettingSet(ctx, "csat_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	setStage(fx.AliceOpen, closedStage)
	lastLink := func() string {
		t.Helper()
		var raw []byte
		if err := ts.Pool.QueryRow(ctx, `SELECT args FROM river_job WHERE args->>'template' = 'ticket_closed' ORDER BY id DESC LIMIT 1`).Scan(&raw); err != nil {
			t.Fatalf("no closing mail: %v", err)
		}
		var job store.MailJob
		json.Unmarshal(raw, &job)
		if job.Rating == nil || job.To != fx.AliceEmail || job.Rating.TicketID != fx.AliceOpen {
			t.Fatalf("closing mail: %+v", job)
		}
		return "/rate/" + ts.Handlers.RatingLinks.Token(*job.Rating)
	}
	link := lastLink()

	scanner := ts.client() // no session: what a mail scanner or the customer's browser has
	for range 3 {
		for _, score := range []string{"good", "bad"} {
			resp, doc := scanner.get(link+"?score="+score, false)
			if resp.StatusCode != 200 || doc.Find("#rate-form").Length() != 1 {
				t.Fatalf("link page: %d", resp.StatusCode)
			}
			if v, _ := doc.Find("#rate-" + score).Attr("checked"); v != "checked" && !doc.Find("#rate-"+score).Is("[checked]") {
				t.Errorf("%s not preselected", score)
			}
		}
		resp := scanner.do(httptest.NewRequest(http.MethodHead, link+"?score=good", nil))
		io.Copy(io.Discard, resp.Body)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings`); n != 0 {
		t.Fatalf("GET recorded %d votes", n)
	}
	// Forged and tampered tokens: 404, nothing recorded.
	tampered := strings.Replace(link, "/rate/", "/rate/x", 1)
	for _, bad := range []string{"/rate/forged", tampered, "/rate/" + ts.Handlers.RatingLinks.Token(store.RatingRef{TicketID: fx.BobT, ContactID: fx.Alice, ClosedAt: 1})} {
		if resp, _ := scanner.get(bad+"?score=good", false); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
	// The form records once.
	scanner.get(link+"?score=bad", false)
	resp, _ := scanner.post(link, url.Values{"score": {"bad"}, "comment": {"Took a week."}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("vote: %d", resp.StatusCode)
	}
	scanner.post(link, url.Values{"score": {"good"}}, false)
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings WHERE ticket_id = $1 AND score = 'bad' AND comment = 'Took a week.'`, fx.AliceOpen); n != 1 {
		t.Fatal("vote not recorded once")
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings`); n != 1 {
		t.Fatalf("%d votes, want 1", n)
	}
	if _, doc := scanner.get(link, false); doc.Find("#rate-done").Length() != 1 || doc.Find("#rate-form").Length() != 0 {
		t.Fatal("no thanks after voting")
	}
	// Reopened and closed again: the old link is dead, the new close takes a vote.
	setStage(fx.AliceOpen, newStage)
	setStage(fx.AliceOpen, closedStage)
	if resp, _ := scanner.get(link+"?score=good", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("old link after a new close: %d", resp.StatusCode)
	}
	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	_, doc := alice.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#rating-form").Length() != 1 || !strings.Contains(doc.Find("#rating-heading").Text(), "How did we do?") {
		t.Fatalf("portal box after the second close: %q", doc.Find("#ticket-actions").Text())
	}
	if resp, _ := alice.post(ticketPath(fx.AliceOpen)+"/rating", url.Values{"score": {"good"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("portal vote: %d", resp.StatusCode)
	}
	alice.post(ticketPath(fx.AliceOpen)+"/rating", url.Values{"score": {"bad"}}, false)
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings WHERE ticket_id = $1`, fx.AliceOpen); n != 2 {
		t.Fatalf("%d votes over two closes, want 2", n)
	}
	if _, doc := alice.get(ticketPath(fx.AliceOpen), false); doc.Find("#rating-done").Length() != 1 {
		t.Error("no thanks in the portal")
	}
	// Another customer, and an open ticket: 404.
	bob := ts.client()
	bob.signIn(fx.BobEmail, fx.Password)
	if resp, _ := bob.post(ticketPath(fx.AliceClosed)+"/rating", url.Values{"score": {"bad"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("stranger's vote: %d", resp.StatusCode)
	}
	if resp, _ := bob.post(ticketPath(fx.BobT)+"/rating", url.Values{"score": {"bad"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("vote on an open ticket: %d", resp.StatusCode)
	}
	// Staff: the inbox lists the ticket's votes; the report counts them; the CSV has them.
	if _, doc := admin.get(fmt.Sprintf("/admin/inbox/%d", fx.AliceOpen), false); doc.Find("#ticket-ratings li").Length() != 2 {
		t.Errorf("inbox shows %d votes", doc.Find("#ticket-ratings li").Length())
	}
	_, doc = admin.get("/admin/satisfaction", false)
	if got := doc.Find("#report-total").Text(); !strings.Contains(got, "50% good") || !strings.Contains(got, "1 good, 1 bad") {
		t.Errorf("report total %q", got)
	}
	csvHref, _ := doc.Find("#report-csv").Attr("href")
	req := httptest.NewRequest(http.MethodGet, csvHref, nil)
	resp = admin.do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || strings.Count(string(body), "\n") != 3 || !strings.Contains(string(body), "Took a week.") {
		t.Errorf("CSV: %q %q", resp.Header.Get("Content-Type"), body)
	}
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	if resp, _ := agent.get("/admin/satisfaction", false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent opens the report: %d", resp.StatusCode)
	}
}

// TestClosingMailCarriesRatingLinks: the real closing mail (sent through SMTP) asks the
// question with a Good and a Bad link in both parts; following both links records nothing;
// the page opened by one of them records the vote.
func TestClosingMailCarriesRatingLinks(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "csat_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "csat_question_en", "Were we any good?"); err != nil {
		t.Fatal(err)
	}
	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	alice.get(ticketPath(fx.AliceOpen), false)
	if resp, _ := alice.post(ticketPath(fx.AliceOpen)+"/close", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	m := smtpd.next()
	for m.To != fx.AliceEmail || !strings.Contains(m.Subject, "is closed") {
		m = smtpd.next()
	}
	if !strings.Contains(m.Text, "Were we any good?") || strings.Count(m.HTML, "/rate/") < 2 {
		t.Fatalf("closing mail:\n%s", m.Text)
	}
	good, bad := m.link(t, "/rate/"), ""
	for _, l := range strings.Fields(m.Text) {
		if strings.Contains(l, "/rate/") && strings.HasSuffix(l, "score=bad") {
			u, _ := url.Parse(l)
			bad = u.RequestURI()
		}
	}
	if !strings.HasSuffix(good, "score=good") || bad == "" {
		t.Fatalf("links %q %q", good, bad)
	}
	browser := ts.client()
	for _, l := range []string{good, bad, good} {
		if resp, _ := browser.get(l, false); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", l, resp.StatusCode)
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings`); n != 0 {
		t.Fatalf("following the links recorded %d votes", n)
	}
	_, doc := browser.get(good, false)
	action, _ := doc.Find("#rate-form").Attr("action")
	if resp, _ := browser.post(action, url.Values{"score": {"good"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("vote: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_ratings WHERE score = 'good' AND ticket_id = $1`, fx.AliceOpen); n != 1 {
		t.Fatalf("%d votes", n)
	}
}
