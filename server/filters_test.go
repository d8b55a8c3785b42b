package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"portico/sql/store/storetest"
)

// TestTicketFiltersOnEveryPath: a ticket outside the admin's filter rules is invisible on every
// customer path, in both permission modes, while the ones inside stay reachable.
func TestTicketFiltersOnEveryPath(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	// Bob's ticket gets priority high and a region property; Alice's open one priority low.
	ts.Pool.Exec(ctx, `UPDATE tickets SET priority = 'High', properties = '{"region": "EU"}' WHERE id = $1`, fx.BobT)
	ts.Pool.Exec(ctx, `UPDATE tickets SET priority = 'low' WHERE id = $1`, fx.AliceOpen)
	var attID int64
	if err := ts.Pool.QueryRow(ctx, `INSERT INTO attachments (message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key)
		SELECT id, ticket_id, 'a.txt', 'text/plain', 1, 'x', 'missing' FROM messages WHERE ticket_id = $1 AND kind = 'public' LIMIT 1 RETURNING id`, fx.AliceOpen).Scan(&attID); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"colour is red", "priority equals high", "priority is high, low", "pipeline is"} {
		if err := ts.Store.SettingSet(ctx, "ticket_filters", bad); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
	cases := []struct {
		rules         string
		mode          string
		visible, gone []int64
	}{
		{"priority is none of low", "company", []int64{fx.BobT, fx.AliceClosed}, []int64{fx.AliceOpen}},
		{"priority is any of HIGH, urgent\npipeline is Support", "company", []int64{fx.BobT}, []int64{fx.AliceOpen, fx.AliceClosed}},
		{"property.region is not EU", "company", []int64{fx.AliceOpen, fx.AliceClosed}, []int64{fx.BobT}},
		{"pipeline is Billing", "own", nil, []int64{fx.AliceOpen, fx.AliceClosed}},
		{"stage is not Closed", "own", []int64{fx.AliceOpen}, []int64{fx.AliceClosed}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%q", tc.mode, tc.rules), func(t *testing.T) {
			if err := ts.Store.SettingSet(ctx, "ticket_filters", tc.rules); err != nil {
				t.Fatal(err)
			}
			ts.Store.SettingSet(ctx, "ticket_permissions", tc.mode)
			c := ts.client()
			c.signIn(fx.AliceEmail, fx.Password)
			_, doc := c.get("/tickets?status=all", false)
			rows := doc.Find("#tickets-table tbody tr").Length()
			if rows != len(tc.visible) {
				t.Errorf("list shows %d rows, want %d", rows, len(tc.visible))
			}
			for _, id := range tc.visible {
				if resp, _ := c.get(ticketPath(id), false); resp.StatusCode != 200 {
					t.Errorf("visible ticket %d: %d", id, resp.StatusCode)
				}
			}
			for _, id := range tc.gone {
				if resp, _ := c.get(ticketPath(id), false); resp.StatusCode != http.StatusNotFound {
					t.Errorf("filtered ticket %d detail: %d", id, resp.StatusCode)
				}
				if resp, _ := c.post(ticketPath(id)+"/replies", url.Values{"body": {"x"}}, true); resp.StatusCode != http.StatusNotFound {
					t.Errorf("filtered ticket %d reply: %d", id, resp.StatusCode)
				}
				if resp, _ := c.get(ticketPath(id)+"/messages?after=0", true); resp.StatusCode != http.StatusNotFound {
					t.Errorf("filtered ticket %d changes: %d", id, resp.StatusCode)
				}
				if resp, _ := c.get(ticketPath(id)+"/events", false); resp.StatusCode != http.StatusNotFound {
					t.Errorf("filtered ticket %d events: %d", id, resp.StatusCode)
				}
			}
			for _, id := range tc.gone {
				if id == fx.AliceOpen {
					resp := c.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", attID), nil))
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("attachment of a filtered ticket: %d", resp.StatusCode)
					}
				}
			}
			_, doc = c.get("/tickets?q=printer", true)
			for _, id := range tc.gone {
				if id == fx.AliceOpen && doc.Find("#tickets-table tbody tr").Length() != 0 {
					t.Error("search finds a filtered ticket")
				}
			}
		})
	}
}
