package inbound

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob/memblob"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// env is a real database (storetest), an in-memory blob store and a Processor.
type env struct {
	t      testing.TB
	s      *store.Store
	p      *Processor
	std    storetest.Standard
	inbox  int64
	tokens *Tokens
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := storetest.NewStore(t)
	s.Blobs = memblob.OpenBucket(nil)
	t.Cleanup(func() { s.Blobs.Close() })
	tok, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s, tokens: tok, std: storetest.MustStandard(t, s.Pool)}
	e.p = &Processor{Store: s, Tokens: tok, Settings: s.SettingsGet, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	if err := s.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&e.inbox); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InboxEmailSet(ctx, store.Staff{Name: "test"}, store.InboxEmail{InboxID: e.inbox, Address: "support@portico.test", AllowNewContacts: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

// mail composes a plain-text RFC 5322 message.
func mailText(from, to, subject, msgID, inReplyTo, body string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n", from, to, subject)
	if msgID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", msgID)
	}
	if inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", inReplyTo, inReplyTo)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

// deliver stores raw as if received over LMTP for rcpt and processes it.
func (e *env) deliver(rcpt string, raw []byte) (store.InboundMail, store.InboundResult) {
	e.t.Helper()
	ctx := context.Background()
	h := PeekHeader(raw)
	m, _, err := e.s.InboundStore(ctx, store.InboundNew{Source: "lmtp", Recipient: rcpt, MessageID: h.MessageID, Sender: h.Sender, Subject: h.Subject, Raw: raw})
	if err != nil {
		e.t.Fatalf("InboundStore: %v", err)
	}
	res, err := e.p.Process(ctx, m.ID)
	if err != nil {
		e.t.Fatalf("Process: %v", err)
	}
	return m, res
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.s.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestNewTicketThenThreadedReplies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	raw := mailText("Alice Archer <alice@acme.test>", "support@portico.test", "Printer jams", "first-1@acme.test", "",
		"The printer jams on page 2.\n\n-- \nAlice")
	_, res := e.deliver("support@portico.test", raw)
	if res.Status != store.InboundProcessed || !res.NewTicket || res.TicketID == 0 {
		t.Fatalf("first mail: %+v", res)
	}
	var channel, subject, body string
	var requester, company int64
	if err := e.s.Pool.QueryRow(ctx, `SELECT t.channel, t.subject, t.requester_id, t.company_id, m.body FROM tickets t JOIN messages m ON m.ticket_id = t.id WHERE t.id = $1`,
		res.TicketID).Scan(&channel, &subject, &requester, &company, &body); err != nil {
		t.Fatal(err)
	}
	if channel != "email" || subject != "Printer jams" || requester != e.std.Alice || company != e.std.Acme || body != "The printer jams on page 2." {
		t.Fatalf("ticket = %s %q requester %d company %d body %q", channel, subject, requester, company, body)
	}
	// The customer can see it in the portal (Viewer scope).
	st, _ := e.s.SettingsGet(ctx)
	if _, err := e.s.TicketGetForViewer(ctx, store.NewViewer(e.std.Alice, e.std.Acme, st, ""), res.TicketID); err != nil {
		t.Fatalf("Alice cannot see her email ticket: %v", err)
	}

	// The same mail again (an MTA retry, or a second fetcher): nothing new.
	_, again := e.deliver("support@portico.test", raw)
	if again.TicketID != res.TicketID || e.count(`SELECT count(*) FROM messages WHERE ticket_id = $1`, res.TicketID) != 1 ||
		e.count(`SELECT count(*) FROM inbound_mails`) != 1 {
		t.Fatalf("duplicate added something: %+v", again)
	}

	// A reply through the signed reply address joins the ticket, trimmed.
	reply := mailText("Alice Archer <alice@acme.test>", e.tokens.ReplyAddress("support@portico.test", res.TicketID), "Re: Printer jams",
		"second-2@acme.test", "", "It works now.\n\nOn Tue, 1 Dec 2026 at 10:00, Support <support@portico.test> wrote:\n> Try again.")
	_, r2 := e.deliver(e.tokens.ReplyAddress("support@portico.test", res.TicketID), reply)
	if r2.Status != store.InboundProcessed || r2.TicketID != res.TicketID || r2.NewTicket {
		t.Fatalf("token reply: %+v", r2)
	}
	if e.count(`SELECT count(*) FROM messages WHERE ticket_id = $1 AND body = 'It works now.'`, res.TicketID) != 1 {
		t.Fatal("trimmed reply not on the ticket")
	}

	// A reply found by In-Reply-To only (token stripped by the client) joins too.
	r3raw := mailText("alice@acme.test", "support@portico.test", "Re: Printer jams", "third-3@acme.test", "second-2@acme.test", "One more thing.")
	if _, r3 := e.deliver("support@portico.test", r3raw); r3.TicketID != res.TicketID {
		t.Fatalf("reference reply: %+v", r3)
	}
}

// TestStolenTokenNeverJoins: another customer's mail with a valid token is held, and one that
// only references the ticket's Message-ID opens a ticket of its own.
func TestStolenTokenNeverJoins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, first := e.deliver("support@portico.test", mailText("alice@acme.test", "support@portico.test", "Secret plans", "s-1@acme.test", "", "Our secret plans."))
	addr := e.tokens.ReplyAddress("support@portico.test", first.TicketID)
	m, held := e.deliver(addr, mailText("carol@globex.test", addr, "Re: Secret plans", "c-1@globex.test", "", "Let me in."))
	if held.Status != store.InboundHeld || held.Reason != store.ReasonSenderMismatch {
		t.Fatalf("stolen token: %+v", held)
	}
	if e.count(`SELECT count(*) FROM messages WHERE ticket_id = $1`, first.TicketID) != 1 {
		t.Fatal("Carol's mail reached Alice's ticket")
	}
	if got, _ := e.s.InboundList(ctx, store.InboundListFilter{}); len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("held list = %+v", got)
	}
	// A forged token (wrong mac) is no token: Carol's mail opens her own ticket.
	forged := strings.Replace(addr, "-", "-x", 1)
	if _, r := e.deliver(forged, mailText("carol@globex.test", forged, "Re: Secret plans", "c-2@globex.test", "", "Forged.")); r.TicketID == first.TicketID || !r.NewTicket {
		t.Fatalf("forged token: %+v", r)
	}
	// Referencing Alice's Message-ID: a new ticket for Carol, never a message on Alice's.
	_, r := e.deliver("support@portico.test", mailText("carol@globex.test", "support@portico.test", "Re: Secret plans", "c-3@globex.test", "s-1@acme.test", "Hi."))
	if r.TicketID == first.TicketID || !r.NewTicket || r.Status != store.InboundProcessed {
		t.Fatalf("reference from another customer: %+v", r)
	}
	if e.count(`SELECT count(*) FROM messages WHERE ticket_id = $1`, first.TicketID) != 1 {
		t.Fatal("Carol's mail reached Alice's ticket")
	}
	// An agent retries the held mail: it is processed again (and held again: same rule).
	if err := e.s.InboundRetry(ctx, store.Staff{Name: "agent"}, m.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := e.p.Process(ctx, m.ID); err != nil || res.Reason != store.ReasonSenderMismatch {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if err := e.s.InboundDiscard(ctx, store.Staff{Name: "agent"}, m.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE key = $1`, fmt.Sprintf("inbound-mail:%d", m.ID)); n != 2 {
		t.Fatalf("audit rows = %d, want 2", n)
	}
}

func TestUnknownSenders(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, r := e.deliver("support@portico.test", mailText("New Person <new.person@example.com>", "support@portico.test", "Hello", "n-1@example.com", "", "Hi there."))
	if !r.NewTicket || e.count(`SELECT count(*) FROM contacts WHERE email = 'new.person@example.com' AND name = 'New Person'`) != 1 {
		t.Fatalf("unknown sender with contacts allowed: %+v", r)
	}
	if _, err := e.s.InboxEmailSet(ctx, store.Staff{}, store.InboxEmail{InboxID: e.inbox, Address: "support@portico.test", AllowNewContacts: false}); err != nil {
		t.Fatal(err)
	}
	_, r = e.deliver("support@portico.test", mailText("stranger@example.com", "support@portico.test", "Hello", "n-2@example.com", "", "Hi."))
	if r.Status != store.InboundHeld || r.Reason != store.ReasonUnknownSender || e.count(`SELECT count(*) FROM contacts WHERE email = 'stranger@example.com'`) != 0 {
		t.Fatalf("unknown sender, contacts not allowed: %+v", r)
	}
	// Sent to no inbox address at all.
	_, r = e.deliver("other@elsewhere.test", mailText("alice@acme.test", "other@elsewhere.test", "Hi", "n-3@acme.test", "", "Hi."))
	if r.Status != store.InboundHeld || r.Reason != store.ReasonNoInbox {
		t.Fatalf("no inbox: %+v", r)
	}
}

func TestAutoRepliesNeverReopenNorOpen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, first := e.deliver("support@portico.test", mailText("alice@acme.test", "support@portico.test", "Question", "q-1@acme.test", "", "A question."))
	if _, err := e.s.Pool.Exec(ctx, `UPDATE tickets SET is_closed = true, stage_id = (SELECT id FROM stages WHERE is_closed LIMIT 1) WHERE id = $1`, first.TicketID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SettingsSetAudited(ctx, 0, map[string]string{"reopen_on_reply": "true"}); err != nil {
		t.Fatal(err)
	}
	addr := e.tokens.ReplyAddress("support@portico.test", first.TicketID)
	_, r := e.deliver(addr, mailText("alice@acme.test", addr, "Automatic reply: Question", "ooo-1@acme.test", "", "I am away.", "Auto-Submitted: auto-replied"))
	if r.TicketID != first.TicketID || e.count(`SELECT count(*) FROM tickets WHERE id = $1 AND is_closed`, first.TicketID) != 1 {
		t.Fatalf("auto-reply reopened or missed the ticket: %+v", r)
	}
	// A person's reply does reopen (the setting is on): the auto-reply check can fail.
	_, r = e.deliver(addr, mailText("alice@acme.test", addr, "Re: Question", "re-1@acme.test", "", "Still broken."))
	if e.count(`SELECT count(*) FROM tickets WHERE id = $1 AND NOT is_closed`, first.TicketID) != 1 {
		t.Fatalf("a person's reply did not reopen: %+v", r)
	}
	// Automatic mail that belongs to no ticket opens none.
	for _, f := range []string{"out_of_office.eml", "mailing_list.eml", "ooo_subject_only.eml"} {
		raw, _ := os.ReadFile(filepath.Join("testdata", "mail", f))
		raw = []byte(strings.Replace(string(raw), "In-Reply-To: <portico-aaaa1111@portico.test>\n", "", 1))
		if _, r := e.deliver("support@portico.test", raw); r.Status != store.InboundIgnored || r.Reason != store.ReasonAutoReply {
			t.Errorf("%s: %+v", f, r)
		}
	}
}

func TestBouncesCountedNeverMessages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	storetest.MustContact(t, e.s.Pool, "gone@example.com", "Gone", 0, "")
	raw, err := os.ReadFile(filepath.Join("testdata", "mail", "dsn_bounce.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < store.HardBounceLimit; i++ {
		r := strings.Replace(string(raw), "<dsn-0001@", fmt.Sprintf("<dsn-%d@", i), 1)
		if _, res := e.deliver("support@portico.test", []byte(r)); res.Reason != store.ReasonBounce {
			t.Fatalf("bounce %d: %+v", i, res)
		}
		var undeliverable bool
		var n int
		_ = e.s.Pool.QueryRow(ctx, `SELECT hard_bounces, undeliverable FROM contacts WHERE email = 'gone@example.com'`).Scan(&n, &undeliverable)
		if n != i+1 || undeliverable != (i+1 >= store.HardBounceLimit) {
			t.Fatalf("after bounce %d: hard_bounces %d undeliverable %t", i, n, undeliverable)
		}
	}
	if e.count(`SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.author_contact_id WHERE c.email ILIKE 'mailer-daemon%'`) != 0 ||
		e.count(`SELECT count(*) FROM tickets WHERE channel = 'email'`) != 0 {
		t.Fatal("a bounce became a message or a ticket")
	}
}

func TestAttachmentsThroughUploadChecks(t *testing.T) {
	e := newEnv(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "mail", "attachments_inline.eml"))
	if err != nil {
		t.Fatal(err)
	}
	_, r := e.deliver("support@portico.test", raw)
	if r.Status != store.InboundProcessed {
		t.Fatalf("%+v", r)
	}
	var names string
	_ = e.s.Pool.QueryRow(context.Background(), `SELECT string_agg(file_name, ',' ORDER BY id) FROM attachments WHERE message_id = $1`, r.MessageID).Scan(&names)
	if names != "shot.png,résumé.pdf" { // setup.exe is refused by the allow-list
		t.Fatalf("attachments = %q", names)
	}
}

// TestBadInput: hostile mails are recorded as failed with a reason, never a ticket.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	var bomb strings.Builder
	bomb.WriteString("From: bomb@example.com\r\nTo: support@portico.test\r\nSubject: bomb\r\nMessage-ID: <bomb@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < 5000; i++ {
		bomb.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	bomb.WriteString("--b--\r\n")
	var deep strings.Builder
	deep.WriteString("From: deep@example.com\r\nTo: support@portico.test\r\nSubject: deep\r\nMessage-ID: <deep@example.com>\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	deep.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
	hugeHeader := "From: big@example.com\r\nTo: support@portico.test\r\nMessage-ID: <big@example.com>\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\nSubject: big\r\n\r\nbody\r\n"
	noFrom, _ := os.ReadFile(filepath.Join("testdata", "mail", "no_from.eml"))
	for name, c := range map[string]struct {
		raw    string
		reason string
	}{
		"mime bomb":    {bomb.String(), "mime_bomb"},
		"deep nesting": {deep.String(), "mime_bomb"},
		"1 MB header":  {hugeHeader, "header_too_large"},
		"no From":      {string(noFrom), "no_from"},
	} {
		t.Run(name, func(t *testing.T) {
			_, r := e.deliver("support@portico.test", []byte(c.raw))
			if r.Status != store.InboundFailed || r.Reason != c.reason {
				t.Fatalf("%s: %+v", name, r)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM tickets WHERE channel = 'email'`); n != 0 {
		t.Fatalf("%d tickets from bad input", n)
	}
	// Invalid UTF-8 in headers is repaired, not refused.
	raw, _ := os.ReadFile(filepath.Join("testdata", "mail", "invalid_utf8_headers.eml"))
	_, r := e.deliver("support@portico.test", raw)
	var subject string
	_ = e.s.Pool.QueryRow(context.Background(), `SELECT subject FROM tickets WHERE id = $1`, r.TicketID).Scan(&subject)
	if r.Status != store.InboundProcessed || !utf8Valid(subject) || !strings.HasPrefix(subject, "Caf") {
		t.Fatalf("invalid UTF-8 headers: %+v subject %q", r, subject)
	}
}

func TestRateLimitPerSender(t *testing.T) {
	e := newEnv(t)
	var last store.InboundResult
	for i := 0; i <= store.InboundRateLimit; i++ {
		_, last = e.deliver("support@portico.test", mailText("alice@acme.test", "support@portico.test", fmt.Sprintf("Loop %d", i), fmt.Sprintf("loop-%d@acme.test", i), "", "Loop."))
	}
	if last.Status != store.InboundHeld || last.Reason != store.ReasonRateLimited {
		t.Fatalf("mail %d: %+v", store.InboundRateLimit+1, last)
	}
}
