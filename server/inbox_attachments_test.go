package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/store"
)

// inboxPath is the staff page of a ticket.
func inboxPath(id int64) string { return "/admin/inbox/" + itoa(id) }

// download GETs path with c's session and returns the response (body read) and its bytes.
func (c *client) download(path string) (*http.Response, []byte) {
	c.ts.t.Helper()
	resp := c.do(httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// attachmentIDs returns the ids and names of the ticket's attachments, oldest first, with the
// kind of the message each belongs to.
func attachmentIDs(t *testing.T, ts *testServer, ticketID int64) (ids []int64, names, kinds []string) {
	t.Helper()
	rows, err := ts.Pool.Query(context.Background(), `SELECT a.id, a.file_name, m.kind FROM attachments a
		JOIN messages m ON m.id = a.message_id WHERE a.ticket_id = $1 ORDER BY a.id`, ticketID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name, kind string
		if err := rows.Scan(&id, &name, &kind); err != nil {
			t.Fatal(err)
		}
		ids, names, kinds = append(ids, id), append(names, name), append(kinds, kind)
	}
	return ids, names, kinds
}

// TestInboxShowsCustomerAttachmentsAndProperties: a customer's files are listed on the agent's
// ticket page and download byte-identical from the staff route, with the download headers; the
// ticket's custom properties (escaped) and tags show; no customer reaches the staff route.
func TestInboxShowsCustomerAttachmentsAndProperties(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	text := []byte("error log\nline 2\n")
	ctype, body := multipartBody(t, [][2]string{{"body", "see attached"}}, []filePart{{"screen.png", pngBytes}, {"error.log", text}})
	if resp, _ := f.alice.postMultipart(ticketPath(f.fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != 200 {
		t.Fatalf("customer upload: %d", resp.StatusCode)
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE tickets SET properties = $2, tags = $3 WHERE id = $1`, f.fx.AliceOpen,
		`{"serial_number": "<b>SN-42</b>", "seats": 12}`, []string{"vip", "printer"}); err != nil {
		t.Fatal(err)
	}
	ids, _, _ := attachmentIDs(t, ts, f.fx.AliceOpen)
	if len(ids) != 2 {
		t.Fatalf("%d attachments stored", len(ids))
	}

	resp, doc := f.agent.get(inboxPath(f.fx.AliceOpen), false)
	if resp.StatusCode != 200 {
		t.Fatalf("inbox ticket: %d", resp.StatusCode)
	}
	links := doc.Find(".attachments a[href^='/admin/attachments/']")
	if links.Length() != 2 || !strings.Contains(links.Text(), "screen.png") || !strings.Contains(links.Text(), "error.log") {
		t.Fatalf("inbox lists %d attachment links: %q", links.Length(), links.Text())
	}
	if doc.Find(".attachments a[href^='/attachments/']").Length() != 0 {
		t.Error("the inbox links to the customer download route")
	}
	if src, _ := doc.Find(".attachments img.thumb").Attr("src"); src != fmt.Sprintf("/admin/attachments/%d?inline=1", ids[0]) {
		t.Errorf("thumbnail src %q", src)
	}
	for i, want := range [][]byte{pngBytes, text} {
		resp, got := f.agent.download(fmt.Sprintf("/admin/attachments/%d", ids[i]))
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("agent download %d: %d, %d bytes", ids[i], resp.StatusCode, len(got))
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("Content-Disposition %q", cd)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("headers: %v", resp.Header)
		}
	}
	// Inline only for images.
	if resp, _ := f.agent.download(fmt.Sprintf("/admin/attachments/%d?inline=1", ids[0])); !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline;") {
		t.Errorf("png inline: %q", resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := f.agent.download(fmt.Sprintf("/admin/attachments/%d?inline=1", ids[1])); !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("text inline: %q", resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := f.agent.download("/admin/attachments/999999"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown attachment: %d", resp.StatusCode)
	}

	// Custom properties, values escaped; tags.
	props := map[string]string{}
	doc.Find("#custom-properties dt").Each(func(_ int, s *goquery.Selection) {
		props[strings.TrimSpace(s.Text())] = strings.TrimSpace(s.Next().Text())
	})
	if props["serial_number"] != "<b>SN-42</b>" || props["seats"] != "12" {
		t.Errorf("custom properties: %v", props)
	}
	if doc.Find("#custom-properties b").Length() != 0 {
		t.Error("a property value was not escaped")
	}
	if got := texts(doc, "#ticket-tags li"); len(got) != 2 || got[0] != "vip" || got[1] != "printer" {
		t.Errorf("tags: %v", got)
	}

	// Customers (even the file's owner) and anonymous visitors never reach the staff route.
	anon := ts.client()
	for name, c := range map[string]*client{"owner": f.alice, "anonymous": anon} {
		resp, got := c.download(fmt.Sprintf("/admin/attachments/%d", ids[0]))
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") || bytes.Contains(got, pngBytes) {
			t.Errorf("%s on the staff route: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestInboxReplyWithAttachmentsReachesCustomer: an agent's public reply with two files; the
// customer sees and downloads them byte-identical; other customers get 404.
func TestInboxReplyWithAttachmentsReachesCustomer(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	f.agent.get(inboxPath(f.fx.AliceOpen), false)
	report := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	steps := []byte("1. unplug\n2. wait\n3. plug in\n")
	ctype, body := multipartBody(t, [][2]string{{"body", "Here are the steps."}}, []filePart{{"steps.txt", steps}, {"report.pdf", report}})
	resp, out := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, true)
	if resp.StatusCode != 200 {
		t.Fatalf("agent reply: %d %s", resp.StatusCode, out)
	}
	if n := strings.Count(string(out), `href="/admin/attachments/`); n != 2 {
		t.Errorf("fragment lists %d staff attachment links", n)
	}
	ids, names, kinds := attachmentIDs(t, ts, f.fx.AliceOpen)
	if len(ids) != 2 || names[0] != "steps.txt" || names[1] != "report.pdf" || kinds[0] != "public" || kinds[1] != "public" {
		t.Fatalf("stored: %v %v %v", ids, names, kinds)
	}
	if n := countRows(t, ts, `SELECT count(DISTINCT m.id) FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.author_staff_id = $1 AND m.body = 'Here are the steps.'`, f.agentID); n != 1 {
		t.Errorf("files on %d agent messages, want 1", n)
	}
	if files := blobFiles(t, ts); len(files) != 2 {
		t.Errorf("blobs: %v", files)
	}

	// The customer's ticket page lists both, linked to the customer route.
	_, doc := f.alice.get(ticketPath(f.fx.AliceOpen), false)
	for _, id := range ids {
		if doc.Find(fmt.Sprintf(".attachments a[href='/attachments/%d']", id)).Length() != 1 {
			t.Errorf("customer page lacks attachment %d", id)
		}
	}
	for i, want := range [][]byte{steps, report} {
		resp, got := f.alice.download(fmt.Sprintf("/attachments/%d", ids[i]))
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("customer download %s: %d, %d bytes", names[i], resp.StatusCode, len(got))
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("customer download headers: %v", resp.Header)
		}
	}
	// Another company's customer, and a colleague in own-tickets mode: 404.
	for _, email := range []string{f.fx.CarolEmail, f.fx.BobEmail} {
		other := ts.client()
		other.signIn(email, f.fx.Password)
		if resp, _ := other.download(fmt.Sprintf("/attachments/%d", ids[0])); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", email, resp.StatusCode)
		}
	}

	// Without JavaScript: the CSRF token is the first part; 303 back to the message.
	ctype, body = multipartBody(t, [][2]string{{"_csrf", f.agent.csrf}, {"body", "Plain form."}}, []filePart{{"plain.txt", []byte("plain")}})
	resp, _ = f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), inboxPath(f.fx.AliceOpen)+"#message-") {
		t.Fatalf("plain upload: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A file before the token, or a wrong token: 403 and nothing kept.
	for name, fields := range map[string][][2]string{"no token": {{"body", "forged"}}, "wrong token": {{"_csrf", "x" + f.agent.csrf}, {"body", "forged"}}} {
		ctype, body := multipartBody(t, fields, []filePart{{"forged.txt", []byte("forged")}})
		if resp, _ := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments WHERE file_name = 'forged.txt'`); n != 0 {
		t.Error("forged upload stored")
	}
	if files := blobFiles(t, ts); len(files) != 3 {
		t.Errorf("blobs: %v, want 3", files)
	}
	// A customer session posting to the inbox route is sent to the staff sign-in; nothing stored.
	ctype, body = multipartBody(t, [][2]string{{"_csrf", f.alice.csrf}, {"body", "customer forged"}}, []filePart{{"cust.txt", []byte("x")}})
	if resp, _ := f.alice.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("customer on the inbox route: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments WHERE file_name = 'cust.txt'`); n != 0 {
		t.Error("customer upload through the inbox stored")
	}
}

// TestInboxNoteAttachmentNeverReachesCustomer: a file on an internal note is listed for staff and
// downloadable by them, but never listed to, nor downloadable by, the customer — not even with
// every thread shown.
func TestInboxNoteAttachmentNeverReachesCustomer(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	f.agent.get(inboxPath(f.fx.AliceOpen), false)
	secret := []byte("SECRET-FILE internal credentials\n")
	ctype, body := multipartBody(t, [][2]string{{"body", "Note with a file"}, {"internal", "true"}}, []filePart{{"secret-notes.txt", secret}})
	resp, out := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, true)
	if resp.StatusCode != 200 || !strings.Contains(string(out), "secret-notes.txt") {
		t.Fatalf("note with a file: %d", resp.StatusCode)
	}
	ids, _, kinds := attachmentIDs(t, ts, f.fx.AliceOpen)
	if len(ids) != 1 || kinds[0] != "internal_note" {
		t.Fatalf("stored: %v %v", ids, kinds)
	}
	path := fmt.Sprintf("/attachments/%d", ids[0])
	if resp, got := f.agent.download(fmt.Sprintf("/admin/attachments/%d", ids[0])); resp.StatusCode != 200 || !bytes.Equal(got, secret) {
		t.Errorf("agent download of the note's file: %d", resp.StatusCode)
	}
	check := func(when string) {
		t.Helper()
		resp, got := f.alice.download(path)
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(got, secret) {
			t.Errorf("%s: customer download of a note's file: %d", when, resp.StatusCode)
		}
		for _, p := range []string{ticketPath(f.fx.AliceOpen), ticketPath(f.fx.AliceOpen) + "/messages?after=0"} {
			_, page := f.alice.download(p)
			if bytes.Contains(page, []byte("secret-notes")) || bytes.Contains(page, []byte(path)) || bytes.Contains(page, []byte("Note with a file")) {
				t.Errorf("%s: %s shows the note or its file", when, p)
			}
		}
		// Searching for the note's text or its file's name finds nothing.
		for _, q := range []string{"secret-notes", "Note+with+a+file"} {
			_, doc := f.alice.get("/tickets?q="+q, false)
			if doc.Find(fmt.Sprintf("a[href='%s']", ticketPath(f.fx.AliceOpen))).Length() != 0 {
				t.Errorf("%s: search %q finds the ticket through its note", when, q)
			}
		}
		v := store.NewViewer(f.fx.Alice, f.fx.Acme, mustSettings(t, ts), "")
		if _, r, err := ts.Store.AttachmentGetForViewer(ctx, v, ids[0]); !errors.Is(err, store.ErrNotFound) {
			if r != nil {
				r.Close()
			}
			t.Errorf("%s: AttachmentGetForViewer of a note's file: %v", when, err)
		}
	}
	check("default")
	if err := ts.Store.SettingSet(ctx, "show_all_threads", "true"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "ticket_permissions", store.PermissionsCompany); err != nil {
		t.Fatal(err)
	}
	check("all threads")
	// Another customer: 404 too.
	carol := ts.client()
	carol.signIn(f.fx.CarolEmail, f.fx.Password)
	if resp, _ := carol.download(path); resp.StatusCode != http.StatusNotFound {
		t.Errorf("carol: %d", resp.StatusCode)
	}
}

// mustSettings reads the current settings.
func mustSettings(t *testing.T, ts *testServer) store.Settings {
	t.Helper()
	st, err := ts.Store.SettingsGet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestInboxUploadRefusalsKeepText: limits and refused types on the inbox form answer 422 with
// the typed text (and the note box) kept, and leave no message, row or blob.
func TestInboxUploadRefusalsKeepText(t *testing.T) {
	ts := newTestServer(t, nil)
	f := newStaffFixture(t, ts)
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "attachment_max_file_bytes", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "attachment_max_files", "2"); err != nil {
		t.Fatal(err)
	}
	_, doc := f.agent.get(inboxPath(f.fx.AliceOpen), false)
	form := doc.Find("#compose-form")
	if enc, _ := form.Attr("enctype"); enc != "multipart/form-data" {
		t.Errorf("compose form enctype %q", enc)
	}
	if _, ok := form.Attr("data-upload-progress"); !ok || form.Find("progress.upload-progress").Length() != 1 || form.Find("input[type=file][name=files][multiple]").Length() != 1 {
		t.Error("compose form lacks the file input or the progress bar")
	}
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), bytes.Repeat([]byte{0}, 200)...)
	cases := map[string][]filePart{
		"too large":        {{"big.txt", bytes.Repeat([]byte("a"), 2000)}},
		"too many":         {{"a.txt", []byte("a")}, {"b.txt", []byte("b")}, {"c.txt", []byte("c")}},
		"disguised exe":    {{"report.pdf", exe}},
		"png named as pdf": {{"invoice.pdf", pngBytes}},
		"second bad":       {{"ok.txt", []byte("fine")}, {"evil.pdf", exe}},
	}
	for name, files := range cases {
		for _, internal := range []bool{false, true} {
			fields := [][2]string{{"body", "agent words " + name}}
			if internal {
				fields = append(fields, [2]string{"internal", "true"})
			}
			ctype, body := multipartBody(t, fields, files)
			resp, out := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, true)
			page, err := goquery.NewDocumentFromReader(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnprocessableEntity || page.Find("#compose-body").Text() != "agent words "+name || page.Find("#compose-files-error").Length() != 1 {
				t.Errorf("%s (note %v): status %d, text %q", name, internal, resp.StatusCode, page.Find("#compose-body").Text())
			}
			if _, checked := page.Find("#compose-internal").Attr("checked"); checked != internal {
				t.Errorf("%s: note box checked %v, want %v", name, checked, internal)
			}
		}
	}
	// Without JavaScript: the whole page, 422, text kept.
	ctype, body := multipartBody(t, [][2]string{{"_csrf", f.agent.csrf}, {"body", "plain words"}}, []filePart{{"big.txt", bytes.Repeat([]byte("a"), 2000)}})
	resp, out := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(out), "plain words") || !strings.Contains(string(out), `id="compose-files-error"`) {
		t.Errorf("plain refusal: %d", resp.StatusCode)
	}
	// An empty text without files is still refused beside the text box.
	ctype, body = multipartBody(t, [][2]string{{"body", "  "}}, nil)
	if resp, out := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, true); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(out), `id="compose-error"`) {
		t.Errorf("empty reply: %d", resp.StatusCode)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments`); n != 0 {
		t.Errorf("%d attachment rows after refusals", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body LIKE 'agent words%' OR body LIKE 'plain words%'`); n != 0 {
		t.Errorf("%d messages stored after refusals", n)
	}
	if files := blobFiles(t, ts); len(files) != 0 {
		t.Errorf("blobs left behind: %v", files)
	}
	// Files alone (no text) are a valid message.
	ctype, body = multipartBody(t, [][2]string{{"body", ""}}, []filePart{{"only.txt", []byte("only a file")}})
	if resp, _ := f.agent.postMultipart(inboxPath(f.fx.AliceOpen)+"/messages", ctype, body, true); resp.StatusCode != 200 {
		t.Errorf("files without text: %d", resp.StatusCode)
	}
}
