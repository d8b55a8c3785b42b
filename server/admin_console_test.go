package server

import (
	"context"
	"github.com/PuerkitoBio/goquery"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// staffFixture is the standard customers plus one admin and one agent, each with a client.
type staffFixture struct {
	fx                  storetest.Standard
	adminID, agentID    int64
	admin, agent, alice *client
}

func newStaffFixture(t *testing.T, ts *testServer) staffFixture {
	t.Helper()
	f := staffFixture{fx: storetest.MustStandard(t, ts.Pool)}
	f.adminID = mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	f.agentID = mustStaff(t, ts.Pool, "gus@portico.test", "Gus Agent", store.RoleAgent)
	f.admin, f.agent, f.alice = ts.client(), ts.client(), ts.client()
	f.admin.staffSignIn("ada@portico.test")
	f.agent.staffSignIn("gus@portico.test")
	f.alice.signIn(f.fx.AliceEmail, f.fx.Password)
	return f
}

// TestAdminRoleMatrix: anonymous, customer, agent and admin against every /admin route.
func TestAdminRoleMatrix(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	anon := ts.client()
	anon.get("/login", false)
	tid := itoa(f.fx.AliceOpen)
	type route struct {
		method, path string
		adminOnly    bool
	}
	var routes []route
	for _, r := range ts.App.GetRoutes(true) {
		// The sign-in steps (password, then TOTP code) are open to everyone: not guarded routes.
		if !strings.HasPrefix(r.Path, "/admin") || r.Path == "/admin/login" || r.Path == "/admin/login/totp" || r.Method == http.MethodHead {
			continue
		}
		p := strings.NewReplacer(":section", "tickets", ":id", tid).Replace(r.Path)
		admin := false
		for _, pre := range []string{"/admin/settings", "/admin/audit", "/admin/groups", "/admin/pipelines", "/admin/stages", "/admin/inboxes", "/admin/branding", "/admin/preview", "/admin/forms", "/admin/kb", "/admin/providers", "/admin/satisfaction", "/admin/api-keys", "/admin/webhooks", "/admin/privacy"} {
			admin = admin || strings.HasPrefix(p, pre)
		}
		admin = admin || strings.HasSuffix(p, "/invite") // resending a registration link
		admin = admin || strings.HasSuffix(p, "/erase")  // erasing a contact (issue 16.6)
		routes = append(routes, route{r.Method, p, admin})
	}
	if len(routes) < 30 {
		t.Fatalf("only %d /admin routes found", len(routes))
	}
	for _, r := range routes {
		if r.path == "/admin/logout" || r.path == "/admin" {
			continue
		}
		call := func(c *client) int {
			if r.method == http.MethodGet {
				resp, _ := c.get(r.path, false)
				return resp.StatusCode
			}
			resp, _ := c.post(r.path, url.Values{}, false)
			return resp.StatusCode
		}
		// Anonymous and customers are sent to the staff sign-in, never served.
		for name, c := range map[string]*client{"anonymous": anon, "customer": f.alice} {
			if got := call(c); got != http.StatusSeeOther {
				t.Errorf("%s %s %s: %d, want 303 to /admin/login", name, r.method, r.path, got)
			}
		}
		got := call(f.agent)
		if r.adminOnly && got != http.StatusForbidden {
			t.Errorf("agent %s %s: %d, want 403", r.method, r.path, got)
		}
		if !r.adminOnly && (got == http.StatusForbidden || got == http.StatusSeeOther && r.method == http.MethodGet) {
			t.Errorf("agent %s %s: %d, want served", r.method, r.path, got)
		}
		if got := call(f.admin); got == http.StatusForbidden || got >= 500 {
			t.Errorf("admin %s %s: %d", r.method, r.path, got)
		}
	}
	// A customer session at /admin goes to the staff sign-in; a staff session at /tickets to /login.
	resp, _ := f.alice.get("/admin/inbox", false)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/login") {
		t.Errorf("customer at /admin/inbox → %q", loc)
	}
	resp, _ = f.agent.get("/tickets", false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("staff at /tickets: %d %q", resp.StatusCode, loc)
	}
	// The agent's nav has no settings link; the admin's has.
	_, doc := f.agent.get("/admin/inbox", false)
	if doc.Find("#nav-settings").Length() != 0 {
		t.Error("agent sees the settings link")
	}
	_, doc = f.admin.get("/admin/inbox", false)
	if doc.Find("#nav-settings").Length() != 1 {
		t.Error("admin lacks the settings link")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestStaffSignInWrongPassword(t *testing.T) {
	ts := newTestServer(t, nil)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.get("/admin/login", false)
	resp, doc := c.post("/admin/login", url.Values{"email": {"ada@portico.test"}, "password": {"nope nope nope"}}, false)
	if resp.StatusCode != http.StatusUnauthorized || doc.Find("#login-error").Length() != 1 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// A customer's credentials do not open the staff console.
	resp, _ = c.post("/admin/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}}, false)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("customer credentials at /admin/login: %d", resp.StatusCode)
	}
}

func TestSettingsFormValidatesSavesAndAudits(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()

	// Every section of the registry has a page with one field per visible setting.
	for _, sec := range settingSections(t) {
		resp, doc := f.admin.get("/admin/settings/"+sec, false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("settings/%s: %d", sec, resp.StatusCode)
		}
		for _, d := range store.SettingDefs() {
			if d.Section == sec && d.Kind != store.SettingHidden && doc.Find("#s-"+d.Key).Length() != 1 {
				t.Errorf("settings/%s lacks field %s", sec, d.Key)
			}
		}
	}

	// Refused: 422, message beside the field, the typed value kept, nothing stored or audited.
	long := strings.Repeat("x", 41)
	resp, doc := f.admin.post("/admin/settings/portal", url.Values{"tickets_label": {long}, "page_title": {"Acme support"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("too long label: %d", resp.StatusCode)
	}
	if doc.Find("#e-tickets_label").Length() != 1 || doc.Find("#s-tickets_label").AttrOr("value", "") != long {
		t.Error("error beside tickets_label missing or typed value lost")
	}
	if v := doc.Find("#s-page_title").AttrOr("value", ""); v != "Acme support" {
		t.Errorf("page_title typed value lost: %q", v)
	}
	resp, doc = f.admin.post("/admin/settings/access", url.Values{"idle_timeout": {"2m"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-idle_timeout").Length() != 1 {
		t.Errorf("idle_timeout 2m: %d", resp.StatusCode)
	}
	resp, doc = f.admin.post("/admin/settings/branding", url.Values{"brand_color": {"blue"}, "brand_font": {"system"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-brand_color").Length() != 1 {
		t.Errorf("brand_color blue: %d", resp.StatusCode)
	}
	if entries, _, _ := ts.Store.AuditList(ctx, store.AuditFilter{}); len(entries) != 0 {
		t.Fatalf("refused forms wrote %d audit entries", len(entries))
	}

	// Saved: 303, visible to customers, audited with who/before/after.
	resp, _ = f.admin.post("/admin/settings/portal", url.Values{"tickets_label": {"Cases"}, "page_title": {""}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	_, doc = f.alice.get("/tickets", false)
	if h := strings.TrimSpace(doc.Find("h1").First().Text()); h != "Cases" {
		t.Errorf("customer heading = %q, want Cases", h)
	}
	_, doc = f.admin.get("/admin/settings/tickets", false)
	form := formValues(doc, "#settings-form")
	form.Set("ticket_permissions", "company")
	form.Set("show_custom_stages", "true")
	resp, _ = f.admin.post("/admin/settings/tickets", form, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save tickets: %d", resp.StatusCode)
	}
	entries, _, err := ts.Store.AuditList(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.AuditEntry{}
	for _, e := range entries {
		got[e.Key] = e
	}
	if len(entries) != 3 {
		t.Errorf("audit entries: %+v, want 3 (label, permissions, stages; page_title unchanged)", entries)
	}
	if e := got["tickets_label"]; e.Before != "" || e.After != "Cases" || e.StaffID != f.adminID || e.StaffName != "Ada Admin" {
		t.Errorf("tickets_label audit = %+v", e)
	}
	if e := got["ticket_permissions"]; e.Before != "own" || e.After != "company" {
		t.Errorf("ticket_permissions audit = %+v", e)
	}

	// The audit page lists and filters.
	_, doc = f.admin.get("/admin/audit?key=tickets_label", false)
	if n := doc.Find("#audit-table tbody tr").Length(); n != 1 || !strings.Contains(doc.Find(".audit-after").Text(), "Cases") {
		t.Errorf("audit filtered by key: %d rows", n)
	}
	_, doc = f.admin.get("/admin/audit?staff="+itoa(f.agentID), false)
	if doc.Find(".audit-after").Length() != 0 {
		t.Error("audit filtered by the agent shows the admin's changes")
	}
	today := time.Now().UTC().Format("2006-01-02")
	_, doc = f.admin.get("/admin/audit?from="+today+"&to="+today, false)
	if n := doc.Find(".audit-after").Length(); n != 3 {
		t.Errorf("audit for today: %d rows", n)
	}
	_, doc = f.admin.get("/admin/audit?to=2000-01-01", false)
	if n := doc.Find(".audit-after").Length(); n != 0 {
		t.Errorf("audit before 2000: %d rows", n)
	}
	resp, _ = f.admin.get("/admin/audit?from=yesterday", false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad date: %d", resp.StatusCode)
	}
}

// formValues returns what a browser would submit for the form sel as it stands.
func formValues(doc *goquery.Document, sel string) url.Values {
	v := url.Values{}
	form := doc.Find(sel)
	form.Find("input").Each(func(_ int, in *goquery.Selection) {
		name, ok := in.Attr("name")
		if !ok || name == "_csrf" {
			return
		}
		if t := in.AttrOr("type", "text"); (t == "checkbox" || t == "radio") && in.AttrOr("checked", "-") == "-" {
			return
		}
		v.Add(name, in.AttrOr("value", ""))
	})
	form.Find("select").Each(func(_ int, in *goquery.Selection) {
		v.Add(in.AttrOr("name", ""), in.Find("option[selected]").AttrOr("value", in.Find("option").First().AttrOr("value", "")))
	})
	form.Find("textarea").Each(func(_ int, in *goquery.Selection) { v.Add(in.AttrOr("name", ""), in.Text()) })
	return v
}

func settingSections(t *testing.T) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range store.SettingDefs() {
		if d.Kind != store.SettingHidden && !seen[d.Section] {
			seen[d.Section] = true
			out = append(out, d.Section)
		}
	}
	if len(out) == 0 {
		t.Fatal("no settings sections")
	}
	return out
}

// TestSettingsChangeReachesOtherInstance: two instances share PostgreSQL and Redis; B caches
// settings for an hour, so only the pub/sub invalidation can make it see A's change.
func TestSettingsChangeReachesOtherInstance(t *testing.T) {
	pool := storetest.NewDB(t)
	a := newTestServer(t, pool)
	t.Cleanup(a.Close)
	b, err := New(context.Background(), a.Config, Options{Pool: pool, Redis: newRedis(t), RedisPrefix: a.prefix,
		Logger: a.Log, SettingsTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); b.Redis.Close() })
	ctx := context.Background()
	if st, _ := b.Settings.Get(ctx); st.TicketsLabel != "" { // B caches the default now
		t.Fatalf("label = %q", st.TicketsLabel)
	}
	mustStaff(t, pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	admin := a.client()
	admin.staffSignIn("ada@portico.test")
	start := time.Now()
	if resp, _ := admin.post("/admin/settings/portal", url.Values{"tickets_label": {"Orders"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save on A: %d", resp.StatusCode)
	}
	deadline := start.Add(time.Second)
	for {
		st, err := b.Settings.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.TicketsLabel == "Orders" {
			t.Logf("instance B saw the change after %s", time.Since(start))
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("instance B did not see the change within a second")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
