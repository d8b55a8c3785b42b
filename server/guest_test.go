package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// guestPath is the guest page of a ticket.
func guestPath(id int64) string { return "/guest/t/" + strconv.FormatInt(id, 10) }

// mintGuest mints a guest link as the mail worker does and returns its opening URL.
func mintGuest(t *testing.T, ts *testServer, ticket, contact int64) (string, store.GuestLink) {
	t.Helper()
	tok, l, err := ts.Store.GuestLinkMint(context.Background(), store.GuestRef{TicketID: ticket, ContactID: contact}, 7*24*time.Hour)
	if err != nil {
		t.Fatalf("mint guest link: %v", err)
	}
	return "/guest?token=" + tok, l
}

// openGuest opens a guest link in c and fails unless it lands on the ticket's guest page.
func openGuest(t *testing.T, c *client, link string, ticket int64) *goquery.Document {
	t.Helper()
	resp, _ := c.get(link, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != guestPath(ticket) {
		t.Fatalf("open guest link: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, doc := c.get(guestPath(ticket), false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("guest page: %d", resp.StatusCode)
	}
	return doc
}

// notFoundText is what the ordinary 404 page says (an unknown URL), to compare answers with.
func notFoundText(t *testing.T, ts *testServer) string {
	t.Helper()
	resp, doc := ts.client().get("/no-such-page-at-all", false)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown URL: %d", resp.StatusCode)
	}
	return pageText(doc)
}

// pageText is the 404 page's main text without its per-request reference.
func pageText(doc *goquery.Document) string {
	return regexp.MustCompile(`Reference: [0-9a-f]+`).ReplaceAllString(strings.TrimSpace(doc.Find("main").Text()), "Reference: …")
}

// mustNotFound asserts that path answers c with the ordinary 404 page.
func mustNotFound(t *testing.T, ts *testServer, c *client, path, want string) {
	t.Helper()
	resp, doc := c.get(path, false)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		return
	}
	if got := pageText(doc); got != want {
		t.Errorf("%s: 404 page differs from an unknown URL's:\n%q\nwant %q", path, got, want)
	}
}

// TestGuestLinkOneTicketOnly (issue 16.3): a guest link opens its one ticket for its recipient —
// the public conversation without internal notes, replies with attachments recorded as the
// contact's messages with a live update — and nothing else: no other ticket (not even another of
// the same contact), no attachment of another ticket, no list, account, portal ticket route or
// API; the guest cookie is scoped to the ticket, HttpOnly and SameSite=Lax; CSRF is the guest
// session's own; forged, expired, revoked links and links whose recipient lost access answer the
// same 404 page as an unknown URL; the setting switches it all off.
func TestGuestLinkOneTicketOnly(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	nf := notFoundText(t, ts)

	// Off by default: no link can be minted, and the routes are 404.
	if _, _, err := ts.Store.GuestLinkMint(ctx, store.GuestRef{TicketID: fx.AliceOpen, ContactID: fx.Alice}, time.Hour); err == nil {
		t.Fatal("a guest link minted while guest links are off")
	}
	if err := ts.Store.SettingSet(ctx, "guest_links_enabled", "true"); err != nil {
		t.Fatal(err)
	}

	// Attachments: one on the link's ticket, one on another ticket of the same contact.
	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	upload := func(ticket int64, name string) int64 {
		t.Helper()
		alice.get(ticketPath(ticket), false)
		ctype, body := multipartBody(t, [][2]string{{"body", "file " + name}}, []filePart{{name, pngBytes}})
		if resp, _ := alice.postMultipart(ticketPath(ticket)+"/replies", ctype, body, true); resp.StatusCode != 200 {
			t.Fatalf("upload: %d", resp.StatusCode)
		}
		var id int64
		if err := ts.Pool.QueryRow(ctx, `SELECT id FROM attachments WHERE file_name = $1`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ts.Pool.Exec(ctx, `UPDATE tickets SET is_closed = false WHERE id = $1`, fx.AliceClosed) // so Alice may attach to it
	attHere := upload(fx.AliceOpen, "here.png")
	attOther := upload(fx.AliceClosed, "other.png")

	// A stranger's link for Alice's ticket cannot even be minted.
	if _, _, err := ts.Store.GuestLinkMint(ctx, store.GuestRef{TicketID: fx.AliceOpen, ContactID: fx.Carol}, time.Hour); err == nil {
		t.Fatal("a guest link minted for a contact who does not see the ticket")
	}

	link, l := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	guest := ts.client()
	resp, _ := guest.get(link, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != guestPath(fx.AliceOpen) {
		t.Fatalf("open: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("open: Referrer-Policy %q", got)
	}
	var cookie string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "portico_guest=") {
			cookie = v
		}
	}
	for _, want := range []string{"path=" + guestPath(fx.AliceOpen), "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(want)) {
			t.Errorf("guest cookie %q lacks %s", cookie, want)
		}
	}
	resp, doc := guest.get(guestPath(fx.AliceOpen), false)
	if resp.StatusCode != 200 {
		t.Fatalf("guest page: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("guest page: Referrer-Policy %q", got)
	}
	page := doc.Find("main").Text()
	if !strings.Contains(page, "Printer on fire") || !strings.Contains(page, "Please unplug it.") || strings.Contains(doc.Text(), "SECRET-NOTE") {
		t.Fatalf("guest page content: %q", page)
	}
	if doc.Find("#guest-sign-in").AttrOr("href", "") != "/login" || !strings.Contains(doc.Find("#guest-intro").Text(), fx.AliceEmail) {
		t.Errorf("guest banner: %q", doc.Find("#guest-banner").Text())
	}
	for _, sel := range []string{"#site-nav", "#nav-tickets", "#account-link", "#sign-out", "#close-form", "#share-form", "#participants", `a[href="/tickets"]`, `a[href="/account"]`} {
		if doc.Find(sel).Length() != 0 {
			t.Errorf("guest page has %s", sel)
		}
	}
	if got := doc.Find("#reply-form").AttrOr("action", ""); got != guestPath(fx.AliceOpen)+"/replies" {
		t.Errorf("reply form posts to %q", got)
	}
	href := doc.Find(".attachments a").First().AttrOr("href", "")
	if href != fmt.Sprintf("%s/attachments/%d", guestPath(fx.AliceOpen), attHere) {
		t.Errorf("attachment link %q", href)
	}
	if resp, _ := guest.get(href, false); resp.StatusCode != 200 {
		t.Errorf("own attachment: %d", resp.StatusCode)
	}

	// A reply is the contact's message and publishes a live update.
	sub := ts.Redis.Subscribe(ctx, ChannelPrefix(ts.Redis, ts.prefix)+"ticket:"+strconv.FormatInt(fx.AliceOpen, 10))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	resp, _ = guest.post(guestPath(fx.AliceOpen)+"/replies", url.Values{"body": {"Replying as a guest."}}, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), guestPath(fx.AliceOpen)+"#message-") {
		t.Fatalf("guest reply: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE ticket_id = $1 AND author_contact_id = $2 AND kind = 'public' AND body = 'Replying as a guest.'`, fx.AliceOpen, fx.Alice); n != 1 {
		t.Fatalf("guest reply stored %d times as Alice's", n)
	}
	select {
	case <-sub.Channel():
	case <-time.After(5 * time.Second):
		t.Fatal("no live update for the guest reply")
	}
	// With a file, through htmx (header token) and as a plain form (token first in the body).
	ctype, body := multipartBody(t, [][2]string{{"body", "guest file"}}, []filePart{{"guest.png", pngBytes}})
	if resp, _ := guest.postMultipart(guestPath(fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != 200 {
		t.Fatalf("guest upload (htmx): %d", resp.StatusCode)
	}
	ctype, body = multipartBody(t, [][2]string{{"_csrf", guest.csrf}, {"body", "guest file 2"}}, []filePart{{"guest2.png", pngBytes}})
	if resp, _ := guest.postMultipart(guestPath(fx.AliceOpen)+"/replies", ctype, body, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("guest upload (plain): %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.ticket_id = $1 AND m.author_contact_id = $2 AND a.file_name LIKE 'guest%'`, fx.AliceOpen, fx.Alice); n != 2 {
		t.Fatalf("%d guest attachments stored", n)
	}
	// An empty reply: 422 with the error beside the field, on the guest page.
	resp, doc = guest.post(guestPath(fx.AliceOpen)+"/replies", url.Values{"body": {"  "}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#reply-error").Length() != 1 || doc.Find("#guest-banner").Length() != 1 || doc.Find("#site-nav").Length() != 0 {
		t.Fatalf("empty guest reply: %d", resp.StatusCode)
	}
	// Live updates of the guest page.
	if resp, _ := guest.get(guestPath(fx.AliceOpen)+"/messages?after=0&state=open", true); resp.StatusCode != 200 {
		t.Errorf("guest live fetch: %d", resp.StatusCode)
	}

	// Nothing else: other tickets (the same contact's too), another ticket's attachment, the
	// portal's routes, the API, staff pages.
	for _, p := range []string{guestPath(fx.AliceClosed), guestPath(fx.BobT), guestPath(fx.CarolT), guestPath(999999),
		guestPath(fx.AliceClosed) + "/messages", guestPath(fx.BobT) + "/events",
		fmt.Sprintf("%s/attachments/%d", guestPath(fx.AliceOpen), attOther), fmt.Sprintf("%s/attachments/%d", guestPath(fx.AliceClosed), attOther)} {
		mustNotFound(t, ts, guest, p, nf)
	}
	for _, p := range []string{"/tickets", ticketPath(fx.AliceOpen), ticketPath(fx.AliceClosed), "/account", "/account/tokens",
		fmt.Sprintf("/attachments/%d", attHere), fmt.Sprintf("/attachments/%d", attOther), ticketPath(fx.AliceOpen) + "/messages", "/tickets/new"} {
		resp, _ := guest.get(p, false)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("guest session on %s: %d %q, want the sign-in page", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := guest.get("/admin/inbox", false); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Errorf("guest session on the inbox: %d", resp.StatusCode)
	}
	if resp, _ := guest.get("/api/v1/tickets", false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("guest session on the API: %d", resp.StatusCode)
	}
	before := countRows(t, ts, `SELECT count(*) FROM messages`)
	guest.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"through the portal route"}}, false)
	guest.post(ticketPath(fx.AliceOpen)+"/close", nil, false)
	guest.post(guestPath(fx.AliceOpen)+"/close", nil, false)
	guest.post(guestPath(fx.AliceOpen)+"/participants", url.Values{"email": {"x@acme.test"}}, false)
	if after := countRows(t, ts, `SELECT count(*) FROM messages`); after != before {
		t.Error("a guest session wrote through a portal route")
	}
	if n := countRows(t, ts, `SELECT count(*) FROM tickets WHERE id = $1 AND is_closed`, fx.AliceOpen); n != 0 {
		t.Error("a guest closed the ticket")
	}
	// The guest session id in the portal's session cookie is no session at all.
	var gid string
	for k, v := range guest.cookies {
		if k == "portico_guest" {
			gid = v
		}
	}
	forger := ts.client()
	forger.cookies["portico_session"] = gid
	if resp, _ := forger.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("guest id as a session cookie: %d", resp.StatusCode)
	}

	// CSRF: the guest session's own token only.
	anon := ts.client()
	anon.get("/login", false)
	for _, tok := range []string{"", anon.csrf, "x"} {
		form := url.Values{"body": {"csrf probe"}, "_csrf": {tok}}
		if resp, _ := guest.post(guestPath(fx.AliceOpen)+"/replies", form, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("guest reply with token %q: %d", tok, resp.StatusCode)
		}
	}
	req := httptest.NewRequest(http.MethodPost, guestPath(fx.AliceOpen)+"/replies", strings.NewReader(url.Values{"body": {"x-site"}, "_csrf": {guest.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp := guest.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site guest reply: %d", resp.StatusCode)
	}
	// The signed-in Alice's token does not pass on the guest page, nor the guest's in the portal.
	if resp, _ := alice.post(guestPath(fx.AliceOpen)+"/replies", url.Values{"body": {"alice"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("signed-in customer without the guest cookie: %d", resp.StatusCode)
	}

	// Forged and malformed tokens: the ordinary 404 page.
	for _, p := range []string{"/guest?token=" + strings.Repeat("A", 43), "/guest?token=abc", "/guest", "/guest?token=" + link[len("/guest?token="):] + "x"} {
		mustNotFound(t, ts, ts.client(), p, nf)
	}

	// Expired: the link and the open session stop.
	ts.Pool.Exec(ctx, `UPDATE ticket_guest_links SET expires_at = now() - interval '1 second' WHERE id = $1`, l.ID)
	mustNotFound(t, ts, guest, guestPath(fx.AliceOpen), nf)
	mustNotFound(t, ts, ts.client(), link, nf)

	// Revoked by an agent (confirmation first): every open session stops at once; audited.
	link2, _ := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	link3, _ := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	g2, g3 := ts.client(), ts.client()
	openGuest(t, g2, link2, fx.AliceOpen)
	agentID := mustStaff(t, ts.Pool, "agent@portico.test", "Andy Agent", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	_, doc = agent.get(fmt.Sprintf("/admin/inbox/%d", fx.AliceOpen), false)
	if !strings.Contains(doc.Find("#guest-links-status").Text(), "2 emailed links") || doc.Find("#guest-links-revoke summary").Length() != 1 || doc.Find("#guest-links-revoke-yes").Length() != 1 {
		t.Fatalf("inbox guest-link box: %q", doc.Find("#guest-links").Text())
	}
	resp, _ = agent.post(fmt.Sprintf("/admin/inbox/%d/guest-links/revoke", fx.AliceOpen), nil, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	loc, _, _ := strings.Cut(resp.Header.Get("Location"), "#")
	_, doc = agent.get(loc, false)
	if !strings.Contains(doc.Find("#flash").Text(), "2 guest links revoked") || doc.Find("#guest-links-revoke").Length() != 0 {
		t.Errorf("after revoking (%s): %q / %q\n%s", loc, doc.Find("#flash").Text(), doc.Find("#guest-links").Text(), doc.Find("main").Text())
	}
	mustNotFound(t, ts, g2, guestPath(fx.AliceOpen), nf)
	mustNotFound(t, ts, g3, link3, nf)
	if n := countRows(t, ts, `SELECT count(*) FROM audit_log WHERE key = $1`, fmt.Sprintf("ticket:%d:guest_links", fx.AliceOpen)); n != 1 {
		t.Errorf("%d audit rows for the revocation", n)
	}
	// A customer cannot revoke (staff route).
	if resp, _ := alice.post(fmt.Sprintf("/admin/inbox/%d/guest-links/revoke", fx.AliceOpen), nil, false); resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Errorf("customer revoke: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A participant's link dies when they are removed.
	if _, err := ts.Store.InboxParticipantAdd(ctx, store.Staff{ID: agentID, Name: "Andy Agent"}, fx.AliceOpen, fx.CarolEmail); err != nil {
		t.Fatal(err)
	}
	carolLink, _ := mintGuest(t, ts, fx.AliceOpen, fx.Carol)
	carol := ts.client()
	openGuest(t, carol, carolLink, fx.AliceOpen)
	if err := ts.Store.InboxParticipantRemove(ctx, fx.AliceOpen, fx.Carol); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, ts, carol, guestPath(fx.AliceOpen), nf)
	mustNotFound(t, ts, ts.client(), carolLink, nf)
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_guest_links WHERE contact_id = $1 AND revoked_at IS NULL`, fx.Carol); n != 0 {
		t.Errorf("%d of Carol's links still unrevoked after her removal", n)
	}

	// A blocked contact (portal account disabled): revoked at once.
	link4, _ := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	g4 := ts.client()
	openGuest(t, g4, link4, fx.AliceOpen)
	ts.Pool.Exec(ctx, `UPDATE portal_accounts SET status = 'disabled' WHERE contact_id = $1`, fx.Alice)
	mustNotFound(t, ts, g4, guestPath(fx.AliceOpen), nf)
	mustNotFound(t, ts, ts.client(), link4, nf)
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_guest_links WHERE contact_id = $1 AND revoked_at IS NULL`, fx.Alice); n != 0 {
		t.Errorf("%d of Alice's links unrevoked after blocking her", n)
	}
	ts.Pool.Exec(ctx, `UPDATE portal_accounts SET status = 'active' WHERE contact_id = $1`, fx.Alice)

	// Turning the setting off stops links and sessions.
	link5, _ := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	g5 := ts.client()
	openGuest(t, g5, link5, fx.AliceOpen)
	if err := ts.Store.SettingSet(ctx, "guest_links_enabled", "false"); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, ts, g5, guestPath(fx.AliceOpen), nf)
	mustNotFound(t, ts, ts.client(), link5, nf)
}

// TestGuestLinkFiltersAndCompany: a guest link is its recipient's Viewer confined to one
// ticket: when the admin's ticket filters hide the ticket, or a company-mode recipient leaves
// the company through which they saw it, the guest page is gone too.
func TestGuestLinkFollowsAccess(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	nf := notFoundText(t, ts)
	for k, v := range map[string]string{"guest_links_enabled": "true", "ticket_permissions": "company"} {
		if err := ts.Store.SettingSet(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	// Bob sees Alice's ticket through Acme (company mode).
	link, _ := mintGuest(t, ts, fx.AliceOpen, fx.Bob)
	bob := ts.client()
	openGuest(t, bob, link, fx.AliceOpen)
	ts.Pool.Exec(ctx, `UPDATE contacts SET company_id = $2 WHERE id = $1`, fx.Bob, fx.Globex)
	mustNotFound(t, ts, bob, guestPath(fx.AliceOpen), nf)
	ts.Pool.Exec(ctx, `UPDATE contacts SET company_id = $2 WHERE id = $1`, fx.Bob, fx.Acme)
	openGuest(t, ts.client(), link, fx.AliceOpen) // the link itself was not revoked
}

// TestGuestTokenNotLogged: the access log of opening a guest link (valid or forged) names the
// path, never the token, nor the guest session id; a rating link's token (in its path) is
// redacted too.
func TestGuestTokenNotLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pool := storetest.NewDB(t)
	rdb := newRedis(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rdb.Del(context.Background(), iter.Val())
		}
		rdb.Close()
	})
	s, err := New(context.Background(), testConfig(t), Options{Pool: pool, Redis: rdb, RedisPrefix: prefix, Logger: logger, SettingsTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ts := &testServer{Server: s, t: t, prefix: prefix}
	fx := storetest.MustStandard(t, ts.Pool)
	if err := ts.Store.SettingSet(context.Background(), "guest_links_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	link, _ := mintGuest(t, ts, fx.AliceOpen, fx.Alice)
	tok := strings.TrimPrefix(link, "/guest?token=")
	g := ts.client()
	openGuest(t, g, link, fx.AliceOpen)
	forged := strings.Repeat("Z", 43)
	ts.client().get("/guest?token="+forged, false)
	rateToken := "RATEtokenRATEtokenRATEtoken"
	ts.client().get("/rate/"+rateToken+"?score=good", false) // a rating link's token is in its path
	out := buf.String()
	if !strings.Contains(out, "path=/guest ") || !strings.Contains(out, "path="+guestPath(fx.AliceOpen)) {
		t.Fatalf("no access-log lines for the guest requests:\n%s", out)
	}
	for _, secret := range []string{tok, forged, g.cookies["portico_guest"], rateToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the log carries a token or guest session id %q", secret)
		}
	}
	_ = io.Discard
}

// TestGuestLinkInMail: with guest links on, an agent's answer mails the requester a guest link
// minted at send time (valid for the configured days) that opens the ticket; with them off the
// mail carries only the signed-in link.
func TestGuestLinkInMail(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	path := fmt.Sprintf("/admin/inbox/%d/messages", fx.AliceOpen)

	// Off (the default): the link asks to sign in, no guest link exists.
	agent.post(path, url.Values{"body": {"First answer."}}, true)
	m := smtpd.next()
	if strings.Contains(m.Text, "/guest") || !strings.Contains(m.Text, ticketPath(fx.AliceOpen)) {
		t.Fatalf("mail with guest links off:\n%s", m.Text)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM ticket_guest_links`); n != 0 {
		t.Fatalf("%d guest links minted while off", n)
	}

	for k, v := range map[string]string{"guest_links_enabled": "true", "guest_link_days": "3"} {
		if err := ts.Store.SettingSet(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	agent.post(path, url.Values{"body": {"Second answer."}}, true)
	m = smtpd.next()
	if m.To != fx.AliceEmail {
		t.Fatalf("mail to %s", m.To)
	}
	link := m.link(t, "/guest")
	if !strings.HasPrefix(link, "/guest?token=") || !strings.Contains(m.HTML, "/guest?token=") {
		t.Fatalf("guest link %q", link)
	}
	if !strings.Contains(m.Text, "/login") || !strings.Contains(m.Text, "do not forward") {
		t.Errorf("mail does not explain the link:\n%s", m.Text)
	}
	var days float64
	ts.Pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - created_at) / 86400 FROM ticket_guest_links`).Scan(&days)
	if days < 2.99 || days > 3.01 {
		t.Errorf("link valid for %.2f days, want 3", days)
	}
	if strings.Contains(link, "token=") {
		var stored []byte
		ts.Pool.QueryRow(ctx, `SELECT token_hash FROM ticket_guest_links`).Scan(&stored)
		if bytes.Contains(stored, []byte(strings.TrimPrefix(link, "/guest?token="))) {
			t.Error("the token is stored in clear")
		}
	}
	g := ts.client()
	doc := openGuest(t, g, link, fx.AliceOpen)
	if !strings.Contains(doc.Find("#messages").Text(), "Second answer.") {
		t.Errorf("guest page lacks the answer: %q", doc.Find("#messages").Text())
	}

	// A participant added by the agent gets a guest link too; it reads, and replies only as
	// the admin lets participants reply.
	if resp, _ := agent.post(fmt.Sprintf("/admin/inbox/%d/participants", fx.AliceOpen), url.Values{"email": {fx.CarolEmail}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add participant: %d", resp.StatusCode)
	}
	m = smtpd.next()
	if m.To != fx.CarolEmail {
		t.Fatalf("share mail to %s", m.To)
	}
	carol := ts.client()
	doc = openGuest(t, carol, m.link(t, "/guest"), fx.AliceOpen)
	if doc.Find("#reply-form").Length() != 0 || !strings.Contains(doc.Find("#closed-notice").Text(), "only the requester can reply") {
		t.Errorf("participant's guest page offers a reply: %q", doc.Find("#reply-box").Text())
	}
	carol.csrf = doc.Find(`body`).AttrOr("hx-headers", "")
	if i := strings.Index(carol.csrf, `":"`); i > 0 {
		carol.csrf = strings.TrimSuffix(carol.csrf[i+3:], `"}`)
	}
	if resp, _ := carol.post(guestPath(fx.AliceOpen)+"/replies", url.Values{"body": {"participant writes"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("participant's guest reply without the setting: %d", resp.StatusCode)
	}
	if err := ts.Store.SettingSet(ctx, "participants_can_reply", "true"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := carol.post(guestPath(fx.AliceOpen)+"/replies", url.Values{"body": {"participant writes"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("participant's guest reply with the setting: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE author_contact_id = $1 AND body = 'participant writes'`, fx.Carol); n != 1 {
		t.Errorf("participant's guest reply stored %d times", n)
	}
}
