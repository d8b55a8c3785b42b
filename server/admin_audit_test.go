package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store"
)

// auditRows returns "staff_name|before|after" of every audit_log row whose key starts with
// prefix, oldest first.
func auditRows(t *testing.T, ts *testServer, prefix string) []string {
	t.Helper()
	rows, err := ts.Pool.Query(context.Background(), `SELECT coalesce(staff_id, 0), staff_name, before, after FROM audit_log
		WHERE key LIKE $1 || '%' ORDER BY id`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var name, before, after string
		if err := rows.Scan(&id, &name, &before, &after); err != nil {
			t.Fatal(err)
		}
		out = append(out, name+"|"+before+"|"+after)
	}
	return out
}

func wantAudit(t *testing.T, rows []string, i int, who, contains string) {
	t.Helper()
	if i >= len(rows) {
		t.Errorf("audit row %d missing (%d rows: %q), want one by %s with %q", i, len(rows), rows, who, contains)
		return
	}
	if !strings.HasPrefix(rows[i], who+"|") || !strings.Contains(rows[i], contains) {
		t.Errorf("audit row %d = %q, want by %s with %q", i, rows[i], who, contains)
	}
}

// TestAuditIdentityProviders: create, update (secret changed: recorded, value never),
// enable, disable, rotate certificate and delete each write an audit row by the admin.
func TestAuditIdentityProviders(t *testing.T) {
	ts := newSSOServer(t)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	admin := ts.client()
	admin.staffSignIn("ada@portico.test")
	idp := newSAMLIdP(t)
	admin.get("/admin/providers/new?kind=jwt", false)
	const secret = "an-audited-secret-value-0123456789abcdef"
	resp, _ := admin.post("/admin/providers", url.Values{"kind": {"jwt"}, "slug": {"app"}, "name": {"App"}, "alg": {"HS256"},
		"jwt_secret": {secret}, "audience": {"all"}, "allow_create": {"true"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	loc := strings.SplitN(resp.Header.Get("Location"), "?", 2)[0]
	admin.get(loc, false)
	if resp, _ := admin.post(loc, url.Values{"name": {"App 2"}, "alg": {"HS256"}, "jwt_secret": {secret + "-new"}, "audience": {"all"},
		"trust_organization": {"true"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	for _, a := range []string{"/enable", "/disable", "/delete"} {
		admin.get(loc, false)
		if resp, _ := admin.post(loc+a, nil, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", a, resp.StatusCode)
		}
	}
	rows := auditRows(t, ts, "provider:app")
	wantAudit(t, rows, 0, "Ada Admin", "name=App kind=jwt")
	wantAudit(t, rows, 1, "Ada Admin", "secret=changed")
	wantAudit(t, rows, 1, "Ada Admin", "trust_organization=true")
	wantAudit(t, rows, 2, "Ada Admin", "enabled=true")
	wantAudit(t, rows, 3, "Ada Admin", "enabled=false")
	wantAudit(t, rows, 4, "Ada Admin", "deleted")
	if len(rows) != 5 {
		t.Errorf("provider audit rows: %q", rows)
	}
	for _, r := range rows {
		if strings.Contains(r, secret) {
			t.Errorf("audit row carries the secret: %q", r)
		}
	}
	// SAML certificate rotation: a new sp_cert digest.
	p := samlProvider(ts, idp, "corp", nil)
	path := "/admin/providers/" + itoa(p.ID)
	admin.get(path, false)
	if resp, _ := admin.post(path+"/rotate", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	rows = auditRows(t, ts, "provider:corp")
	if last := rows[len(rows)-1]; !strings.HasPrefix(last, "Ada Admin|") || !strings.Contains(last, "sp_cert=sha256:") || !strings.Contains(last, "secret=changed") {
		t.Errorf("rotation audit row = %q", last)
	}
}

// TestAuditGroups: create, rename, add and remove members and a CSV import each write an
// audit row by the admin.
func TestAuditGroups(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	f.admin.get("/admin/groups", false)
	resp, _ := f.admin.post("/admin/groups", url.Values{"name": {"Partners"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	g, err := ts.Store.GroupByName(context.Background(), "Partners")
	if err != nil {
		t.Fatal(err)
	}
	base := "/admin/groups/" + itoa(g.ID)
	f.admin.get(base, false)
	steps := []struct {
		path string
		form url.Values
	}{
		{base, url.Values{"name": {"Key partners"}}},
		{base + "/members", url.Values{"emails": {f.fx.AliceEmail}}},
		{base + "/members/remove", url.Values{"email": {f.fx.AliceEmail}}},
	}
	for _, s := range steps {
		if resp, _ := f.admin.post(s.path, s.form, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", s.path, resp.StatusCode)
		}
	}
	if resp, _ := f.admin.postFile(base+"/import", nil, "file", "m.csv", []byte("email\nnew@dune.test\nbad\n")); resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	rows := auditRows(t, ts, "group:"+itoa(g.ID))
	wantAudit(t, rows, 0, "Ada Admin", "name=Partners")
	wantAudit(t, rows, 1, "Ada Admin", "name=Key partners")
	wantAudit(t, rows, 2, "Ada Admin", "members added: "+strings.ToLower(f.fx.AliceEmail))
	wantAudit(t, rows, 3, "Ada Admin", "members removed: "+strings.ToLower(f.fx.AliceEmail))
	wantAudit(t, rows, 4, "Ada Admin", "csv import: rows=2 created=1 added=1 bad=1")
}

// TestAuditPipelinesAndInboxes: pipeline, stage (create, update) and inbox (create, default)
// changes each write an audit row by the admin; the command line's by "cli".
func TestAuditPipelinesAndInboxes(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	f.admin.get("/admin/pipelines", false)
	if resp, _ := f.admin.post("/admin/pipelines", url.Values{"name": {"Returns"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pipeline: %d", resp.StatusCode)
	}
	var pid, sid int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM pipelines WHERE name = 'Returns'`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.admin.post("/admin/pipelines/"+itoa(pid)+"/stages", url.Values{"name": {"Waiting"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("stage: %d", resp.StatusCode)
	}
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM stages WHERE pipeline_id = $1 AND name = 'Waiting'`, pid).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.admin.post("/admin/stages/"+itoa(sid), url.Values{"name": {"On hold"}, "position": {"1"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("stage update: %d", resp.StatusCode)
	}
	f.admin.get("/admin/inboxes", false)
	if resp, _ := f.admin.post("/admin/inboxes", url.Values{"name": {"Returns desk"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("inbox: %d", resp.StatusCode)
	}
	var iid int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM inboxes WHERE name = 'Returns desk'`).Scan(&iid); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.admin.post("/admin/inboxes/"+itoa(iid)+"/default", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("inbox default: %d", resp.StatusCode)
	}
	wantAudit(t, auditRows(t, ts, "pipeline:"+itoa(pid)), 0, "Ada Admin", "name=Returns")
	stage := auditRows(t, ts, "stage:"+itoa(sid))
	wantAudit(t, stage, 0, "Ada Admin", "name=Waiting position=2")
	wantAudit(t, stage, 1, "Ada Admin", "name=On hold position=1")
	wantAudit(t, auditRows(t, ts, "inbox:"+itoa(iid)), 0, "Ada Admin", "name=Returns desk")
	wantAudit(t, auditRows(t, ts, "inbox:default"), 0, "Ada Admin", "default=inbox:"+itoa(iid))

	// From the command line: staff_id NULL, staff_name "cli".
	id, err := ts.Store.InboxCreate(ctx, store.CLIEditor, "Night desk")
	if err != nil {
		t.Fatal(err)
	}
	var staffID *int64
	var name string
	if err := ts.Pool.QueryRow(ctx, `SELECT staff_id, staff_name FROM audit_log WHERE key = $1`, "inbox:"+itoa(id)).Scan(&staffID, &name); err != nil || staffID != nil || name != "cli" {
		t.Errorf("cli audit row: staff_id=%v name=%q err=%v", staffID, name, err)
	}
}
