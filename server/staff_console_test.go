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

// TestFormBuilderSavesAllFieldsAtOnce: the builder is one form for every field (no Save per
// field); a save with several bad inputs names every one beside its input, keeps everything typed
// and stores nothing; a good save stores every field in one audit row; a move button saves the
// edits and moves the field.
func TestFormBuilderSavesAllFieldsAtOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	var inbox, pipeline int64
	ts.Pool.QueryRow(ctx, `SELECT (SELECT id FROM inboxes WHERE is_default), (SELECT id FROM pipelines ORDER BY id LIMIT 1)`).Scan(&inbox, &pipeline)
	formID, err := ts.Store.SupportFormCreate(ctx, 0, "Returns", inbox, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SupportFormFieldAdd(ctx, 0, formID, store.FormField{Property: store.FormPriority}); err != nil {
		t.Fatal(err)
	}
	base := "/admin/forms/" + itoa(formID)
	_, doc := f.admin.get(base, false)
	ids := formFieldIDs(doc)
	if len(ids) != 3 {
		t.Fatalf("fields: %v", ids)
	}
	subject, desc, prio := strings.TrimPrefix(ids[0], "field-"), strings.TrimPrefix(ids[1], "field-"), strings.TrimPrefix(ids[2], "field-")
	if doc.Find("#fields-form").Length() != 1 || doc.Find(".field-edit, [id$=-save]").Not("#fields-save, #fields-save-top, #form-settings-save, #form-portal-save").Length() != 0 {
		t.Error("the builder still has a form or a Save button per field")
	}
	if n := doc.Find(`[form="fields-form"][name^="label-"]`).Length(); n != 3 {
		t.Errorf("label inputs in the one form: %d, want 3", n)
	}
	if doc.Find("#field-"+prio+"-remove[open]").Length() != 0 || doc.Find("details#field-"+prio+"-remove #field-"+prio+"-remove-yes").Length() != 1 {
		t.Error("removing a field has no confirmation step")
	}
	labels := func() map[string]string {
		out := map[string]string{}
		rows, _ := ts.Pool.Query(ctx, `SELECT id::text, label FROM support_form_fields WHERE form_id = $1`, formID)
		for rows.Next() {
			var id, l string
			rows.Scan(&id, &l)
			out[id] = l
		}
		return out
	}
	all := func(subj, d, p, pChoices string) url.Values {
		return url.Values{"label-" + subject: {subj}, "required-" + subject: {"true"}, "label-" + desc: {d}, "help-" + desc: {"Tell us more."},
			"label-" + prio: {p}, "choices-" + prio: {pChoices}}
	}
	// Two bad inputs and one good: every message, nothing stored, all typed text kept.
	resp, doc := f.admin.post(base+"/field-settings", all("Good subject", strings.Repeat("L", 101), "Urgency", "whenever"), false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad save: %d", resp.StatusCode)
	}
	for _, sel := range []string{"#field-" + desc + "-label-error", "#field-" + prio + "-choices-error"} {
		if doc.Find(sel).Length() != 1 {
			t.Errorf("bad save: no %s", sel)
		}
	}
	if v := doc.Find("#field-"+subject+"-label").AttrOr("value", ""); v != "Good subject" {
		t.Errorf("bad save lost the good field's text: %q", v)
	}
	if v := strings.TrimSpace(doc.Find("#field-" + prio + "-choices").Text()); v != "whenever" {
		t.Errorf("bad save lost the typed choices: %q", v)
	}
	if got := labels(); got[subject] == "Good subject" {
		t.Error("a refused save stored the good field")
	}
	// A good save stores every field, one audit row.
	var auditBefore, auditAfter int
	ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1`, "support_form:"+itoa(formID)).Scan(&auditBefore)
	resp, _ = f.admin.post(base+"/field-settings", all("What is it about?", "Details", "Urgency", "high\nurgent"), false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("good save: %d", resp.StatusCode)
	}
	ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1`, "support_form:"+itoa(formID)).Scan(&auditAfter)
	if got := labels(); got[subject] != "What is it about?" || got[desc] != "Details" || got[prio] != "Urgency" {
		t.Errorf("after the save: %v", got)
	}
	if auditAfter != auditBefore+1 {
		t.Errorf("audit rows for one save: %d", auditAfter-auditBefore)
	}
	// A move button saves the edits and moves the field.
	v := all("What is it about?", "Details", "Priority please", "high")
	v.Set("move", prio+":up")
	if resp, _ := f.admin.post(base+"/field-settings", v, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("move: %d", resp.StatusCode)
	}
	_, doc = f.admin.get(base, false)
	if got := formFieldIDs(doc); len(got) != 3 || got[1] != "field-"+prio {
		t.Errorf("order after moving up: %v", got)
	}
	if got := labels(); got[prio] != "Priority please" {
		t.Errorf("the move lost the edit: %q", got[prio])
	}
}
