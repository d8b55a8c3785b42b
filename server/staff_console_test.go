package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store"
)

// TestInboxStageMenuOwnPipeline: the inbox's Stage menu offers only the stages of the ticket's
// own pipeline, and a stage of another pipeline posted anyway is refused (422, the message
// beside the menu, the ticket unchanged), by htmx and by a plain form alike.
func TestInboxStageMenuOwnPipeline(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	sales, err := ts.Store.PipelineCreate(ctx, store.CLIEditor, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	won, err := ts.Store.StageCreate(ctx, store.CLIEditor, sales, "Won", true)
	if err != nil {
		t.Fatal(err)
	}
	tid := itoa(f.fx.AliceOpen)
	var before int64
	if err := ts.Pool.QueryRow(ctx, `SELECT stage_id FROM tickets WHERE id = $1`, f.fx.AliceOpen).Scan(&before); err != nil {
		t.Fatal(err)
	}

	_, doc := f.agent.get("/admin/inbox/"+tid, false)
	opts := texts(doc, "#stage option")
	if len(opts) == 0 {
		t.Fatal("no Stage menu on the ticket page")
	}
	for _, o := range opts {
		if strings.Contains(o, "Won") || strings.Contains(o, "Sales") {
			t.Errorf("Stage menu offers %q, a stage of another pipeline (all: %q)", o, opts)
		}
	}
	if !contains(opts, "New") {
		t.Errorf("Stage menu %q lacks the Support pipeline's New", opts)
	}

	for _, hx := range []bool{true, false} {
		resp, doc := f.agent.post("/admin/inbox/"+tid+"/stage", url.Values{"stage": {itoa(won)}}, hx)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("htmx=%v: another pipeline's stage: status %d, want 422", hx, resp.StatusCode)
		}
		if msg := strings.TrimSpace(doc.Find("#stage-error").Text()); msg != "Choose a stage of this ticket's pipeline." {
			t.Errorf("htmx=%v: stage error = %q", hx, msg)
		}
		if v, _ := doc.Find("#stage").Attr("aria-describedby"); v != "stage-error" {
			t.Errorf("htmx=%v: the Stage menu is not tied to its error (aria-describedby %q)", hx, v)
		}
		var now int64
		ts.Pool.QueryRow(ctx, `SELECT stage_id FROM tickets WHERE id = $1`, f.fx.AliceOpen).Scan(&now)
		if now != before {
			t.Errorf("htmx=%v: the refused stage was stored (%d → %d)", hx, before, now)
		}
	}
	// The store refuses it too (the JSON API shares it).
	var ve *store.ValidationError
	if err := ts.Store.InboxTicketSetStage(ctx, f.fx.AliceOpen, won); !errors.As(err, &ve) || ve.Fields["stage"] != "StageOtherPipeline" {
		t.Errorf("store: %v", err)
	}
	// A stage of its own pipeline still moves it.
	var closedStage int64
	ts.Pool.QueryRow(ctx, `SELECT s.id FROM stages s JOIN tickets t ON t.pipeline_id = s.pipeline_id WHERE t.id = $1 AND s.is_closed LIMIT 1`, f.fx.AliceOpen).Scan(&closedStage)
	if resp, _ := f.agent.post("/admin/inbox/"+tid+"/stage", url.Values{"stage": {itoa(closedStage)}}, true); resp.StatusCode != http.StatusOK {
		t.Errorf("own pipeline's stage: %d", resp.StatusCode)
	}
}

// TestInboxSplitView: a ticket's URL renders the list and the ticket together (the list in the
// state the query string names, the ticket marked current, a way back to the list); htmx into
// the detail pane gets the pane's content with the page title; a list request made while a
// ticket is shown keeps the ticket in the pushed URL.
func TestInboxSplitView(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	tid := itoa(f.fx.AliceOpen)

	_, doc := f.agent.get("/admin/inbox/"+tid+"?q=printer", false)
	if doc.Find("#inbox-split.has-ticket #inbox-list").Length() != 1 || doc.Find("#inbox-detail #inbox-ticket").Length() != 1 {
		t.Fatal("a ticket's URL does not render the list and the ticket together")
	}
	if v := doc.Find("#f-q").AttrOr("value", ""); v != "printer" {
		t.Errorf("the list's search = %q, want the URL's printer", v)
	}
	cur := doc.Find("#inbox-list a[aria-current]")
	if cur.Length() != 1 || cur.AttrOr("data-ticket", "") != tid {
		t.Errorf("current rows: %d (ticket %q), want ticket %s", cur.Length(), cur.AttrOr("data-ticket", ""), tid)
	}
	if href := cur.AttrOr("href", ""); href != "/admin/inbox/"+tid+"?q=printer" {
		t.Errorf("row link %q does not carry the list's state", href)
	}
	if back := doc.Find("#inbox-back").AttrOr("href", ""); back != "/admin/inbox?q=printer" {
		t.Errorf("back link = %q", back)
	}

	// The list alone: no ticket, the placeholder instead.
	_, doc = f.agent.get("/admin/inbox", false)
	if doc.Find("#inbox-split.has-ticket").Length() != 0 || doc.Find("#inbox-placeholder").Length() != 1 {
		t.Error("the list page shows a ticket pane")
	}
	if doc.Find("#shortcuts-dialog").Length() != 1 {
		t.Error("no keyboard shortcuts dialog on the inbox")
	}

	// htmx into the detail pane.
	req := httptest.NewRequest(http.MethodGet, "/admin/inbox/"+tid+"?q=printer", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Target", "inbox-detail")
	resp := f.agent.do(req)
	doc = parse(t, resp)
	if resp.StatusCode != http.StatusOK || doc.Find("#inbox-ticket").Length() != 1 || doc.Find("#inbox-list").Length() != 0 {
		t.Errorf("detail fragment: %d, ticket %d, list %d", resp.StatusCode, doc.Find("#inbox-ticket").Length(), doc.Find("#inbox-list").Length())
	}
	if title := doc.Find("title").Text(); !strings.HasPrefix(title, "Printer on fire · ") {
		t.Errorf("detail fragment title = %q", title)
	}
	if resp.Header.Get("Vary") == "" {
		t.Error("the ticket page does not vary by HX-Request")
	}

	// A new list state while a ticket is open keeps the ticket in the URL.
	req = httptest.NewRequest(http.MethodGet, "/admin/inbox?q=vpn", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Current-URL", "http://example.test/admin/inbox/"+tid+"?q=printer")
	resp = f.agent.do(req)
	resp.Body.Close()
	if got := resp.Header.Get("HX-Push-Url"); got != "/admin/inbox/"+tid+"?q=vpn" {
		t.Errorf("pushed URL = %q", got)
	}
	req = httptest.NewRequest(http.MethodGet, "/admin/inbox?q=vpn", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Current-URL", "http://example.test/admin/inbox?q=printer")
	resp = f.agent.do(req)
	resp.Body.Close()
	if got := resp.Header.Get("HX-Push-Url"); got != "" {
		t.Errorf("pushed URL from the list = %q, want none (hx-push-url's own)", got)
	}
}
