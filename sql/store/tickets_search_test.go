package store_test

import (
	"context"
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
