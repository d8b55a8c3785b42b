package handlers

import (
	"net/url"
	"testing"

	"portico/sql/store"
)

// listQueryReference is listState.query as it was, through url.Values.
func listQueryReference(s listState, cur string) string {
	v := url.Values{}
	if s.View != "" {
		v.Set("view", s.View)
	}
	if s.Q != "" {
		v.Set("q", s.Q)
	}
	if s.Status != "" && s.Status != store.StatusAll {
		v.Set("status", s.Status)
	}
	if s.Sort != "" && s.Sort != store.DefaultTicketSort {
		v.Set("sort", s.Sort)
	}
	if cur != "" {
		v.Set("cursor", cur)
	}
	if len(v) == 0 {
		return "/tickets"
	}
	return "/tickets?" + v.Encode()
}

// TestListStateQueryMatchesURLValues: the hand-written query string is url.Values.Encode's,
// byte for byte, for every combination of state, hostile search text included.
func TestListStateQueryMatchesURLValues(t *testing.T) {
	n := 0
	for _, view := range []string{"", "org", "mine"} {
		for _, q := range []string{"", "printer", "a&b=c #1 ?x", "ünïcode + 100%_", "<script>"} {
			for _, status := range []string{"", store.StatusAll, store.StatusOpen, store.StatusClosed} {
				for _, sort := range []string{"", store.DefaultTicketSort, "subject", "-created"} {
					for _, cur := range []string{"", "YS1hY3Rpdml0eQAyMDI2LTAxLTAxADE", "a b+c"} {
						s := listState{View: view, Q: q, Status: status, Sort: sort}
						if got, want := s.query(cur), listQueryReference(s, cur); got != want {
							t.Fatalf("%+v cursor %q: %q, want %q", s, cur, got, want)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d states", n)
}
