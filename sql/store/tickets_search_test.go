package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// Every search plan (the bounded walk, direct for rare terms, the unbounded walk for common ones)
// finds the same tickets, pages through them alike, and never crosses the viewer's scope.
func TestSearchPlansAgreeAndStayInScope(t *testing.T) {
	pool := storetest.NewDB(t)
	s := store.New(pool)
	fx := storetest.MustStandard(t, pool)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Printer jam", Body: "paper everywhere", RequesterID: fx.Bob, CompanyID: fx.Acme})
		storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: "Globex printer", Body: "paper everywhere", RequesterID: fx.Carol, CompanyID: fx.Globex})
	}
	st := store.DefaultSettings()
	st.TicketPermissions = store.PermissionsCompany
	alice := store.NewViewer(fx.Alice, fx.Acme, st, store.ViewOrg)
	count := func(q string) int {
		p, err := s.TicketListForViewer(ctx, alice, store.TicketListParams{Q: q, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rows {
			if r.Subject == "Globex printer" || r.Subject == "Globex payroll export" {
				t.Fatalf("search %q crossed into Globex", q)
			}
		}
		return len(p.Rows)
	}
	// pages follows the cursors of a 2-row listing of q, both ways, and returns the ids seen.
	pages := func(q, sort string) []int64 {
		var ids []int64
		cur := ""
		for i := 0; ; i++ {
			p, err := s.TicketListForViewer(ctx, alice, store.TicketListParams{Q: q, Limit: 2, Sort: sort, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Rows {
				ids = append(ids, r.ID)
			}
			if p.NextCursor == "" || i > 20 {
				back, err := s.TicketListForViewer(ctx, alice, store.TicketListParams{Q: q, Limit: 2, Sort: sort, Cursor: p.PrevCursor})
				if err != nil {
					t.Fatal(err)
				}
				if p.PrevCursor != "" && len(back.Rows) == 0 {
					t.Errorf("%s: the page before the last is empty", q)
				}
				return ids
			}
			cur = p.NextCursor
		}
	}
	var want map[string][]int64
	// The bounded walk whole (a small scope), the bounded walk filling a page in a "large" one
	// (budget 3), direct, and "every term is common" (an unbounded walk).
	for _, lim := range []struct{ walk, direct int }{{2000, 0}, {3, 0}, {1, 1000}, {1, 2}} {
		walk, limit := lim.walk, lim.direct
		store.SetSearchLimits(t, walk, limit)
		got := map[string][]int64{}
		for _, sort := range []string{"-activity", "subject", "-requester"} {
			got[sort] = pages("printer", sort)
			if len(got[sort]) != 6 {
				t.Errorf("walk %d, direct %d, sort %s: paging printer saw %v", walk, limit, sort, got[sort])
			}
		}
		if want == nil {
			want = got
		} else if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("walk %d, direct %d: pages %v, want %v (the small-scope walk's)", walk, limit, got, want)
		}
		if n := count("printer"); n != 6 { // 5 jams + "Printer on fire"
			t.Errorf("walk %d, direct %d: printer → %d", walk, limit, n)
		}
		if n := count("PAPER every"); n != 5 {
			t.Errorf("walk %d, direct %d: message text → %d", walk, limit, n)
		}
		if n := count("zebra"); n != 0 {
			t.Errorf("walk %d, direct %d: Carol's message text found", walk, limit)
		}
		if n := count("100%_"); n != 0 {
			t.Errorf("walk %d, direct %d: LIKE wildcards not escaped", walk, limit)
		}
	}
}

// A hand-made cursor with a key of the wrong type falls back to the first page, never an error.
func TestForgedCursorIsFirstPage(t *testing.T) {
	pool := storetest.NewDB(t)
	s := store.New(pool)
	fx := storetest.MustStandard(t, pool)
	v := store.NewViewer(fx.Alice, fx.Acme, store.DefaultSettings(), "")
	for _, sort := range []string{"-activity", "status", "subject"} {
		for _, key := range []string{"x", "2026-13-45", "\x00", "\xc3\x28", "tru"} {
			if sort == "subject" && (key == "x" || key == "tru" || key == "2026-13-45") {
				continue // valid text keys: a real position
			}
			raw := "a" + sort + "\x00" + key + "\x00" + "1"
			cur := base64.RawURLEncoding.EncodeToString([]byte(raw))
			p, err := s.TicketListForViewer(context.Background(), v, store.TicketListParams{Sort: sort, Cursor: cur})
			if err != nil {
				t.Fatalf("sort %s key %q: %v", sort, key, err)
			}
			if len(p.Rows) == 0 {
				t.Errorf("sort %s key %q: empty page", sort, key)
			}
		}
	}
}
