package store_test

import (
	"context"
	"encoding/base64"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// Both search plans (direct for rare terms, walking for common ones) find the same tickets and
// never cross the viewer's scope.
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
	for _, limit := range []int{-1, 1000, 2} { // walk, direct, and "every term is common"
		walk := 2000
		if limit > 0 {
			walk = 1 // every scope is "large"
		}
		store.SetSearchLimits(t, walk, max(limit, 0))
		if n := count("printer"); n != 6 { // 5 jams + "Printer on fire"
			t.Errorf("limit %d: printer → %d", limit, n)
		}
		if n := count("PAPER every"); n != 5 {
			t.Errorf("limit %d: message text → %d", limit, n)
		}
		if n := count("zebra"); n != 0 {
			t.Errorf("limit %d: Carol's message text found", limit)
		}
		if n := count("100%_"); n != 0 {
			t.Errorf("limit %d: LIKE wildcards not escaped", limit)
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
