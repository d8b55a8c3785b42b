package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/mail/inbound"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestAdminInboxMailSettings: an admin sets an inbox's address and IMAP mailbox (audited, the
// password sealed and never shown), Test connection shows the server's own answer, an agent is
// refused the settings page.
func TestAdminInboxMailSettings(t *testing.T) {
	imapAddr, _ := dovecot(t)
	ts := newTestServer(t, nil)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", "admin")
	mustStaff(t, ts.Pool, "gus@portico.test", "Gus Agent", "agent")
	admin := ts.client()
	admin.staffSignIn("ada@portico.test")
	var inbox int64
	_ = ts.Pool.QueryRow(context.Background(), `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox)
	page := fmt.Sprintf("/admin/inboxes/%d/mail", inbox)
	if resp, doc := admin.get(page, false); resp.StatusCode != 200 || doc.Find("#inbox-mail-form").Length() != 1 {
		t.Fatalf("settings page: %d", resp.StatusCode)
	}
	host, port, _ := net.SplitHostPort(imapAddr)
	user := "admin-" + storetest.RandHex(4) + "@portico.test"
	form := url.Values{"address": {"Help@Portico.test"}, "display_name": {"Portico Help"}, "allow_new_contacts": {"true"},
		"imap_enabled": {"true"}, "imap_host": {host}, "imap_port": {port}, "imap_security": {"none"}, "imap_user": {user},
		"imap_password": {"wrong password"}, "imap_folder": {"INBOX"}}
	// Test connection with a wrong password: the server's refusal, word for word.
	resp, doc := admin.post(page+"/test", form, false)
	if resp.StatusCode != 200 || !strings.Contains(doc.Find("#mail-test-result").Text(), "AUTHENTICATIONFAILED") {
		t.Fatalf("test with a wrong password: %d %q", resp.StatusCode, doc.Find("#mail-test-result").Text())
	}
	form.Set("imap_password", dovecotPassword)
	resp, doc = admin.post(page+"/test", form, false)
	if !strings.Contains(doc.Find("#mail-test-result").Text(), "OK: logged in as "+user) {
		t.Fatalf("test with the right password: %q", doc.Find("#mail-test-result").Text())
	}
	if e, err := ts.Store.InboxEmailGet(context.Background(), inbox); err == nil {
		t.Fatalf("Test connection saved the settings: %+v", e)
	}
	// A bad address is refused with the form kept.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("address", "help+x@portico.test")
	if resp, doc := admin.post(page, bad, false); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-address").Length() != 1 {
		t.Fatalf("bad address: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(page, form, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	e, err := ts.Store.InboxEmailGet(context.Background(), inbox)
	if err != nil || e.Address != "help@portico.test" || !e.IMAPEnabled || len(e.IMAPSecret) == 0 || strings.Contains(string(e.IMAPSecret), dovecotPassword) {
		t.Fatalf("saved settings: %+v %v", e, err)
	}
	if m, err := ts.mailSealer.Open(inbound.SecretSlug(inbox), e.IMAPSecret); err != nil || m["password"] != dovecotPassword {
		t.Fatalf("sealed password: %v %v", m, err)
	}
	_, doc = admin.get(page, false)
	if v, _ := doc.Find("#f-imap_password").Attr("value"); v != "" || strings.Contains(doc.Find("#inbox-mail-form").Text(), "password="+dovecotPassword) {
		t.Fatal("the password is shown back")
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND after LIKE '%password=set%' AND after NOT LIKE '%password=portico%'`, fmt.Sprintf("inbox-mail:%d", inbox)); n != 1 {
		t.Fatalf("audit rows = %d", n)
	}
	agent := ts.client()
	agent.staffSignIn("gus@portico.test")
	if resp, _ := agent.get(page, false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent on the settings page: %d", resp.StatusCode)
	}
}

// TestHeldMailAndOriginals: agents see held mail with its reason, retry and discard it
// (audited); they see an emailed message's sender and download its full original; a customer
// reaches none of these.
func TestHeldMailAndOriginals(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	std := storetest.MustStandard(t, ts.Pool)
	mustStaff(t, ts.Pool, "gus@portico.test", "Gus Agent", "agent")
	var inbox int64
	_ = ts.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox)
	if _, err := ts.Store.InboxEmailSet(ctx, store.Staff{Name: "t"}, store.InboxEmail{InboxID: inbox, Address: "help@portico.test", AllowNewContacts: false}); err != nil {
		t.Fatal(err)
	}
	proc := &inbound.Processor{Store: ts.Store, Tokens: ts.MailTokens, Settings: ts.Store.SettingsGet, Log: ts.Log}
	deliver := func(raw string) store.InboundResult {
		t.Helper()
		h := inbound.PeekHeader([]byte(raw))
		m, _, err := ts.Store.InboundStore(ctx, store.InboundNew{Source: "smtp", Recipient: "help@portico.test", InboxID: inbox, MessageID: h.MessageID, Sender: h.Sender, Subject: h.Subject, Raw: []byte(raw)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := proc.Process(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	held := deliver("From: Stranger <stranger@example.test>\r\nTo: help@portico.test\r\nSubject: Who are you\r\nMessage-ID: <held-1@example.test>\r\n\r\nHello from nowhere.\r\n")
	if held.Reason != store.ReasonUnknownSender {
		t.Fatalf("%+v", held)
	}
	ok := deliver("From: Alice Archer <alice@acme.test>\r\nTo: help@portico.test\r\nSubject: Toner\r\nMessage-ID: <ok-1@acme.test>\r\n\r\nNeed toner.\r\n\r\nOn Mon, 30 Nov 2026 at 10:00, Help <help@portico.test> wrote:\r\n> old text SECRET-QUOTE\r\n")
	agent := ts.client()
	agent.staffSignIn("gus@portico.test")
	_, doc := agent.get("/admin/mail", false)
	row := doc.Find("#held-mail tbody tr")
	if row.Length() != 1 || !strings.Contains(row.Text(), "stranger@example.test") || !strings.Contains(row.Text(), "The sender is not a contact") {
		t.Fatalf("held list: %q", doc.Find("#held-mail").Text())
	}
	var heldID int64
	_ = ts.Pool.QueryRow(ctx, `SELECT id FROM inbound_mails WHERE message_id = 'held-1@example.test'`).Scan(&heldID)
	resp := agent.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/admin/mail/%d/raw", heldID), nil))
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "Hello from nowhere.") || resp.Header.Get("Content-Type") != "message/rfc822" {
		t.Fatalf("raw download: %d %q", resp.StatusCode, raw)
	}
	if resp, _ := agent.post(fmt.Sprintf("/admin/mail/%d/discard", heldID), nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("discard: %d", resp.StatusCode)
	}
	if _, doc := agent.get("/admin/mail", false); doc.Find("#held-mail-empty").Length() != 1 {
		t.Fatal("discarded mail still listed")
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND after = 'discard'`, fmt.Sprintf("inbox-mail:%d", heldID)); n != 0 {
		t.Fatal("audit key mix-up")
	}
	if n := ts.count(`SELECT count(*) FROM audit_log WHERE key = $1 AND after = 'discard' AND staff_name = 'Gus Agent'`, fmt.Sprintf("inbound-mail:%d", heldID)); n != 1 {
		t.Fatalf("discard audit rows = %d", n)
	}
	// The agent sees the trimmed text, the sender address, and the original on demand.
	_, doc = agent.get(fmt.Sprintf("/admin/inbox/%d", ok.TicketID), false)
	msg := doc.Find(fmt.Sprintf("#message-%d", ok.MessageID))
	if !strings.Contains(msg.Text(), "Need toner.") || strings.Contains(msg.Text(), "SECRET-QUOTE") || !strings.Contains(msg.Find(".email-from").Text(), "alice@acme.test") {
		t.Fatalf("agent's view of the email message: %q", msg.Text())
	}
	href, _ := msg.Find("a.email-original").Attr("href")
	resp = agent.do(httptest.NewRequest(http.MethodGet, href, nil))
	raw, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "SECRET-QUOTE") {
		t.Fatalf("original download %s: %d", href, resp.StatusCode)
	}
	// The customer sees the message, labelled Email, without the quote and without the original.
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	_, doc = alice.get(fmt.Sprintf("/tickets/%d", ok.TicketID), false)
	if !strings.Contains(doc.Text(), "Need toner.") || strings.Contains(doc.Text(), "SECRET-QUOTE") || !strings.Contains(doc.Text(), "Email") {
		t.Fatalf("customer view: %q", doc.Find("main").Text())
	}
	for _, path := range []string{href, fmt.Sprintf("/admin/mail/%d/raw", heldID), "/admin/mail"} {
		resp := alice.do(httptest.NewRequest(http.MethodGet, path, nil))
		if resp.StatusCode == 200 {
			t.Fatalf("customer reached %s", path)
		}
	}
	// Another customer does not see Alice's email ticket.
	carol := ts.client()
	carol.signIn(std.CarolEmail, std.Password)
	if resp, _ := carol.get(fmt.Sprintf("/tickets/%d", ok.TicketID), false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another customer: %d", resp.StatusCode)
	}
}
