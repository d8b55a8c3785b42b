package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// serve starts the test server on a real port and returns its base URL.
func (ts *testServer) serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.App.Listener(ln)
	t.Cleanup(func() { ts.Shutdown(time.Second) })
	select {
	case <-ts.Handlers.Live.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("live updates never subscribed")
	}
	return "http://" + ln.Addr().String()
}

// openEvents opens the ticket's event stream with the client's cookies and returns a channel of
// event names.
func openEvents(t *testing.T, base string, c *client, path string) (int, <-chan string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan string, 16)
	if resp.StatusCode != 200 {
		resp.Body.Close()
		close(events)
		return resp.StatusCode, events
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
	}()
	return 200, events
}

func waitEvent(t *testing.T, events <-chan string, what string) {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok || e != "changed" {
			t.Fatalf("%s: got %q (open %v)", what, e, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no event within 5 s", what)
	}
}

// TestLiveUpdatesAcrossInstances: a reply posted on instance A reaches a page streamed by
// instance B; the stream is scoped by the viewer.
func TestLiveUpdatesAcrossInstances(t *testing.T) {
	pool := storetest.NewDB(t)
	a := newTestServer(t, pool)
	b := newTestServerWithPrefix(t, pool, a.prefix) // one deployment: shared sessions and notices
	fx := storetest.MustStandard(t, pool)
	baseB := b.serve(t)

	alice := a.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	status, events := openEvents(t, baseB, alice, ticketPath(fx.AliceOpen)+"/events")
	if status != 200 {
		t.Fatalf("events on B: %d", status)
	}
	waitEvent(t, events, "sync on connect")

	// Bob (same company, own mode) and Carol may not subscribe.
	for _, email := range []string{fx.BobEmail, fx.CarolEmail} {
		other := a.client()
		other.signIn(email, fx.Password)
		if st, _ := openEvents(t, baseB, other, ticketPath(fx.AliceOpen)+"/events"); st != http.StatusNotFound {
			t.Errorf("%s subscribing to Alice's ticket: %d", email, st)
		}
	}

	_, page := alice.get(ticketPath(fx.AliceOpen), false)
	after := page.Find("#after-id").AttrOr("value", "")
	if resp, _ := alice.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"posted on A"}}, true); resp.StatusCode != 200 {
		t.Fatalf("reply on A: %d", resp.StatusCode)
	}
	waitEvent(t, events, "reply posted on A")
	// What the page then fetches (from B) is the new message, and only public ones.
	if _, err := pool.Exec(context.Background(), `INSERT INTO messages (conversation_id, ticket_id, kind, body)
		SELECT id, ticket_id, 'internal_note', 'LIVE-SECRET' FROM conversations WHERE ticket_id = $1`, fx.AliceOpen); err != nil {
		t.Fatal(err)
	}
	aliceOnB := &client{ts: b, cookies: alice.cookies}
	_, doc := aliceOnB.get(ticketPath(fx.AliceOpen)+"/messages?after="+after, true)
	got := texts(doc, ".message .message-body")
	if len(got) != 1 || got[0] != "posted on A" {
		t.Fatalf("changes fetched from B: %q", got)
	}
	// Closing (a stage change) notifies too.
	if resp, _ := alice.post(ticketPath(fx.AliceOpen)+"/close", nil, true); resp.StatusCode >= 400 {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	waitEvent(t, events, "ticket closed")
	_, doc = aliceOnB.get(ticketPath(fx.AliceOpen)+"/messages?after="+after, true)
	if s := strings.TrimSpace(doc.Find("#ticket-status").Text()); s != "Closed" {
		t.Errorf("status after close = %q", s)
	}
}
