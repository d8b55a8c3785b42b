package inbound

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/sql/store"
)

type reported struct {
	n           int
	where, what string
}

func (e *env) importer(reports *[]reported) *Importer {
	return &Importer{Store: e.s, Processor: e.p, InboxID: e.inbox, Address: "support@portico.test",
		Report: func(n int, where, msg string) { *reports = append(*reports, reported{n, where, msg}) }}
}

func (e *env) ticketOf(messageID string) int64 {
	e.t.Helper()
	var id int64
	if err := e.s.Pool.QueryRow(context.Background(), `SELECT ticket_id FROM messages WHERE email_message_id = $1`, messageID).Scan(&id); err != nil {
		e.t.Fatalf("message %s: %v", messageID, err)
	}
	return id
}

// thread returns the messages of a ticket in display order as "author-kind:Message-ID@time".
func (e *env) thread(ticketID int64) []string {
	e.t.Helper()
	rows, err := e.s.Pool.Query(context.Background(), `SELECT CASE WHEN author_contact_id IS NULL THEN 'staff' ELSE 'customer' END,
			coalesce(email_message_id, '-'), created_at FROM messages WHERE ticket_id = $1 ORDER BY created_at, id`, ticketID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var who, mid string
		var at time.Time
		if err := rows.Scan(&who, &mid, &at); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%s@%s", who, mid, at.UTC().Format("01-02 15:04")))
	}
	return out
}

// TestImportMbox: an mbox with a thread of three (customer, the inbox's own reply, customer),
// a reply chain stored out of order (the last reply first in the file), a message without From,
// another company's contact answering the first thread, and a mail without Message-ID becomes
// tickets with the live threading rules, each message at its Date, the inbox's mails as staff
// replies; ">From " quoting is undone; nothing is mailed; the broken message is reported with
// its number and offset and the rest still loads; a second run adds nothing.
func TestImportMbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data, err := os.ReadFile("testdata/history/support.mbox")
	if err != nil {
		t.Fatal(err)
	}
	var reports []reported
	im := e.importer(&reports)
	sum, err := im.Mbox(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := ImportSummary{Messages: 9, Imported: 8, NewTickets: 4, Bad: 1}
	if sum != want {
		t.Fatalf("summary %+v, want %+v (reports %v)", sum, want, reports)
	}
	// Message 6 has no From; its offset is where its "From " separator line starts.
	sixth := -1
	for i, n := 0, 0; i < len(data); i++ {
		if (i == 0 || data[i-1] == '\n') && bytes.HasPrefix(data[i:], []byte("From ")) {
			if n++; n == 6 {
				sixth = i
				break
			}
		}
	}
	if len(reports) != 1 || reports[0].n != 6 || reports[0].where != fmt.Sprintf("offset %d", sixth) || !strings.Contains(reports[0].what, "From") {
		t.Fatalf("reports %+v, want message 6 at offset %d without From", reports, sixth)
	}

	// The first thread: customer, staff (the inbox's own mail), customer, each at its Date.
	ta := e.ticketOf("a1@acme.test")
	if got, want := strings.Join(e.thread(ta), " "), "customer:a1@acme.test@03-01 09:00 staff:s1@portico.test@03-01 10:00 customer:a2@acme.test@03-02 08:00"; got != want {
		t.Fatalf("thread A = %s\nwant      %s", got, want)
	}
	var subject, channel string
	var requester int64
	var created, activity time.Time
	var closed bool
	if err := e.s.Pool.QueryRow(ctx, `SELECT subject, channel, requester_id, created_at, last_activity_at, is_closed FROM tickets WHERE id = $1`, ta).
		Scan(&subject, &channel, &requester, &created, &activity, &closed); err != nil {
		t.Fatal(err)
	}
	if subject != "Printer offline" || channel != "email" || requester != e.std.Alice || closed ||
		!created.Equal(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)) || !activity.Equal(time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("ticket A: %q %s requester %d created %v activity %v closed %t", subject, channel, requester, created, activity, closed)
	}
	var first, staffBody, reply, staffFrom string
	_ = e.s.Pool.QueryRow(ctx, `SELECT body FROM messages WHERE email_message_id = 'a1@acme.test'`).Scan(&first)
	_ = e.s.Pool.QueryRow(ctx, `SELECT body, email_from FROM messages WHERE email_message_id = 's1@portico.test'`).Scan(&staffBody, &staffFrom)
	_ = e.s.Pool.QueryRow(ctx, `SELECT body FROM messages WHERE email_message_id = 'a2@acme.test'`).Scan(&reply)
	if !strings.Contains(first, "\nFrom the start it never worked") || strings.Contains(first, ">From") {
		t.Fatalf("mbox >From quoting not undone: %q", first)
	}
	if staffBody != "Please restart it and hold the Wi-Fi button for five seconds." || staffFrom != "support@portico.test" || reply != "That fixed it, thank you." {
		t.Fatalf("trimmed bodies: staff %q (from %s), reply %q", staffBody, staffFrom, reply)
	}
	// The customer sees the staff reply in the portal as the support team's answer.
	st, _ := e.s.SettingsGet(ctx)
	d, err := e.s.TicketGetForViewer(ctx, store.NewViewer(e.std.Alice, e.std.Acme, st, ""), ta)
	if err != nil || len(d.Messages) != 3 || d.Messages[1].FromCustomer || !d.Messages[0].FromCustomer {
		t.Fatalf("Alice's view: %v %+v", err, d.Messages)
	}

	// Another company's contact answering Alice's thread opens a ticket of her own.
	tc := e.ticketOf("c1@globex.test")
	if tc == ta || len(e.thread(ta)) != 3 {
		t.Fatalf("Carol's answer joined Alice's ticket")
	}
	if _, err := e.s.TicketGetForViewer(ctx, store.NewViewer(e.std.Carol, e.std.Globex, st, ""), ta); err == nil {
		t.Fatal("Carol sees Alice's imported ticket")
	}

	// The reply chain, stored last reply first, is threaded in date order.
	tb := e.ticketOf("b1@acme.test")
	if got, want := strings.Join(e.thread(tb), " "), "customer:b1@acme.test@03-05 15:30 staff:s2@portico.test@03-06 09:15 customer:b3@acme.test@03-07 12:00"; got != want {
		t.Fatalf("thread B = %s\nwant      %s", got, want)
	}
	// The mail without Message-ID: a new contact's ticket.
	var dave int
	_ = e.s.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE c.email = 'dave@example.test' AND t.subject = 'Account locked'`).Scan(&dave)
	if dave != 1 {
		t.Fatal("the mail without Message-ID made no ticket")
	}

	// History notifies nobody: no mail job of any kind; the processing jobs are the delayed
	// safety net only.
	if n := e.count(`SELECT count(*) FROM river_job WHERE kind <> 'portico_inbound_mail'`); n != 0 {
		t.Fatalf("%d mail jobs enqueued by the import", n)
	}
	if n := e.count(`SELECT count(*) FROM river_job WHERE kind = 'portico_inbound_mail' AND scheduled_at < now() + interval '23 hours'`); n != 0 {
		t.Fatalf("%d processing jobs not delayed", n)
	}
	if n := e.count(`SELECT count(*) FROM inbound_mails WHERE source = 'import' AND status = 'received'`); n != 0 {
		t.Fatalf("%d imported mails left unprocessed", n)
	}

	// Again: nothing new; the broken message is reported again.
	counts := func() string {
		return fmt.Sprint(e.count(`SELECT count(*) FROM tickets`), e.count(`SELECT count(*) FROM messages`),
			e.count(`SELECT count(*) FROM inbound_mails`), e.count(`SELECT count(*) FROM contacts`), e.count(`SELECT count(*) FROM timeline_events`))
	}
	before := counts()
	reports = nil
	sum, err = im.Mbox(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportSummary{Messages: 9, Duplicates: 8, Bad: 1}); sum != want {
		t.Fatalf("re-import %+v, want %+v", sum, want)
	}
	if after := counts(); after != before || len(reports) != 1 || reports[0].n != 6 {
		t.Fatalf("re-import changed counts %s -> %s, reports %v", before, after, reports)
	}
}

// TestImportMailHistoryDoesNotTouchLiveState: an imported old reply never reopens a closed
// ticket nor moves its activity back, a mail Portico itself sent (its Message-ID is already on
// a message) is not added twice, and imported mail does not count toward the live rate limit.
func TestImportMailHistoryDoesNotTouchLiveState(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.s.SettingsSetAudited(ctx, 0, map[string]string{"reopen_on_reply": "true"}); err != nil {
		t.Fatal(err)
	}
	_, res := e.deliver("support@portico.test", mailText("alice@acme.test", "support@portico.test", "Old thread", "live-1@acme.test", "", "Live question."))
	if _, err := e.s.Pool.Exec(ctx, `UPDATE messages SET email_message_id = 'portico-sent-1@portico.test' WHERE id = (SELECT max(id) FROM messages)`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Pool.Exec(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, body, email_message_id)
		SELECT conversation_id, ticket_id, 'public', 'Sent by Portico.', 'portico-sent-2@portico.test' FROM messages WHERE ticket_id = $1 LIMIT 1`, res.TicketID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Pool.Exec(ctx, `UPDATE tickets SET is_closed = true, closed_at = now(),
		stage_id = (SELECT id FROM stages WHERE is_closed LIMIT 1) WHERE id = $1`, res.TicketID); err != nil {
		t.Fatal(err)
	}
	var act0 time.Time
	_ = e.s.Pool.QueryRow(ctx, `SELECT last_activity_at FROM tickets WHERE id = $1`, res.TicketID).Scan(&act0)

	var b strings.Builder
	for i := 0; i < 25; i++ { // more than the live rate limit from one sender
		fmt.Fprintf(&b, "From alice@acme.test Mon Jan  1 00:00:00 2024\nFrom: alice@acme.test\nTo: support@portico.test\nSubject: Re: Old thread\n"+
			"Date: Mon, 01 Jan 2024 %02d:00:00 +0000\nMessage-ID: <hist-%d@acme.test>\nIn-Reply-To: <portico-sent-2@portico.test>\n\nOld answer %d.\n\n", i%24, i, i)
	}
	b.WriteString("From support@portico.test Mon Jan  1 00:00:00 2024\nFrom: support@portico.test\nTo: alice@acme.test\nSubject: Re: Old thread\n" +
		"Date: Mon, 01 Jan 2024 23:30:00 +0000\nMessage-ID: <portico-sent-2@portico.test>\n\nSent by Portico.\n")
	var reports []reported
	sum, err := e.importer(&reports).Mbox(ctx, strings.NewReader(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportSummary{Messages: 26, Imported: 25, Duplicates: 1}); sum != want {
		t.Fatalf("summary %+v, want %+v (%v)", sum, want, reports)
	}
	var closed bool
	var act time.Time
	_ = e.s.Pool.QueryRow(ctx, `SELECT is_closed, last_activity_at FROM tickets WHERE id = $1`, res.TicketID).Scan(&closed, &act)
	if !closed || !act.Equal(act0) {
		t.Fatalf("history reopened (%t) or moved activity %v -> %v", !closed, act0, act)
	}
	if n := e.count(`SELECT count(*) FROM messages WHERE email_message_id = 'portico-sent-2@portico.test'`); n != 1 {
		t.Fatalf("Portico's own sent mail is there %d times", n)
	}
	// A live mail from the same sender right after is not rate-limited by the import.
	_, live := e.deliver("support@portico.test", mailText("alice@acme.test", "support@portico.test", "New today", "live-2@acme.test", "", "Hello again."))
	if live.Status != store.InboundProcessed {
		t.Fatalf("live mail after the import: %+v", live)
	}
}

// TestImportMaildir: a Maildir's cur/ and new/ messages become a thread (the reply in new/),
// the mailbox is left as it was (nothing moved from new/ to cur/), and a second run adds
// nothing.
func TestImportMaildir(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, raw []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	q := mailText("Alice Archer <alice@acme.test>", "support@portico.test", "Badge reader", "m1@acme.test", "", "The badge reader at gate 3 beeps red.")
	q = bytes.Replace(q, []byte("Tue, 1 Dec 2026 10:00:00"), []byte("Mon, 4 Mar 2024 08:00:00"), 1)
	r := mailText("support@portico.test", "alice@acme.test", "Re: Badge reader", "m2@portico.test", "m1@acme.test", "We re-enrolled your badge.")
	r = bytes.Replace(r, []byte("Tue, 1 Dec 2026 10:00:00"), []byte("Mon, 4 Mar 2024 09:00:00"), 1)
	a := mailText("alice@acme.test", "support@portico.test", "Re: Badge reader", "m3@acme.test", "m2@portico.test", "Works, thanks.")
	a = bytes.Replace(a, []byte("Tue, 1 Dec 2026 10:00:00"), []byte("Mon, 4 Mar 2024 10:00:00"), 1)
	write("cur/1709539200.M1P1.host:2,S", q)
	write("cur/1709542800.M2P1.host:2,RS", r)
	write("new/1709546400.M3P1.host", a)
	var reports []reported
	im := e.importer(&reports)
	var bar bytes.Buffer
	im.Progress = &bar
	sum, err := im.Maildir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bar.String(), "storing 100%") || !strings.Contains(bar.String(), "processing 100%") {
		t.Fatalf("progress bars: %q", bar.String())
	}
	im.Progress = nil
	if want := (ImportSummary{Messages: 3, Imported: 3, NewTickets: 1}); sum != want || len(reports) != 0 {
		t.Fatalf("summary %+v, want %+v (%v)", sum, want, reports)
	}
	tid := e.ticketOf("m1@acme.test")
	if got, want := strings.Join(e.thread(tid), " "), "customer:m1@acme.test@03-04 08:00 staff:m2@portico.test@03-04 09:00 customer:m3@acme.test@03-04 10:00"; got != want {
		t.Fatalf("thread = %s\nwant    %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "new/1709546400.M3P1.host")); err != nil {
		t.Fatalf("the import changed the Maildir: %v", err)
	}
	sum, err = im.Maildir(ctx, dir)
	if want := (ImportSummary{Messages: 3, Duplicates: 3}); err != nil || sum != want {
		t.Fatalf("re-import %+v %v, want %+v", sum, err, want)
	}
	if _, err := im.Maildir(ctx, t.TempDir()); err == nil {
		t.Fatal("a folder without cur/ imported")
	}
}
