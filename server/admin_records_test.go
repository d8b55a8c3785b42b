package server

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// postFile posts a multipart form to path with fields and one file part (field, name, data),
// adding the client's CSRF token.
func (c *client) postFile(path string, fields url.Values, field, name string, data []byte) (*http.Response, *goquery.Document) {
	c.ts.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if fields == nil {
		fields = url.Values{}
	}
	if _, ok := fields["_csrf"]; !ok && c.csrf != "" {
		fields.Set("_csrf", c.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	fw, err := w.CreateFormFile(field, name)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp := c.do(req)
	return resp, parse(c.ts.t, resp)
}

// logoPNG returns a small real PNG image.
func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLogoUpload: a PNG is stored and served with its type; SVG and an oversized file are
// refused beside the field; an agent may not upload.
func TestLogoUpload(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	f.admin.get("/admin/settings/branding", false)

	// No logo yet: 404.
	resp := f.alice.do(httptest.NewRequest(http.MethodGet, "/branding/logo", nil))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("logo before upload: %d", resp.StatusCode)
	}

	// Refused: SVG (it can carry script), whatever name and type the browser claims.
	for _, svg := range []string{`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`,
		`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>`} {
		resp, doc := f.admin.postFile("/admin/branding/logo", nil, "logo", "logo.svg", []byte(svg))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("SVG upload: %d, want 422", resp.StatusCode)
		}
		if msg := strings.TrimSpace(doc.Find("#logo-form #logo-error").Text()); msg != "Use a PNG, JPEG, GIF or WebP image." {
			t.Errorf("SVG upload: message beside the field = %q", msg)
		}
		if doc.Find("#logo").AttrOr("aria-invalid", "") != "true" {
			t.Error("SVG upload: the file input is not marked invalid")
		}
	}
	// Refused: over 512 KB, even with a PNG header.
	big := append(logoPNG(t), bytes.Repeat([]byte{0}, 600*1024)...) // 600 KB
	resp, doc := f.admin.postFile("/admin/branding/logo", nil, "logo", "big.png", big)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("oversized upload: %d, want 422", resp.StatusCode)
	}
	if msg := strings.TrimSpace(doc.Find("#logo-form #logo-error").Text()); msg != "The image is too large (at most 512 KB)." {
		t.Errorf("oversized upload: message beside the field = %q", msg)
	}
	var n int
	ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM branding_assets`).Scan(&n)
	if n != 0 {
		t.Fatalf("refused uploads stored %d assets", n)
	}

	// An agent: 403, nothing stored.
	data := logoPNG(t)
	resp, _ = f.agent.postFile("/admin/branding/logo", nil, "logo", "logo.png", data)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent upload: %d, want 403", resp.StatusCode)
	}
	ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM branding_assets`).Scan(&n)
	if n != 0 {
		t.Fatal("the agent's upload was stored")
	}

	// Accepted: 303, shown on the branding page, served to anyone with its content type.
	resp, _ = f.admin.postFile("/admin/branding/logo", nil, "logo", "logo.png", data)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("PNG upload: %d, want 303", resp.StatusCode)
	}
	_, doc = f.admin.get("/admin/settings/branding", false)
	src := doc.Find("#current-logo").AttrOr("src", "")
	if !strings.HasPrefix(src, "/branding/logo?v=") {
		t.Fatalf("branding page logo src = %q", src)
	}
	resp = ts.client().do(httptest.NewRequest(http.MethodGet, src, nil))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, data) {
		t.Fatalf("served logo: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}

	// Removal: an agent is refused; the admin removes it, the header and the branding page
	// show none, the URL answers 404 and the audit log records it.
	if resp, _ := f.agent.post("/admin/branding/logo/delete", url.Values{}, false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent removal: %d, want 403", resp.StatusCode)
	}
	f.admin.get("/admin/settings/branding", false)
	if resp, _ := f.admin.post("/admin/branding/logo/delete", url.Values{}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logo removal: %d, want 303", resp.StatusCode)
	}
	_, doc = f.admin.get("/admin/settings/branding?logo_removed=1", false)
	if doc.Find("#current-logo, .brand-logo").Length() != 0 || doc.Find("#no-logo").Length() != 1 || doc.Find("#logo-removed").Length() != 1 {
		t.Fatalf("after removal the branding page still shows a logo or no notice")
	}
	resp = ts.client().do(httptest.NewRequest(http.MethodGet, src, nil))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("removed logo answers %d, want 404", resp.StatusCode)
	}
	ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM branding_assets`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d assets left after removal", n)
	}
}

// TestBrandColourContrast: a brand colour is saved only when white or near-black text reaches
// WCAG AA (4.5:1) on it; the text colour is then chosen by itself (yellow gets near-black, the
// default blue white). A mid-grey where neither reaches 4.5:1 is refused with the reason beside
// the field, in the admin's language, and nothing is stored.
func TestBrandColourContrast(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	set := func(colour string) (*http.Response, *goquery.Document) {
		t.Helper()
		f.admin.get("/admin/settings/branding", false)
		return f.admin.post("/admin/settings/branding", url.Values{"brand_color": {colour}, "brand_font": {"system"}}, false)
	}
	for _, c := range [][2]string{{"#ffdd00", "near-black"}, {"#ffff00", "near-black"}, {"#f0f0f0", "near-black"}, {"#1d4ed8", "white"}} {
		colour, text := c[0], c[1]
		if resp, _ := set(colour); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("brand_color %s: %d, want 303", colour, resp.StatusCode)
		}
		_, doc := f.admin.get("/admin/settings/branding", false)
		if got := doc.Find("#brand-contrast").Text(); !strings.Contains(got, text) {
			t.Errorf("%s: %q, want the text named %s", colour, got, text)
		}
		if n := doc.Find("#contrast-warning").Length(); n != 0 {
			t.Errorf("%s: warning shown: %q", colour, doc.Find("#contrast-warning").Text())
		}
		_, cssResp := ts.client().get("/branding.css", false)
		css := cssResp.Text()
		if !strings.Contains(css, "--portico-brand: "+colour) {
			t.Errorf("%s: branding.css lacks the colour:\n%s", colour, css)
		}
	}
	resp, doc := set("#7a7a7a")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("#7a7a7a: %d, want 422", resp.StatusCode)
	}
	if msg := doc.Find("#e-brand_color").Text(); !strings.Contains(msg, "4.5:1") || !strings.Contains(msg, "4.29:1") {
		t.Errorf("#7a7a7a: message beside the field = %q", msg)
	}
	if inv := doc.Find("#s-brand_color").AttrOr("aria-invalid", ""); inv != "true" {
		t.Errorf("#7a7a7a: aria-invalid=%q", inv)
	}
	var stored string
	ts.Pool.QueryRow(context.Background(), `SELECT value #>> '{}' FROM portal_settings WHERE key = 'brand_color'`).Scan(&stored)
	if stored != "#1d4ed8" {
		t.Errorf("after the refusal brand_color is %q, want #1d4ed8 kept", stored)
	}
	// In German.
	de := ts.client()
	de.lang = "de"
	de.staffSignIn("ada@portico.test")
	de.get("/admin/settings/branding", false)
	_, doc = de.post("/admin/settings/branding", url.Values{"brand_color": {"#7a7a7a"}, "brand_font": {"system"}}, false)
	if msg := doc.Find("#e-brand_color").Text(); !strings.Contains(msg, "weder weißer noch fast schwarzer Text") {
		t.Errorf("German message = %q", msg)
	}
}

// TestSettingMessagesTranslated: the registry's refusal appears in the admin's language.
func TestSettingMessagesTranslated(t *testing.T) {
	ts := newTestServer(t, nil)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	for lang, want := range map[string]string{"nl": "Vul een duur in tussen 5m en 720h.", "en": "Enter a duration between 5m and 720h.",
		"de": "Geben Sie eine Dauer zwischen 5m und 720h ein."} {
		admin := ts.client()
		admin.lang = lang
		admin.staffSignIn("ada@portico.test")
		resp, doc := admin.post("/admin/settings/access", url.Values{"idle_timeout": {"1m"}}, false)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: idle_timeout=1m: %d", lang, resp.StatusCode)
		}
		if got := strings.TrimSpace(doc.Find("#e-idle_timeout").Text()); got != want {
			t.Errorf("%s: message beside idle_timeout = %q, want %q", lang, got, want)
		}
		resp, doc = admin.post("/admin/settings/portal", url.Values{"tickets_label": {strings.Repeat("x", 41)}}, false)
		if got := strings.TrimSpace(doc.Find("#e-tickets_label").Text()); resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(got, "must be") || got == "" {
			t.Errorf("%s: tickets_label too long: %d %q", lang, resp.StatusCode, got)
		}
	}
	// The English reason stays for the command line.
	err := store.ValidateSetting("idle_timeout", "1m")
	if se, ok := err.(*store.SettingError); !ok || se.Reason != "must be between 5m and 720h (30 days)" || se.MessageID != "SettingDurationRange" {
		t.Errorf("ValidateSetting: %#v", err)
	}
}

// TestGroupCSVImport: valid rows added (new contacts created), bad rows named by line, members
// already in the group not doubled.
func TestGroupCSVImport(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	g, err := ts.Store.GroupCreate(ctx, "Partners")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.GroupAddMembers(ctx, g.ID, []string{f.fx.AliceEmail}); err != nil {
		t.Fatal(err)
	}
	base := "/admin/groups/" + itoa(g.ID)
	f.admin.get(base, false)
	csv := "Email,Name,Company\n" +
		"alice@acme.test,Alice Again,Acme\n" + // line 2: already a member
		"not-an-email,Nobody,\n" + // line 3: bad
		"dave@dune.test,Dave Dune,Dune Ltd\n" + // line 4: new contact
		"BOB@acme.test,,\n" + // line 5: existing contact
		",Empty,\n" // line 6: bad
	resp, doc := f.admin.postFile(base+"/import", nil, "file", "members.csv", []byte(csv))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	bad := texts(doc, "#import-bad li")
	if len(bad) != 2 || !strings.HasPrefix(bad[0], "Line 3:") || !strings.HasPrefix(bad[1], "Line 6:") || !strings.Contains(bad[0], "email") {
		t.Errorf("bad rows reported = %q, want lines 3 and 6", bad)
	}
	if notice := doc.Find("#notice").Text(); !strings.Contains(notice, "5 rows read: 1 contacts created, 2 added") || !strings.Contains(notice, "2 rows skipped") {
		t.Errorf("notice = %q", notice)
	}
	ms, err := ts.Store.GroupMembers(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, m := range ms {
		emails = append(emails, m.Email)
	}
	if strings.Join(emails, " ") != "alice@acme.test bob@acme.test dave@dune.test" {
		t.Errorf("members = %v", emails)
	}
	if got := texts(doc, "#members-table tbody td:nth-child(2)"); len(got) != 3 {
		t.Errorf("page lists members %v", got)
	}
	// Importing the same file again doubles nobody.
	resp, _ = f.admin.postFile(base+"/import", nil, "file", "members.csv", []byte(csv))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("re-import: %d", resp.StatusCode)
	}
	var rows int
	ts.Pool.QueryRow(ctx, `SELECT count(*) FROM access_group_members WHERE group_id = $1`, g.ID).Scan(&rows)
	if rows != 3 {
		t.Errorf("membership rows after re-import = %d, want 3", rows)
	}
	var dave store.Contact
	cs, _ := ts.Store.ContactSearch(ctx, "dave@dune.test", 5)
	if len(cs) == 1 {
		dave = cs[0]
	}
	if dave.Name != "Dave Dune" || dave.CompanyName != "Dune Ltd" {
		t.Errorf("created contact = %+v", dave)
	}
	// A clean file: redirect with the counts; a file without an email column: 422 beside the field.
	resp, _ = f.admin.postFile(base+"/import", nil, "file", "ok.csv", []byte("email\ncarol@globex.test\n"))
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("clean import: %d", resp.StatusCode)
	}
	resp, doc = f.admin.postFile(base+"/import", nil, "file", "x.csv", []byte("name\nNobody\n"))
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#group-import #e-file").Length() != 1 {
		t.Errorf("no email column: %d", resp.StatusCode)
	}
}

// TestContactAndCompanyPages: search, edit (primary company; refused values kept beside the
// fields), and a company's contacts and tickets.
func TestContactAndCompanyPages(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()

	// Dan's address does not name his company: the search finds him by the company's name.
	storetest.MustContact(t, ts.Pool, "dan@example.test", "Dan Dyer", f.fx.Acme, "")
	_, doc := f.agent.get("/admin/contacts?q=acme", false)
	if got := texts(doc, "#contacts-table tbody td:first-child a"); strings.Join(got, "|") != "Alice Archer|Bob Baker|Dan Dyer" {
		t.Errorf("search acme = %v", got)
	}
	_, doc = f.agent.get("/admin/contacts?q=dyer", false)
	if got := texts(doc, "#contacts-table tbody td:first-child a"); strings.Join(got, "|") != "Dan Dyer" {
		t.Errorf("search by name = %v", got)
	}
	_, doc = f.agent.get("/admin/contacts?q=carol%40globex", false)
	if got := texts(doc, "#contacts-table tbody td:first-child a"); strings.Join(got, "|") != "Carol Cruz" {
		t.Errorf("search by email = %v", got)
	}
	_, doc = f.agent.get("/admin/contacts?q=zzz-nobody", false)
	if doc.Find("#contacts-table tbody a").Length() != 0 {
		t.Error("search for nobody found someone")
	}

	// The contact page lists the contact's own tickets only.
	path := "/admin/contacts/" + itoa(f.fx.Bob)
	_, doc = f.agent.get(path, false)
	if got := texts(doc, ".tickets-staff tbody td:first-child a"); strings.Join(got, "|") != "VPN keeps dropping" {
		t.Errorf("Bob's tickets = %v", got)
	}
	// Refused (an admin: only admins may change the address or company): 422, messages beside
	// the fields, what was typed kept, nothing stored.
	f.admin.get(path, false)
	resp, doc := f.admin.post(path, url.Values{"name": {"Bobby Baker"}, "email": {"not-an-email"}, "company": {"Globex"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad email: %d", resp.StatusCode)
	}
	if doc.Find("#contact-form #e-email").Length() != 1 || doc.Find("#f-email").AttrOr("value", "") != "not-an-email" ||
		doc.Find("#f-name").AttrOr("value", "") != "Bobby Baker" || doc.Find("#f-company").AttrOr("value", "") != "Globex" {
		t.Error("refused edit: message or typed values missing")
	}
	resp, doc = f.admin.post(path, url.Values{"name": {"Bob Baker"}, "email": {f.fx.AliceEmail}, "company": {"Acme"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#e-email").Length() != 1 {
		t.Errorf("taken email: %d", resp.StatusCode)
	}
	if ct, _ := ts.Store.ContactGet(ctx, f.fx.Bob); ct.Name != "Bob Baker" || ct.CompanyID != f.fx.Acme {
		t.Fatalf("refused edits stored: %+v", ct)
	}
	// Saved: primary company moves Bob to Globex, and a new company name creates it.
	resp, _ = f.admin.post(path, url.Values{"name": {"Bobby Baker"}, "email": {"bobby@globex.test"}, "company": {"Globex"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	ct, _ := ts.Store.ContactGet(ctx, f.fx.Bob)
	if ct.Name != "Bobby Baker" || ct.Email != "bobby@globex.test" || ct.CompanyID != f.fx.Globex {
		t.Errorf("saved contact = %+v", ct)
	}
	_, doc = f.admin.get(path+"?saved=1", false)
	if doc.Find("#saved").Length() != 1 || doc.Find("#f-company").AttrOr("value", "") != "Globex" {
		t.Error("saved page lacks notice or company")
	}

	// The company page lists its contacts and its tickets, and no other company's.
	_, doc = f.agent.get("/admin/companies/"+itoa(f.fx.Acme), false)
	if got := texts(doc, "#company-contacts a"); strings.Join(got, "|") != "Alice Archer|Dan Dyer" {
		t.Errorf("Acme contacts = %v", got)
	}
	tickets := strings.Join(texts(doc, ".tickets-staff tbody td:first-child a"), "|")
	for _, want := range []string{"Printer on fire", "Invoice copy", "VPN keeps dropping"} {
		if !strings.Contains(tickets, want) {
			t.Errorf("Acme tickets %q lack %q", tickets, want)
		}
	}
	if strings.Contains(tickets, "Globex payroll") {
		t.Error("Acme page lists a Globex ticket")
	}
	_, doc = f.agent.get("/admin/companies/"+itoa(f.fx.Globex), false)
	if got := texts(doc, "#company-contacts a"); strings.Join(got, "|") != "Bobby Baker|Carol Cruz" {
		t.Errorf("Globex contacts = %v", got)
	}
	if resp, _ := f.agent.get("/admin/companies/999999", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown company: %d", resp.StatusCode)
	}
}

// TestPipelineStages: create a stage, mark it closed (its tickets follow), reorder.
func TestPipelineStages(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	support := func() store.Pipeline {
		t.Helper()
		ps, err := ts.Store.PipelineList(ctx)
		if err != nil || len(ps) == 0 {
			t.Fatalf("pipelines: %v", err)
		}
		return ps[0]
	}
	p := support()
	f.admin.get("/admin/pipelines", false)
	resp, _ := f.admin.post("/admin/pipelines/"+itoa(p.ID)+"/stages", url.Values{"name": {"On hold"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create stage: %d", resp.StatusCode)
	}
	resp, doc := f.admin.post("/admin/pipelines/"+itoa(p.ID)+"/stages", url.Values{"name": {""}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#stage-error").Length() == 0 {
		t.Errorf("empty stage name: %d", resp.StatusCode)
	}
	p = support()
	var hold store.Stage
	var names []string
	for _, s := range p.Stages {
		names = append(names, s.Name)
		if s.Name == "On hold" {
			hold = s
		}
	}
	if hold.ID == 0 || hold.IsClosed || names[len(names)-1] != "On hold" {
		t.Fatalf("stages after create = %v", names)
	}
	_, doc = f.admin.get("/admin/pipelines", false)
	if doc.Find("#stage-name-"+itoa(hold.ID)).AttrOr("value", "") != "On hold" {
		t.Error("the pipelines page lacks the new stage")
	}

	// A ticket in the stage; marking the stage closed closes it.
	if _, err := ts.Pool.Exec(ctx, `UPDATE tickets SET stage_id = $2, is_closed = false, closed_at = NULL WHERE id = $1`, f.fx.BobT, hold.ID); err != nil {
		t.Fatal(err)
	}
	resp, _ = f.admin.post("/admin/stages/"+itoa(hold.ID), url.Values{"name": {"On hold"}, "position": {itoa(int64(hold.Position))}, "closed": {"true"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mark closed: %d", resp.StatusCode)
	}
	var closed bool
	ts.Pool.QueryRow(ctx, `SELECT is_closed FROM tickets WHERE id = $1`, f.fx.BobT).Scan(&closed)
	if !closed {
		t.Error("ticket in the closed stage is still open")
	}
	_, doc = f.admin.get("/admin/pipelines", false)
	if _, ok := doc.Find("#stage-closed-" + itoa(hold.ID)).Attr("checked"); !ok {
		t.Error("the stage is not shown as closed")
	}

	// Reorder: position 0 puts it first.
	resp, _ = f.admin.post("/admin/stages/"+itoa(hold.ID), url.Values{"name": {"On hold"}, "position": {"0"}, "closed": {"true"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reorder: %d", resp.StatusCode)
	}
	if first := support().Stages[0]; first.ID != hold.ID {
		t.Errorf("first stage after reorder = %q", first.Name)
	}
	_, doc = f.admin.get("/admin/pipelines", false)
	if id := doc.Find("#pipeline-"+itoa(p.ID)+" form[id^=stage-]").First().AttrOr("id", ""); id != "stage-"+itoa(hold.ID) {
		t.Errorf("first stage form on the page = %q", id)
	}
	resp, _ = f.admin.post("/admin/stages/"+itoa(hold.ID), url.Values{"name": {"On hold"}, "position": {"first"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad position: %d", resp.StatusCode)
	}

	// Refused: opening every closed stage would leave the pipeline without one.
	for _, s := range support().Stages {
		if s.IsClosed && s.ID != hold.ID {
			f.admin.post("/admin/stages/"+itoa(s.ID), url.Values{"name": {s.Name}, "position": {itoa(int64(s.Position))}}, false)
		}
	}
	resp, doc = f.admin.post("/admin/stages/"+itoa(hold.ID), url.Values{"name": {"On hold"}, "position": {"0"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#stage-error").Length() == 0 {
		t.Errorf("last closed stage opened: %d", resp.StatusCode)
	}
}

// TestInboxesCreateAndDefault: create an inbox, make it the default: exactly one default after.
func TestInboxesCreateAndDefault(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	f.admin.get("/admin/inboxes", false)
	resp, _ := f.admin.post("/admin/inboxes", url.Values{"name": {"Billing"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	resp, doc := f.admin.post("/admin/inboxes", url.Values{"name": {"Billing"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#inbox-create #e-name").Length() != 1 {
		t.Errorf("duplicate inbox: %d", resp.StatusCode)
	}
	defaults := func() []string {
		is, err := ts.Store.InboxList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range is {
			if i.IsDefault {
				out = append(out, i.Name)
			}
		}
		return out
	}
	if d := defaults(); strings.Join(d, ",") != "Support" {
		t.Fatalf("defaults before = %v", d)
	}
	is, _ := ts.Store.InboxList(ctx)
	var billing int64
	for _, i := range is {
		if i.Name == "Billing" {
			billing = i.ID
		}
	}
	if billing == 0 {
		t.Fatal("Billing not created")
	}
	resp, _ = f.admin.post("/admin/inboxes/"+itoa(billing)+"/default", nil, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set default: %d", resp.StatusCode)
	}
	if d := defaults(); strings.Join(d, ",") != "Billing" {
		t.Errorf("defaults after = %v, want exactly Billing", d)
	}
	_, doc = f.admin.get("/admin/inboxes", false)
	if n := doc.Find("#default-inbox").Length(); n != 1 || !strings.Contains(doc.Find("#default-inbox").Closest("tr").Text(), "Billing") {
		t.Errorf("page shows %d defaults", n)
	}
}
