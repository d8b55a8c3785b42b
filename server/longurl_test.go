package server

import (
	"net/http"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestLongSearchLink: a search link with a 5,000-character query string (pasted text, a long
// cursor) gets the ticket list, not fasthttp's bare 431 page; the search keeps its first 200
// characters.
func TestLongSearchLink(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	resp, doc := c.get("/tickets?q="+strings.Repeat("printer+", 625), false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /tickets with a 5,000-character query: %d, want 200", resp.StatusCode)
	}
	if v, _ := doc.Find(`input[name="q"]`).Attr("value"); len([]rune(v)) != 200 {
		t.Errorf("search box keeps %d characters, want 200", len([]rune(v)))
	}
}
