package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestViewerMatrix is the permission model tested at the store, next to the HTTP scope tests:
// every ticket permission mode × contact (with a company, another of the same company, of
// another company, without a company) × requested view (mine, org, shared, default) × admin
// ticket filter × whether participants may reply, through every Viewer-scoped read (list,
// search by subject and by message text, status filter, detail, TicketVisible, live changes,
// participant list) and write (reply, close). Participants (issue 16.1): Carol of Globex is a
// participant of Alice's open Acme ticket, Dan (no company) of Bob's. The expected answer comes from the
// model written out in Go (ARCHITECTURE.md "The permission model"), not from the SQL.
func TestViewerMatrix(t *testing.T) {
	pool := storetest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	fx := storetest.MustStandard(t, pool)
	dan := storetest.MustContact(t, pool, "dan@nowhere.test", "Dan Nocompany", 0, "")
	danT := storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Dan's own question", Body: "A question without a company.", RequesterID: dan})
	// Bob's ticket is urgent: the filter "priority is not urgent" hides it from everyone.
	if _, err := pool.Exec(ctx, `UPDATE tickets SET priority = 'Urgent' WHERE id = $1`, fx.BobT); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO ticket_participants (ticket_id, contact_id, added_via) VALUES ($1, $2, 'agent'), ($3, $4, 'agent')`,
		fx.AliceOpen, fx.Carol, fx.BobT, dan); err != nil {
		t.Fatal(err)
	}
	participants := map[int64]int64{fx.AliceOpen: fx.Carol, fx.BobT: dan}
	type ticket struct {
		id, requester, company int64
		subject, body          string
		urgent, closed         bool
	}
	tickets := []ticket{
		{fx.AliceOpen, fx.Alice, fx.Acme, "Printer on fire", "The printer is on fire.", false, false},
		{fx.AliceClosed, fx.Alice, fx.Acme, "Invoice copy", "Please send invoice 42.", false, true},
		{fx.BobT, fx.Bob, fx.Acme, "VPN keeps dropping", "Since Monday the VPN drops.", true, false},
		{fx.CarolT, fx.Carol, fx.Globex, "Globex payroll export", "Payroll export fails with zebra error.", false, false},
		{danT, dan, 0, "Dan's own question", "A question without a company.", false, false},
	}
	contacts := []struct {
		name        string
		id, company int64
	}{{"alice", fx.Alice, fx.Acme}, {"bob", fx.Bob, fx.Acme}, {"carol", fx.Carol, fx.Globex}, {"dan", dan, 0}}
	filters := map[string][]store.FilterRule{
		"no filter":      nil,
		"not urgent":     {{Field: "priority", Op: "is_not", Values: []string{"urgent"}}},
		"support only":   {{Field: "pipeline", Op: "is", Values: []string{"support"}}},
		"other pipeline": {{Field: "pipeline", Op: "any_of", Values: []string{"Sales", "Billing"}}},
	}
	passes := func(name string, tk ticket) bool {
		switch name {
		case "not urgent":
			return !tk.urgent
		case "other pipeline":
			return false
		}
		return true
	}
	// A reply must reach a ticket only where the detail does; replies are counted at the end.
	replies := 0
	for _, perm := range []string{store.PermissionsOwn, store.PermissionsCompany} {
		for _, ct := range contacts {
			for _, view := range []string{store.ViewMine, store.ViewOrg, store.ViewShared, ""} {
				for fname, rules := range filters {
					for _, partReply := range []bool{false, true} {
						settings := store.DefaultSettings()
						settings.TicketPermissions, settings.TicketFilters, settings.ParticipantsCanReply = perm, rules, partReply
						v := store.NewViewer(ct.id, ct.company, settings, view)
						t.Run(fmt.Sprintf("%s/%s/view=%q/%s/participants-reply=%v", perm, ct.name, view, fname, partReply), func(t *testing.T) {
							canOrg := perm == store.PermissionsCompany && ct.company != 0
							shared := view == store.ViewShared
							org := canOrg && view != store.ViewMine && !shared
							if v.CanSeeOrg() != canOrg || (v.View == store.ViewOrg) != org || (v.View == store.ViewShared) != shared {
								t.Fatalf("viewer %+v: can see org %v, org view %v", v, v.CanSeeOrg(), v.View == store.ViewOrg)
							}
							var wantList, wantOpen []string
							for _, tk := range tickets {
								participant := participants[tk.id] == ct.id
								holds := tk.requester == ct.id || (canOrg && tk.company == ct.company)
								inList := (!shared && !org && tk.requester == ct.id) || (org && tk.company == ct.company) || (shared && participant)
								inDetail := holds || participant
								canReply := holds || (participant && partReply)
								ok := passes(fname, tk)
								inList, inDetail, canReply, holds = inList && ok, inDetail && ok, canReply && ok, holds && ok
								if inList {
									wantList = append(wantList, tk.subject)
									if !tk.closed {
										wantOpen = append(wantOpen, tk.subject)
									}
								}
								checkOne(t, st, v, tk.id, tk.subject, tk.body, inList, inDetail, canReply, holds, &replies)
								if inDetail {
									d, err := st.TicketGetForViewer(ctx, v, tk.id)
									if err != nil {
										t.Fatal(err)
									}
									want := store.TicketAccess{Manage: holds, Reply: canReply, Participant: participant}
									if d.Access != want {
										t.Errorf("access to %q = %+v, want %+v", tk.subject, d.Access, want)
									}
								}
							}
							if got := listSubjects(t, st, v, store.TicketListParams{Status: store.StatusAll}); !sameSet(got, wantList) {
								t.Errorf("list = %q, want %q", got, wantList)
							}
							if got := listSubjects(t, st, v, store.TicketListParams{Status: store.StatusOpen}); !sameSet(got, wantOpen) {
								t.Errorf("open list = %q, want %q", got, wantOpen)
							}
						})
					}
				}
			}
		}
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE body LIKE 'matrix reply %'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != replies {
		t.Fatalf("%d matrix replies stored, %d allowed", stored, replies)
	}
	var shared int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email = 'matrix-share@elsewhere.test'`).Scan(&shared); err != nil || shared != 0 {
		t.Fatalf("a refused share left %d contacts (%v)", shared, err)
	}
}

// checkOne asserts what viewer v reaches of one ticket: found by a search for its subject and
// for its first message's text exactly when listed; detail, TicketVisible, live changes and
// the participant list exactly when inDetail, else ErrNotFound; a reply stored only when
// canReply (counted in replies); closing and sharing refused with ErrNotFound unless holds.
func checkOne(t *testing.T, st *store.Store, v store.Viewer, id int64, subject, body string, inList, inDetail, canReply, holds bool, replies *int) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{subject, body[:12]} {
		got := listSubjects(t, st, v, store.TicketListParams{Status: store.StatusAll, Q: q})
		if slices.Contains(got, subject) != inList {
			t.Errorf("search %q finds %q: %v, want %v", q, subject, !inList, inList)
		}
	}
	d, err := st.TicketGetForViewer(ctx, v, id)
	if reach(t, err) != inDetail {
		t.Errorf("detail %q: err %v, want reachable %v", subject, err, inDetail)
	}
	if err != nil && (d.Ticket.ID != 0 || len(d.Messages) != 0 || len(d.Participants) != 0 || len(d.Ticket.Fields) != 0) {
		t.Errorf("detail %q refused but carries data: %+v", subject, d)
	}
	if err := st.TicketVisible(ctx, v, id); reach(t, err) != inDetail {
		t.Errorf("TicketVisible %q: %v, want %v", subject, err, inDetail)
	}
	if _, err := st.TicketChangesForViewer(ctx, v, id, 0); reach(t, err) != inDetail {
		t.Errorf("changes %q: %v, want %v", subject, err, inDetail)
	}
	if !holds {
		anyone := store.DefaultSettings()
		anyone.TicketSharing = store.SharingAnyone
		if _, err := st.TicketShareForViewer(ctx, v, anyone, id, "matrix-share@elsewhere.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("share %q without holding it: %v, want ErrNotFound", subject, err)
		}
		if err := st.TicketCloseForViewer(ctx, v, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("close %q without holding it: %v, want ErrNotFound", subject, err)
		}
	}
	if !canReply {
		if _, err := st.TicketReplyCreate(ctx, v, id, "matrix reply refused", store.ReplyOptions{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("reply to %q out of scope: %v, want ErrNotFound", subject, err)
		}
	} else if _, err := st.TicketReplyCreate(ctx, v, id, fmt.Sprintf("matrix reply %d", *replies), store.ReplyOptions{}); err == nil {
		*replies++
	} else if !errors.Is(err, store.ErrConflict) { // a closed ticket refuses replies by setting
		t.Errorf("reply to %q in scope: %v", subject, err)
	}
}

// reach reports whether err means found (nil) rather than ErrNotFound; other errors fail.
func reach(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unexpected error: %v", err)
	}
	return err == nil
}

// listSubjects returns the subjects of every page of the viewer's listing.
func listSubjects(t *testing.T, st *store.Store, v store.Viewer, p store.TicketListParams) []string {
	t.Helper()
	var out []string
	for range 10 {
		page, err := st.TicketListForViewer(context.Background(), v, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			out = append(out, r.Subject)
		}
		if page.NextCursor == "" {
			return out
		}
		p.Cursor = page.NextCursor
	}
	t.Fatal("more than 10 pages")
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
