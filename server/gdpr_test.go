package server

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestAccountDataExport: a customer asks for a copy of their data from the account page (htmx
// and plain form), the job builds it, the box polls until it shows the download link; the zip
// downloads with its manifest; the same link answers 404 to a colleague, to another company's
// customer and to a signed-out visitor is sent to sign in.
func TestAccountDataExport(t *testing.T) {
	pool := storetest.NewDB(t)
	fx := storetest.MustStandard(t, pool)
	ts := newTestServer(t, pool)
	if err := ts.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.StopJobs(5 * time.Second) })

	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	_, doc := alice.get("/account", false)
	if doc.Find("#export-request").Length() != 1 || doc.Find("#deletion-link").Length() != 1 {
		t.Fatal("account page lacks the export button or the deletion link")
	}
	resp, doc := alice.post("/account/export", nil, true)
	if resp.StatusCode != http.StatusOK || doc.Find("#data-export[hx-get='/account/export'][hx-trigger]").Length() != 1 ||
		doc.Find("#export-refresh[href]").Length() != 1 {
		t.Fatalf("htmx request: status %d, box %q", resp.StatusCode, doc.Find("#data-export").Text())
	}
	// Without JavaScript the same request is a form post and a redirect.
	resp, _ = alice.post("/account/export", nil, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account?done=export") {
		t.Fatalf("plain request: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var href string
	for deadline := time.Now().Add(60 * time.Second); href == ""; {
		_, doc = alice.get("/account/export", true)
		href, _ = doc.Find("#export-download").Attr("href")
		if href == "" && time.Now().After(deadline) {
			t.Fatalf("export never became ready: %q", doc.Find("#data-export").Text())
		}
		if href == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if doc.Find("#data-export[hx-trigger]").Length() != 0 {
		t.Error("the ready box still polls")
	}
	_, page := alice.get("/account", false)
	if page.Find("#export-download").AttrOr("href", "") != href || page.Find("#export-state time[datetime]").Length() != 1 {
		t.Error("the account page does not show the ready export with its expiry")
	}
	resp = alice.do(httptest.NewRequest(http.MethodGet, href, nil))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "manifest.json") || !strings.Contains(strings.Join(names, " "), "tickets/"+strconv.FormatInt(fx.AliceOpen, 10)+"/ticket.json") {
		t.Errorf("zip files: %v", names)
	}
	for _, other := range []string{fx.BobEmail, fx.CarolEmail} {
		c := ts.client()
		c.signIn(other, fx.Password)
		resp := c.do(httptest.NewRequest(http.MethodGet, href, nil))
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s downloads Alice's export: %d", other, resp.StatusCode)
		}
	}
	anon := ts.client()
	resp = anon.do(httptest.NewRequest(http.MethodGet, href, nil))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("signed-out download: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAccountDeletionAndErasure: the customer confirms a deletion request (without the tick:
// 422 and the message beside it); the admins see it in the console; an agent cannot erase;
// the admin erases after typing the address (a wrong one: 422 beside the field); the
// customer's sessions end, the contact shows as erased and disappears from the list.
func TestAccountDeletionAndErasure(t *testing.T) {
	pool := storetest.NewDB(t)
	fx := storetest.MustStandard(t, pool)
	mustStaff(t, pool, "admin@portico.test", "Ada Admin", "admin")
	mustStaff(t, pool, "agent@portico.test", "Agnes Agent", "agent")
	ts := newTestServer(t, pool)

	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	_, doc := alice.get("/account/delete", false)
	if doc.Find("#deletion-form input[name=confirm]").Length() != 1 {
		t.Fatal("no confirmation form")
	}
	resp, doc := alice.post("/account/delete", nil, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#confirm-error").Length() != 1 || doc.Find("#confirm[aria-invalid=true]").Length() != 1 {
		t.Fatalf("unconfirmed request: %d", resp.StatusCode)
	}
	resp, _ = alice.post("/account/delete", url.Values{"confirm": {"yes"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	_, doc = alice.get("/account", false)
	if doc.Find("#deletion-state").Length() != 1 || doc.Find("#deletion-withdraw").Length() != 1 {
		t.Fatal("account page does not show the pending request")
	}

	admin := ts.client()
	admin.staffSignIn("admin@portico.test")
	_, doc = admin.get("/admin/contacts", false)
	if doc.Find("#privacy-pending").Length() != 1 {
		t.Error("contacts page does not tell about the deletion request")
	}
	_, doc = admin.get("/admin/privacy", false)
	href := doc.Find("#privacy-requests a[href$='/erase']").AttrOr("href", "")
	if href != "/admin/contacts/"+strconv.FormatInt(fx.Alice, 10)+"/erase" || !strings.Contains(doc.Find("#privacy-requests").Text(), fx.AliceEmail) {
		t.Fatalf("privacy requests: %q (%s)", doc.Find("#privacy-requests").Text(), href)
	}
	agent := ts.client()
	agent.staffSignIn("agent@portico.test")
	if resp, _ := agent.get(href, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent opens the erasure page: %d", resp.StatusCode)
	}
	if resp, _ := agent.post(href, url.Values{"confirm_email": {fx.AliceEmail}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent erases: %d", resp.StatusCode)
	}
	_, doc = admin.get(href, false)
	if doc.Find("#erase-form #confirm_email").Length() != 1 || doc.Find("#erasure-requested").Length() != 1 {
		t.Fatal("erasure page lacks the confirmation field or the request notice")
	}
	resp, doc = admin.post(href, url.Values{"confirm_email": {"someone@else.test"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#confirm_email-error").Length() != 1 ||
		doc.Find("#confirm_email").AttrOr("value", "") != "someone@else.test" {
		t.Fatalf("wrong confirmation: %d", resp.StatusCode)
	}
	resp, _ = admin.post(href, url.Values{"confirm_email": {strings.ToUpper(fx.AliceEmail)}}, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/privacy?erased=") {
		t.Fatalf("erase: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, doc = admin.get(resp.Header.Get("Location"), false)
	if doc.Find("#erased-notice").Length() != 1 || strings.Contains(doc.Find("#privacy-requests").Text(), fx.AliceEmail) {
		t.Error("after erasure: no notice, or the request is still listed")
	}
	// Alice's session is gone.
	if resp, _ := alice.get("/account", false); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("erased customer's session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The staff see the ticket with "Deleted contact"; the contact list no longer has her.
	_, doc = admin.get("/admin/inbox/"+strconv.FormatInt(fx.AliceOpen, 10), false)
	if !strings.Contains(doc.Text(), "Deleted contact") || strings.Contains(doc.Text(), fx.AliceEmail) || strings.Contains(doc.Text(), "Alice Archer") {
		t.Error("inbox ticket of the erased contact does not read Deleted contact, or still names her")
	}
	_, doc = admin.get("/admin/contacts", false)
	if strings.Contains(doc.Text(), "Alice Archer") || strings.Contains(doc.Text(), "erased.invalid") {
		t.Error("the erased contact is still listed")
	}
	if resp, _ := admin.get(href, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("erasure page of an erased contact: %d", resp.StatusCode)
	}
	// Bob, her colleague, sees the company ticket with "Deleted contact" in company mode.
	if _, err := pool.Exec(context.Background(), `INSERT INTO portal_settings (key, value) VALUES ('ticket_permissions', '"company"')
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
		t.Fatal(err)
	}
	bob := ts.client()
	bob.signIn(fx.BobEmail, fx.Password)
	_, doc = bob.get("/tickets/"+strconv.FormatInt(fx.AliceOpen, 10), false)
	if !strings.Contains(doc.Text(), "Deleted contact") || strings.Contains(doc.Text(), "Alice Archer") {
		t.Error("the colleague's view of the kept ticket does not read Deleted contact")
	}
}

// TestErasedContactSessionEnds: a session that outlives an erasure (ending the sessions in
// Redis failed, or another path erased without it) ends on its next request — on this instance
// and on another whose contact cache held the contact.
func TestErasedContactSessionEnds(t *testing.T) {
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	a := newTestServerWithPrefix(t, pool, prefix)
	b := newTestServerWithPrefix(t, pool, prefix)
	a.waitLive()
	b.waitLive()
	fx := storetest.MustStandard(t, pool)
	bob := b.client()
	bob.signIn(fx.BobEmail, fx.Password)
	if resp, _ := bob.get("/tickets", false); resp.StatusCode != http.StatusOK { // b caches Bob
		t.Fatalf("before the erasure: %d", resp.StatusCode)
	}
	adminID := mustStaff(t, pool, "root@portico.test", "Root Admin", "admin")
	if _, err := a.Store.ContactErase(context.Background(), store.Staff{ID: adminID, Name: "Root Admin", Role: "admin"}, fx.Bob, store.ErasureOptions{}); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		resp, _ := bob.get("/tickets", false)
		if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("the erased contact's session still answers %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
