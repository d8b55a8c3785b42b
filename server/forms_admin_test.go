package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// formFieldIDs returns the builder's field article ids in order ("field-12", …).
func formFieldIDs(doc *goquery.Document) []string {
	var out []string
	doc.Find("article.form-builder-field").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		out = append(out, id)
	})
	return out
}

func TestAdminBuildsSupportForm(t *testing.T) {
	ts := newTestServer(t, nil)
	std := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	mustStaff(t, ts.Pool, "admin@portico.test", "Ada Admin", "admin")
	mustStaff(t, ts.Pool, "agent@portico.test", "Agent Smith", "agent")
	pipeline, err := ts.Store.PipelineCreate(ctx, store.CLIEditor, "Returns")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := ts.Store.InboxCreate(ctx, store.CLIEditor, "Returns desk")
	if err != nil {
		t.Fatal(err)
	}

	// Agents may not build forms.
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	if resp, _ := agent.get("/admin/forms", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent GET /admin/forms: %d", resp.StatusCode)
	}

	admin := ts.client()
	admin.staffSignIn("admin@portico.test")
	resp, doc := admin.get("/admin/forms", false)
	if resp.StatusCode != 200 || doc.Find("#no-forms").Length() != 1 || doc.Find("#nav-forms").Length() != 1 {
		t.Fatalf("forms page: %d", resp.StatusCode)
	}
	// A refused create keeps the input.
	resp, doc = admin.post("/admin/forms", url.Values{"name": {""}, "inbox": {strconv.FormatInt(inbox, 10)}, "pipeline": {strconv.FormatInt(pipeline, 10)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-name").Length() != 1 {
		t.Fatalf("empty name: %d", resp.StatusCode)
	}
	resp, _ = admin.post("/admin/forms", url.Values{"name": {"Returns"}, "inbox": {strconv.FormatInt(inbox, 10)}, "pipeline": {strconv.FormatInt(pipeline, 10)}}, false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/forms/") {
		t.Fatalf("create: %d %q", resp.StatusCode, loc)
	}
	base := strings.SplitN(loc, "?", 2)[0]
	formID, _ := strconv.ParseInt(strings.TrimPrefix(base, "/admin/forms/"), 10, 64)
	_, doc = admin.get(base, false)
	if got := formFieldIDs(doc); len(got) != 2 {
		t.Fatalf("a new form has subject and description: %v", got)
	}
	subjectField, descField := formFieldIDs(doc)[0], formFieldIDs(doc)[1]

	add := func(v url.Values) (*http.Response, *goquery.Document) {
		return admin.post(base+"/fields", v, false)
	}
	if resp, _ := add(url.Values{"property": {"priority"}, "required": {"true"}, "choices": {"high\nurgent"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add priority: %d", resp.StatusCode)
	}
	if resp, _ := add(url.Values{"property": {"category"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add category: %d", resp.StatusCode)
	}
	if resp, _ := add(url.Values{"property": {"custom"}, "key": {"order_number"}, "label": {"Order number"}, "help": {"See your receipt."}, "choices": {""}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add custom: %d", resp.StatusCode)
	}
	resp, doc = add(url.Values{"property": {"custom"}, "key": {"Bad Key"}, "label": {"Kept label"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#add-key-error").Length() != 1 {
		t.Fatalf("bad custom key: %d", resp.StatusCode)
	}
	if v, _ := doc.Find("#add-label").Attr("value"); v != "Kept label" {
		t.Errorf("refused add lost the label: %q", v)
	}
	if resp, doc := add(url.Values{"property": {"priority"}}); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#add-property-error").Length() != 1 {
		t.Fatalf("duplicate priority: %d", resp.StatusCode)
	}
	if resp, doc := add(url.Values{"property": {"priority"}, "choices": {"whenever"}}); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#add-choices-error").Length() != 1 {
		t.Fatalf("priority choice outside the list: %d", resp.StatusCode)
	}
	_, doc = admin.get(base, false)
	ids := formFieldIDs(doc)
	if len(ids) != 5 {
		t.Fatalf("fields: %v", ids)
	}
	category, custom := ids[3], ids[4]

	// Reorder: the custom property moves above the category; remove the category.
	if resp, _ := admin.post(base+"/fields/"+strings.TrimPrefix(custom, "field-")+"/move", url.Values{"dir": {"up"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("move: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(base+"/fields/"+strings.TrimPrefix(category, "field-")+"/remove", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	// The subject cannot be removed; relabel it and make the description optional.
	if resp, doc := admin.post(base+"/fields/"+strings.TrimPrefix(subjectField, "field-")+"/remove", nil, false); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#"+subjectField+"-error").Length() != 1 {
		t.Fatalf("remove subject: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(base+"/fields/"+strings.TrimPrefix(subjectField, "field-"), url.Values{"label": {"What is it about?"}, "required": {"true"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("relabel subject: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(base+"/fields/"+strings.TrimPrefix(descField, "field-"), url.Values{"label": {""}, "help": {"Tell us more."}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("description optional: %d", resp.StatusCode)
	}
	resp, doc = admin.post(base+"/fields/"+strings.TrimPrefix(custom, "field-"), url.Values{"label": {strings.Repeat("L", 101)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#"+custom+"-label-error").Length() != 1 {
		t.Fatalf("too long label: %d", resp.StatusCode)
	}
	_, doc = admin.get(base, false)
	if got := formFieldIDs(doc); strings.Join(got, ",") != strings.Join([]string{subjectField, descField, ids[2], custom}, ",") {
		t.Fatalf("order after move and remove: %v", got)
	}

	// Connect it to the portal with a menu and a header text.
	if resp, _ := admin.post(base+"/portal", url.Values{"connected": {"true"}, "menu_text": {"Open a request"}, "header_text": {"How can we help?"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	_, doc = admin.get("/admin/forms", false)
	if doc.Find("#forms-table .form-connected").Length() != 1 {
		t.Fatal("the list does not show the connected form")
	}
	// Every change is audited.
	if n := countRows(t, ts, `SELECT count(*) FROM audit_log WHERE key = $1 AND staff_name = 'Ada Admin'`, "support_form:"+strconv.FormatInt(formID, 10)); n < 8 {
		t.Fatalf("form audit rows: %d", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM audit_log WHERE key IN ('support_form_id', 'support_form_menu_text', 'support_form_header_text')`); n != 3 {
		t.Fatalf("portal connection audit rows: %d", n)
	}

	// The customer sees it as built.
	alice := ts.client()
	alice.signIn(std.AliceEmail, std.Password)
	_, list := alice.get("/tickets", false)
	if got := texts(list, "#nav-new-ticket"); len(got) != 1 || got[0] != "Open a request" {
		t.Fatalf("menu text: %q", got)
	}
	_, page := alice.get("/tickets/new", false)
	if got := texts(page, "h1#form-heading"); len(got) != 1 || got[0] != "How can we help?" {
		t.Fatalf("header text: %q", got)
	}
	var names []string
	page.Find("#support-form .form-field").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		names = append(names, strings.TrimPrefix(id, "field-"))
	})
	if strings.Join(names, ",") != "subject,description,priority,prop_order_number,files" {
		t.Fatalf("customer form fields: %v", names)
	}
	if got := texts(page, `label[for=form-subject]`); len(got) != 1 || !strings.HasPrefix(got[0], "What is it about?") {
		t.Fatalf("subject label: %q", got)
	}
	if n := page.Find("#form-priority option").Length(); n != 3 { // choose…, high, urgent
		t.Fatalf("priority options: %d", n)
	}
	// Description is optional now: a ticket without one is accepted.
	resp, _ = alice.post("/tickets/new", url.Values{"subject": {"Broken box"}, "priority": {"high"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit without description: %d", resp.StatusCode)
	}

	// Disconnect: the form is gone from the portal.
	if resp, _ := admin.post(base+"/portal", url.Values{"menu_text": {""}, "header_text": {""}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disconnect: %d", resp.StatusCode)
	}
	if resp, _ := alice.get("/tickets/new", false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after disconnect: %d", resp.StatusCode)
	}
}
