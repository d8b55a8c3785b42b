package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// shareErr returns the ValidationError message of err for field email ("" = none).
func shareErr(err error) string {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields["email"]
	}
	return ""
}

func participantIDs(t *testing.T, pool *pgxpool.Pool, ticketID int64) map[int64]bool {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT contact_id FROM ticket_participants WHERE ticket_id = $1`, ticketID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		out[id] = true
	}
	return out
}

// TestTicketSharingPolicy: the requester shares under each ticket_sharing policy; refused
// addresses leave nothing behind; a participant cannot share further; removal ends access on
// every Viewer path at once; a participant may remove only themselves.
func TestTicketSharingPolicy(t *testing.T) {
	pool := storetest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	fx := storetest.MustStandard(t, pool)
	settings := store.DefaultSettings()
	alice := store.NewViewer(fx.Alice, fx.Acme, settings, "")
	bob := store.NewViewer(fx.Bob, fx.Acme, settings, "")
	carol := store.NewViewer(fx.Carol, fx.Globex, settings, "")

	if settings.TicketSharing != store.SharingCompany || settings.ParticipantsCanReply {
		t.Fatalf("defaults: sharing %q, participants reply %v", settings.TicketSharing, settings.ParticipantsCanReply)
	}
	off := settings
	off.TicketSharing = store.SharingOff
	if _, err := st.TicketShareForViewer(ctx, alice, off, fx.AliceOpen, fx.BobEmail); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sharing off: %v", err)
	}
	// company: a colleague yes; another company's contact and an unknown address no.
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, fx.CarolEmail); shareErr(err) != "ShareNotAllowed" {
		t.Fatalf("company policy, Globex contact: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, "stranger@partner.test"); shareErr(err) != "ShareNotAllowed" {
		t.Fatalf("company policy, unknown: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, "not an address"); shareErr(err) != "EmailInvalid" {
		t.Fatalf("bad address: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, fx.BobEmail); err != nil {
		t.Fatalf("share with colleague: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, "BOB@acme.test"); shareErr(err) != "ShareAlready" {
		t.Fatalf("share twice: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, settings, fx.AliceOpen, fx.AliceEmail); shareErr(err) != "ShareAlready" {
		t.Fatalf("share with the requester: %v", err)
	}
	// domains: an address at an allowed domain becomes a contact and a participant.
	dom := settings
	dom.TicketSharing, dom.TicketSharingDomains = store.SharingDomains, []string{"@Partner.test"}
	p, err := st.TicketShareForViewer(ctx, alice, dom, fx.AliceOpen, "Pat@partner.test")
	if err != nil {
		t.Fatalf("domains policy: %v", err)
	}
	if _, err := st.TicketShareForViewer(ctx, alice, dom, fx.AliceOpen, "eve@evil.test"); shareErr(err) != "ShareNotAllowed" {
		t.Fatalf("domains policy, other domain: %v", err)
	}
	var strangers int
	pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email IN ('stranger@partner.test', 'eve@evil.test')`).Scan(&strangers)
	if strangers != 0 {
		t.Fatalf("refused shares created %d contacts", strangers)
	}
	// anyone: Carol of Globex.
	any := settings
	any.TicketSharing = store.SharingAnyone
	if _, err := st.TicketShareForViewer(ctx, alice, any, fx.AliceOpen, fx.CarolEmail); err != nil {
		t.Fatalf("anyone policy: %v", err)
	}
	if got := participantIDs(t, pool, fx.AliceOpen); len(got) != 3 || !got[fx.Bob] || !got[fx.Carol] || !got[p.ContactID] {
		t.Fatalf("participants = %v", got)
	}
	// Each new participant got a link mail (three MailTicketShared jobs).
	var mails int
	pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'portico_mail' AND args->>'template' = 'ticket_shared'`).Scan(&mails)
	if mails != 3 {
		t.Fatalf("%d share mails queued, want 3", mails)
	}
	// A participant (Carol) cannot share further, nor close, nor remove someone else.
	if _, err := st.TicketShareForViewer(ctx, carol, any, fx.AliceOpen, "x@globex.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("participant shares: %v", err)
	}
	if err := st.TicketParticipantRemoveForViewer(ctx, carol, fx.AliceOpen, fx.Bob); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("participant removes another: %v", err)
	}
	if err := st.TicketCloseForViewer(ctx, carol, fx.AliceOpen); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("participant closes: %v", err)
	}
	// Carol sees the ticket; the requester removes her; every path answers ErrNotFound at once.
	shared := store.NewViewer(fx.Carol, fx.Globex, settings, store.ViewShared)
	if page, err := st.TicketListForViewer(ctx, shared, store.TicketListParams{Status: store.StatusAll}); err != nil || len(page.Rows) != 1 {
		t.Fatalf("Carol's shared list: %v %v", page.Rows, err)
	}
	if err := st.TicketParticipantRemoveForViewer(ctx, alice, fx.AliceOpen, fx.Carol); err != nil {
		t.Fatal(err)
	}
	if page, err := st.TicketListForViewer(ctx, shared, store.TicketListParams{Status: store.StatusAll}); err != nil || len(page.Rows) != 0 {
		t.Fatalf("removed participant still lists: %v %v", page.Rows, err)
	}
	for name, err := range map[string]error{
		"detail":  func() error { _, err := st.TicketGetForViewer(ctx, carol, fx.AliceOpen); return err }(),
		"visible": st.TicketVisible(ctx, carol, fx.AliceOpen),
		"changes": func() error { _, err := st.TicketChangesForViewer(ctx, carol, fx.AliceOpen, 0); return err }(),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after removal: %v", name, err)
		}
	}
	if err := st.TicketParticipantRemoveForViewer(ctx, alice, fx.AliceOpen, fx.Carol); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	// Bob (a colleague, company mode off) leaves on his own.
	if err := st.TicketParticipantRemoveForViewer(ctx, bob, fx.AliceOpen, fx.Bob); err != nil {
		t.Fatalf("participant leaves: %v", err)
	}
	if err := st.TicketVisible(ctx, bob, fx.AliceOpen); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob still sees the ticket after leaving: %v", err)
	}
}

// TestCcBecomesParticipants: a mail from the requester with colleagues and strangers in Cc adds
// the colleagues (company policy), never the inbox's own address, a stranger, or anyone when a
// participant (not the ticket's holder) sends the mail.
func TestCcBecomesParticipants(t *testing.T) {
	pool := storetest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	fx := storetest.MustStandard(t, pool)
	dave := storetest.MustContact(t, pool, "dave@acme.test", "Dave Acme", fx.Acme, "")
	var inbox int64
	if err := pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO inbox_email (inbox_id, address, allow_new_contacts) VALUES ($1, 'support@portico.test', true)`, inbox); err != nil {
		t.Fatal(err)
	}
	deliver := func(key, from string, ticket int64, cc ...string) store.InboundResult {
		t.Helper()
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO inbound_mails (dedup_key, source, size_bytes, sha256, blob_key, inbox_id)
			VALUES ($1, 'smtp', 1, 'x', 'x', $2) RETURNING id`, key, inbox).Scan(&id); err != nil {
			t.Fatal(err)
		}
		res, err := st.InboundDeliver(ctx, store.InboundDelivery{ID: id, InboxID: inbox, FromAddr: from, TokenTicketID: ticket,
			Subject: "Cc test", Body: "body of " + key, Cc: cc})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := deliver("m1", fx.AliceEmail, fx.AliceOpen, fx.BobEmail, "support+t1-abc@portico.test", "stranger@else.test", fx.CarolEmail, fx.AliceEmail)
	if res.Status != store.InboundProcessed || res.TicketID != fx.AliceOpen {
		t.Fatalf("delivery: %+v", res)
	}
	if got := participantIDs(t, pool, fx.AliceOpen); len(got) != 1 || !got[fx.Bob] {
		t.Fatalf("participants after Cc = %v, want Bob only", got)
	}
	// Bob, a participant, writes with Dave in Cc: participants may not reply by default, so the
	// mail is held and adds nobody.
	if res := deliver("m2", fx.BobEmail, fx.AliceOpen, "dave@acme.test"); res.Status != store.InboundHeld || res.Reason != store.ReasonSenderMismatch {
		t.Fatalf("participant's mail: %+v", res)
	}
	if participantIDs(t, pool, fx.AliceOpen)[dave] {
		t.Fatal("a held mail added a participant")
	}
	// With replies allowed, Bob's mail joins the ticket, but his Cc still adds nobody.
	if err := st.SettingSet(ctx, "participants_can_reply", "true"); err != nil {
		t.Fatal(err)
	}
	if res := deliver("m3", fx.BobEmail, fx.AliceOpen, "dave@acme.test"); res.Status != store.InboundProcessed {
		t.Fatalf("participant's mail with replies allowed: %+v", res)
	}
	if participantIDs(t, pool, fx.AliceOpen)[dave] {
		t.Fatal("a participant's Cc added a participant")
	}
	// A new ticket by mail with the sharing policy "anyone": the unknown Cc becomes a contact.
	if err := st.SettingSet(ctx, "ticket_sharing", "anyone"); err != nil {
		t.Fatal(err)
	}
	res = deliver("m4", fx.CarolEmail, 0, "newbie@else.test")
	if !res.NewTicket || len(participantIDs(t, pool, res.TicketID)) != 1 {
		t.Fatalf("new ticket's Cc: %+v, participants %v", res, participantIDs(t, pool, res.TicketID))
	}
}
