package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestKeysetBothWays: the one query builder behind the customer list (every sort, both
// directions) and the agent inbox pages forward to the end and back to the start by the
// cursors, each page holding the rows of the full ordered listing at its place, none twice.
func TestKeysetBothWays(t *testing.T) {
	pool := storetest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	co := storetest.MustCompany(t, pool, "Paging Ltd")
	me := storetest.MustContact(t, pool, "pager@paging.test", "Pat Pager", co, "")
	now := time.Now()
	for i := range 7 {
		// Two tickets share a subject and an activity time: the id breaks the tie.
		at := now.Add(-time.Duration(i/2) * time.Hour)
		storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: fmt.Sprintf("Subject %d", i/2), Body: "body", RequesterID: me, CompanyID: co, Closed: i%3 == 0, Activity: at})
	}
	v := store.NewViewer(me, co, store.DefaultSettings(), store.ViewMine)
	for _, sort := range []string{"-activity", "activity", "subject", "-subject", "status", "-created", "requester"} {
		t.Run(sort, func(t *testing.T) {
			all, err := st.TicketListForViewer(ctx, v, store.TicketListParams{Sort: sort, Limit: 100})
			if err != nil || len(all.Rows) != 7 || all.NextCursor != "" || all.PrevCursor != "" {
				t.Fatalf("whole list: %v, %d rows, cursors %q %q", err, len(all.Rows), all.NextCursor, all.PrevCursor)
			}
			want := ids(all.Rows)
			walk(t, want, func(cursor string) ([]int64, string, string) {
				p, err := st.TicketListForViewer(ctx, v, store.TicketListParams{Sort: sort, Limit: 3, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				return ids(p.Rows), p.NextCursor, p.PrevCursor
			})
		})
	}
	t.Run("inbox", func(t *testing.T) {
		page, all, err := st.InboxTicketList(ctx, store.InboxFilter{Limit: 100})
		if err != nil || len(all) != 7 || page.NextCursor != "" {
			t.Fatalf("whole inbox: %v, %d rows", err, len(all))
		}
		want := make([]int64, len(all))
		for i, r := range all {
			want[i] = r.ID
		}
		walk(t, want, func(cursor string) ([]int64, string, string) {
			p, rows, err := st.InboxTicketList(ctx, store.InboxFilter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]int64, len(rows))
			for i, r := range rows {
				got[i] = r.ID
			}
			return got, p.NextCursor, p.PrevCursor
		})
	})
}

// walk pages through want three at a time with page(cursor) → ids, next, prev: forward from the
// first page to the last, then back to the first, checking every page's rows and cursors.
func walk(t *testing.T, want []int64, page func(string) ([]int64, string, string)) {
	t.Helper()
	pages := [][]int64{want[0:3], want[3:6], want[6:7]}
	var prevs []string
	cur := ""
	for i, w := range pages {
		got, next, prev := page(cur)
		if !slices.Equal(got, w) {
			t.Fatalf("forward page %d = %v, want %v (all %v)", i, got, w, want)
		}
		if (next == "") != (i == len(pages)-1) || (prev == "") != (i == 0) {
			t.Fatalf("forward page %d cursors next %q prev %q", i, next, prev)
		}
		prevs = append(prevs, prev)
		cur = next
	}
	cur = prevs[len(prevs)-1]
	for i := len(pages) - 2; i >= 0; i-- {
		got, next, prev := page(cur)
		if !slices.Equal(got, pages[i]) {
			t.Fatalf("backward page %d = %v, want %v", i, got, pages[i])
		}
		if next == "" || (prev == "") != (i == 0) {
			t.Fatalf("backward page %d cursors next %q prev %q", i, next, prev)
		}
		cur = prev
	}
}

func ids(rows []store.TicketRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}
