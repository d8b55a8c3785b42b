package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"portico/config"
	"portico/mail/inbound"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// Dovecot (scripts/mailserver.sh) is the real mail server of these tests: every user logs in
// with the password "portico"; a fresh user name is a fresh mailbox.
const dovecotPassword = "portico"

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dovecot returns the IMAP and LMTP addresses of the test Dovecot. Outside CI a missing Dovecot
// skips the test; in CI (CI=true) it fails it.
func dovecot(t *testing.T) (imapAddr, lmtpAddr string) {
	t.Helper()
	imapAddr = envOr("PORTICO_TEST_IMAP_ADDR", "127.0.0.1:10143")
	lmtpAddr = envOr("PORTICO_TEST_LMTP_ADDR", "127.0.0.1:10024")
	c, err := net.DialTimeout("tcp", imapAddr, 2*time.Second)
	if err != nil {
		msg := fmt.Sprintf("Dovecot is not running on %s (start it with `bash scripts/mailserver.sh`): %v", imapAddr, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c.Close()
	return imapAddr, lmtpAddr
}

// lmtpDeliver delivers raw to rcpts over LMTP (as an MTA would).
func lmtpDeliver(t *testing.T, addr, from string, rcpts []string, raw []byte) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	return c.SendMail(from, rcpts, bytes.NewReader(raw))
}

// relay is the outbound SMTP server Portico sends to: it hands each mail to Dovecot over LMTP,
// so the customer's real mailbox receives it.
func startRelay(t *testing.T, lmtpAddr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{t: t, lmtp: lmtpAddr}, nil }))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type relaySession struct {
	t     *testing.T
	lmtp  string
	from  string
	rcpts []string
}

func (r *relaySession) Reset()        { r.rcpts = nil }
func (r *relaySession) Logout() error { return nil }
func (r *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	r.from = from
	return nil
}
func (r *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	r.rcpts = append(r.rcpts, to)
	return nil
}
func (r *relaySession) Data(rd io.Reader) error {
	raw, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	return lmtpDeliver(r.t, r.lmtp, r.from, r.rcpts, raw)
}

// mailbox reads a Dovecot user's INBOX: every message, raw, oldest first.
func mailbox(t *testing.T, imapAddr, user string) [][]byte {
	t.Helper()
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, dovecotPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(seqRange(sel.NumMessages)...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out
}

// unstored counts the mails of user's INBOX not yet flagged as stored by Portico.
func unstored(t *testing.T, imapAddr, user string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, dovecotPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{inbound.StoredFlag}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return len(d.AllUIDs())
}

func seqRange(n uint32) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i + 1)
	}
	return s
}

// eventually polls cond until it is true or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// emailServer is a server whose outbound mail goes through the relay into Dovecot, with fast
// job polling and its job workers and IMAP fetchers started.
// blobDir is the blob store: instances of one deployment share it (pass the same directory).
func emailServer(t *testing.T, pool *pgxpool.Pool, prefix string, rdb redis.UniversalClient, relayAddr, blobDir string) *testServer {
	t.Helper()
	cfg, err := config.LoadFrom(func(k string) string {
		switch k {
		case "PORTICO_SECRET_KEY":
			return strings.Repeat("ab", 32)
		case "PORTICO_LOG_LEVEL":
			return "error"
		case "PORTICO_SMTP_URL":
			return "smtp://" + relayAddr + "?starttls=none"
		case "PORTICO_MAIL_RETRY_BASE":
			return "20ms"
		case "PORTICO_BASE_URL":
			return "http://portal.example.test"
		case "PORTICO_IMAP_POLL":
			return "1s"
		case "PORTICO_BLOB_URL":
			return "file://" + blobDir + "?no_tmp_dir=1"
		case "PORTICO_MAIL_MAX_BYTES":
			return "1048576"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond, JobPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMail(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, t: t, prefix: prefix}
}

// configureIMAP gives the default inbox the address support-<r>@portico.test, fetched from
// that Dovecot user over IMAP.
func configureIMAP(t *testing.T, ts *testServer, imapAddr string) (inboxID int64, address string) {
	t.Helper()
	ctx := context.Background()
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inboxID); err != nil {
		t.Fatal(err)
	}
	address = "support-" + storetest.RandHex(4) + "@portico.test"
	host, port, _ := net.SplitHostPort(imapAddr)
	var p int
	fmt.Sscan(port, &p)
	sealed, err := ts.mailSealer.Seal(inbound.SecretSlug(inboxID), map[string]string{"password": dovecotPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.InboxEmailSet(ctx, store.Staff{Name: "test"}, store.InboxEmail{InboxID: inboxID, Address: address, AllowNewContacts: true,
		IMAPEnabled: true, IMAPHost: host, IMAPPort: p, IMAPSecurity: "none", IMAPUser: address, IMAPSecret: sealed, IMAPFolder: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	return inboxID, address
}

func (ts *testServer) count(q string, args ...any) int {
	ts.t.Helper()
	var n int
	if err := ts.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestEmailEndToEnd: a customer mails the support address (delivered into Dovecot, fetched
// over IMAP) → a ticket in the portal and the inbox; the agent's reply → the customer's
// Dovecot mailbox holds a threaded mail; the customer's emailed answer → the same ticket,
// trimmed; another customer's answer with the stolen token → never on that ticket.
func TestEmailEndToEnd(t *testing.T) {
	imapAddr, lmtpAddr := dovecot(t)
	relay := startRelay(t, lmtpAddr)
	pool := storetest.NewDB(t)
	rdb := newRedis(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	ts := emailServer(t, pool, prefix, rdb, relay, t.TempDir())
	_, support := configureIMAP(t, ts, imapAddr)
	ts.fetchers.Stop() // pick up the new settings now rather than after a poll
	ts.fetchers = nil
	if err := ts.StartMail(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := storetest.RandHex(4)
	company := storetest.MustCompany(t, pool, "Initech "+r)
	custEmail := "cust-" + r + "@example.test"
	cust := storetest.MustContact(t, pool, custEmail, "Carla Customer", company, "correct horse battery")
	otherEmail := "other-" + r + "@example.test"
	storetest.MustContact(t, pool, otherEmail, "Oscar Other", storetest.MustCompany(t, pool, "Umbrella "+r), "correct horse battery")

	// 1. The customer writes in.
	first := fmt.Sprintf("From: Carla Customer <%s>\r\nTo: %s\r\nSubject: Router keeps rebooting\r\nMessage-ID: <first-%s@example.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy router reboots every hour.\r\n", custEmail, support, r)
	if err := lmtpDeliver(t, lmtpAddr, custEmail, []string{support}, []byte(first)); err != nil {
		t.Fatal(err)
	}
	var ticketID int64
	eventually(t, "the ticket from the customer's mail", func() bool {
		return ts.Pool.QueryRow(ctx, `SELECT id FROM tickets WHERE requester_id = $1 AND channel = 'email'`, cust).Scan(&ticketID) == nil
	})
	c := ts.client()
	c.signIn(custEmail, "correct horse battery")
	if _, doc := c.get(fmt.Sprintf("/tickets/%d", ticketID), false); !strings.Contains(doc.Text(), "My router reboots every hour.") {
		t.Fatalf("the customer does not see the email ticket in the portal:\n%s", doc.Text())
	}
	it, err := ts.Store.InboxTicketGet(ctx, ticketID)
	if err != nil || it.Ticket.Channel != "email" || it.RequesterEmail != custEmail {
		t.Fatalf("inbox ticket = %+v, %v", it.Ticket, err)
	}

	// 2. The agent replies: the customer's mailbox receives a threaded mail.
	var staffID int64
	if err := pool.QueryRow(ctx, `INSERT INTO staff_users (email, name, role) VALUES ($1, 'Gus Agent', 'agent') RETURNING id`, "gus-"+r+"@portico.test").Scan(&staffID); err != nil {
		t.Fatal(err)
	}
	reply, err := ts.Store.InboxMessageCreate(ctx, staffID, ticketID, "Please update the firmware to 2.1.", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got *mail.Message
	eventually(t, "the agent's reply in the customer's Dovecot mailbox", func() bool {
		msgs := mailbox(t, imapAddr, custEmail)
		if len(msgs) == 0 {
			return false
		}
		got, err = mail.ReadMessage(bytes.NewReader(msgs[len(msgs)-1]))
		return err == nil
	})
	var replyMID string
	_ = pool.QueryRow(ctx, `SELECT email_message_id FROM messages WHERE id = $1`, reply.ID).Scan(&replyMID)
	replyTo := got.Header.Get("Reply-To")
	if got.Header.Get("Message-ID") != "<"+replyMID+">" || got.Header.Get("In-Reply-To") != "<first-"+r+"@example.test>" ||
		!strings.Contains(got.Header.Get("References"), "<first-"+r+"@example.test>") ||
		!strings.Contains(replyTo, strings.TrimSuffix(support, "@portico.test")+"+t") ||
		!strings.Contains(got.Header.Get("From"), support) || got.Header.Get("Subject") != "Re: Router keeps rebooting" {
		t.Fatalf("reply headers not threaded: %v", got.Header)
	}
	body, _ := io.ReadAll(got.Body)
	if !bytes.Contains(body, []byte("Please update the firmware to 2.1.")) {
		t.Fatalf("reply body lacks the agent's text:\n%s", body)
	}
	addr, err := mail.ParseAddress(replyTo)
	if err != nil {
		t.Fatal(err)
	}

	// 3. The customer answers the mail: same ticket, trimmed.
	answer := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Re: Router keeps rebooting\r\nMessage-ID: <answer-%s@example.test>\r\nIn-Reply-To: <%s>\r\nReferences: <first-%s@example.test> <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDone, it is stable now.\r\n\r\nOn Tue, 1 Dec 2026 at 11:00, Support <%s> wrote:\r\n> Please update the firmware to 2.1.\r\n",
		custEmail, addr.Address, r, replyMID, r, replyMID, support)
	if err := lmtpDeliver(t, lmtpAddr, custEmail, []string{addr.Address}, []byte(answer)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the customer's answer on the ticket", func() bool {
		return ts.count(`SELECT count(*) FROM messages WHERE ticket_id = $1 AND body = 'Done, it is stable now.'`, ticketID) == 1
	})

	// 4. Another customer uses the stolen reply address: held, never on the ticket.
	stolen := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Re: Router keeps rebooting\r\nMessage-ID: <stolen-%s@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nLet me read this ticket.\r\n", otherEmail, addr.Address, r)
	if err := lmtpDeliver(t, lmtpAddr, otherEmail, []string{addr.Address}, []byte(stolen)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stolen-token mail held", func() bool {
		return ts.count(`SELECT count(*) FROM inbound_mails WHERE message_id = $1 AND status = 'held' AND reason = 'sender_mismatch'`, "stolen-"+r+"@example.test") == 1
	})
	if n := ts.count(`SELECT count(*) FROM messages WHERE ticket_id = $1`, ticketID); n != 3 {
		t.Fatalf("ticket has %d messages, want 3 (mail, reply, answer)", n)
	}
	// The fetched mails were flagged as stored in the support mailbox, not fetched again.
	if n := ts.count(`SELECT count(*) FROM inbound_mails`); n != 3 {
		t.Fatalf("%d inbound mails stored, want 3", n)
	}
	// The mailed message is labelled Email; a reply typed in the portal in the same thread is not.
	if resp, _ := c.post(fmt.Sprintf("/tickets/%d/replies", ticketID), url.Values{"body": {"Typed in the portal."}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("portal reply: %d", resp.StatusCode)
	}
	_, doc := c.get(fmt.Sprintf("/tickets/%d", ticketID), false)
	labels := map[string]string{}
	doc.Find("article.message").Each(func(_ int, m *goquery.Selection) {
		labels[strings.TrimSpace(m.Find(".message-body").Text())] = strings.TrimSpace(m.Find(".channel-label").Text())
	})
	if labels["My router reboots every hour."] != "Email" || labels["Typed in the portal."] != "" {
		t.Fatalf("channel labels = %q, want Email on the mailed message only", labels)
	}
}

// TestIMAPTwoInstancesEachMailOnce: two instances fetch one mailbox; every mail is stored
// once (the lease lets one fetch; dedup guards the hand-over).
func TestIMAPTwoInstancesEachMailOnce(t *testing.T) {
	imapAddr, lmtpAddr := dovecot(t)
	relay := startRelay(t, lmtpAddr)
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	blobs := t.TempDir() // one deployment: one blob store, whichever instance stores or processes
	a := emailServer(t, pool, prefix, newRedis(t), relay, blobs)
	_, support := configureIMAP(t, a, imapAddr)
	b := emailServer(t, pool, prefix, newRedis(t), relay, blobs) // starts its fetchers with the settings in place
	a.fetchers.Stop()
	a.fetchers = nil
	if err := a.StartMail(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for i := 0; i < n; i++ {
		raw := fmt.Sprintf("From: Many Mails <many-%d@example.test>\r\nTo: %s\r\nSubject: Mail %d\r\nMessage-ID: <many-%d-%s@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello %d\r\n", i, support, i, i, prefix[13:19], i)
		if err := lmtpDeliver(t, lmtpAddr, "many@example.test", []string{support}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every mail stored and processed", func() bool {
		return a.count(`SELECT count(*) FROM inbound_mails WHERE status = 'processed'`) == n
	})
	// Every mail in the mailbox is marked stored, so no fetcher takes it again; still one row each.
	eventually(t, "every mail flagged as stored", func() bool { return unstored(t, imapAddr, support) == 0 })
	if got := a.count(`SELECT count(*) FROM inbound_mails`); got != n {
		t.Fatalf("%d inbound mails, want %d", got, n)
	}
	if got := a.count(`SELECT count(*) FROM tickets WHERE channel = 'email'`); got != n {
		t.Fatalf("%d tickets, want %d", got, n)
	}
	_ = b
}

// TestLMTPReceiver: the receiver accepts only inbox addresses (550 5.1.1 otherwise), refuses
// mail over the size limit (552) and stores the rest for processing.
func TestLMTPReceiver(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.Config.MailMaxBytes = 64 << 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ServeMail(ln, true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var inbox int64
	_ = ts.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox)
	if _, err := ts.Store.InboxEmailSet(ctx, store.Staff{Name: "t"}, store.InboxEmail{InboxID: inbox, Address: "help@portico.test", AllowNewContacts: true}); err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: Pat <pat@example.test>\r\nTo: help@portico.test\r\nSubject: Hi\r\nMessage-ID: <lmtp-1@example.test>\r\n\r\nHello.\r\n")
	err = lmtpDeliver(t, ln.Addr().String(), "pat@example.test", []string{"nobody@portico.test"}, raw)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("unknown recipient: %v, want 550", err)
	}
	big := append([]byte("From: pat@example.test\r\nTo: help@portico.test\r\nSubject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 5000)...)
	err = lmtpDeliver(t, ln.Addr().String(), "pat@example.test", []string{"help@portico.test"}, big)
	if !errors.As(err, &se) || se.Code != 552 {
		t.Fatalf("too large: %v, want 552", err)
	}
	if n := ts.count(`SELECT count(*) FROM inbound_mails`); n != 0 {
		t.Fatalf("%d mails stored from refused deliveries", n)
	}
	if err := lmtpDeliver(t, ln.Addr().String(), "pat@example.test", []string{"help+anything@portico.test"}, raw); err != nil {
		t.Fatal(err)
	}
	if n := ts.count(`SELECT count(*) FROM inbound_mails WHERE source = 'lmtp' AND inbox_id = $1 AND status = 'received'`, inbox); n != 1 {
		t.Fatalf("%d mails stored, want 1 waiting for its job", n)
	}
}
