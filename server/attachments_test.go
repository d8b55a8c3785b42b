package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// pngBytes is a valid 1×1 PNG.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

type filePart struct {
	name string
	data []byte
}

// multipartBody builds a reply form: fields in order (csrf first unless csrfLast), then files.
func multipartBody(t *testing.T, fields [][2]string, files []filePart) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	for _, f := range files {
		fw, err := w.CreateFormFile("files", f.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func (c *client) postMultipart(path, ctype string, body []byte, hx bool) (*http.Response, []byte) {
	c.ts.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if hx {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp := c.do(req)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// blobFiles lists the files in the server's blob directory.
func blobFiles(t *testing.T, ts *testServer) []string {
	t.Helper()
	dir := strings.TrimPrefix(strings.SplitN(ts.Config.BlobURL, "?", 2)[0], "file://")
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".attrs") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func countRows(t *testing.T, ts *testServer, sql string, args ...any) int {
	var n int
	if err := ts.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAttachmentRoundTripAndScope(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	alice := ts.client()
	alice.signIn(fx.AliceEmail, fx.Password)
	text := []byte("log line 1\nlog line 2\n")
	ctype, body := multipartBody(t, [][2]string{{"body", "see attached"}}, []filePart{{"screen.png", pngBytes}, {"../../etc/passwd.txt", text}})
	resp, _ := alice.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true)
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	rows, err := ts.Pool.Query(context.Background(), `SELECT id, file_name, content_type, size_bytes, sha256 FROM attachments ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type att struct {
		id               int64
		name, ctype, sum string
		size             int64
	}
	var atts []att
	for rows.Next() {
		var a att
		rows.Scan(&a.id, &a.name, &a.ctype, &a.size, &a.sum)
		atts = append(atts, a)
	}
	rows.Close()
	if len(atts) != 2 || atts[0].ctype != "image/png" || atts[1].name != "passwd.txt" || atts[1].ctype != "text/plain" {
		t.Fatalf("stored: %+v", atts)
	}
	for i, want := range [][]byte{pngBytes, text} {
		sum := sha256.Sum256(want)
		if atts[i].sum != hex.EncodeToString(sum[:]) || atts[i].size != int64(len(want)) {
			t.Errorf("%s: sha %s size %d", atts[i].name, atts[i].sum, atts[i].size)
		}
		resp := alice.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", atts[i].id), nil))
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("download %s: %d, %d bytes", atts[i].name, resp.StatusCode, len(got))
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("Content-Disposition %q", cd)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Error("no nosniff")
		}
	}
	// The ticket page lists both with download links.
	_, doc := alice.get(ticketPath(fx.AliceOpen), false)
	if n := doc.Find(".attachments a[href^='/attachments/']").Length(); n != 2 {
		t.Errorf("ticket page lists %d attachments", n)
	}
	// Same company, own mode: Bob may not download; Carol never. 404 like a missing file.
	for _, email := range []string{fx.BobEmail, fx.CarolEmail} {
		other := ts.client()
		other.signIn(email, fx.Password)
		resp := other.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", atts[0].id), nil))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s download: %d, want 404", email, resp.StatusCode)
		}
	}
	// Signed out: sign-in first.
	if resp := ts.client().do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", atts[0].id), nil)); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("anonymous download: %d", resp.StatusCode)
	}
}

func TestAttachmentRefusalsKeepTextAndLeaveNothing(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "attachment_max_file_bytes", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "attachment_max_files", "2"); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), bytes.Repeat([]byte{0}, 200)...)
	cases := map[string][]filePart{
		"too large":        {{"big.txt", bytes.Repeat([]byte("a"), 2000)}},
		"too many":         {{"a.txt", []byte("a")}, {"b.txt", []byte("b")}, {"c.txt", []byte("c")}},
		"disguised exe":    {{"report.pdf", exe}},
		"png named as pdf": {{"invoice.pdf", pngBytes}},
		"second bad":       {{"ok.txt", []byte("fine")}, {"evil.pdf", exe}},
	}
	for name, files := range cases {
		ctype, body := multipartBody(t, [][2]string{{"body", "my words " + name}}, files)
		resp, out := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(out), "my words "+name) || !strings.Contains(string(out), `id="reply-files-error"`) {
			t.Errorf("%s: status %d, text kept %v", name, resp.StatusCode, strings.Contains(string(out), "my words"))
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments`); n != 0 {
		t.Errorf("%d attachment rows after refusals", n)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body LIKE 'my words%'`); n != 0 {
		t.Errorf("%d messages stored after refusals", n)
	}
	if files := blobFiles(t, ts); len(files) != 0 {
		t.Errorf("blobs left behind: %v", files)
	}
}

func TestPlainFormUploadCSRF(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	path := ticketPath(fx.AliceOpen) + "/replies"
	// Without JavaScript the token is the first part: accepted, 303.
	ctype, body := multipartBody(t, [][2]string{{"_csrf", c.csrf}, {"body", "plain upload"}}, []filePart{{"notes.txt", []byte("hello")}})
	if resp, _ := c.postMultipart(path, ctype, body, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("plain upload: %d", resp.StatusCode)
	}
	// A wrong token, or a file before the token: 403 and nothing stored.
	for name, fields := range map[string][][2]string{
		"wrong token": {{"_csrf", "x" + c.csrf}, {"body", "forged"}},
		"no token":    {{"body", "forged"}},
	} {
		ctype, body := multipartBody(t, fields, []filePart{{"forged.txt", []byte("forged")}})
		if resp, _ := c.postMultipart(path, ctype, body, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM attachments WHERE file_name = 'forged.txt'`); n != 0 {
		t.Error("forged upload stored")
	}
	if files := blobFiles(t, ts); len(files) != 1 {
		t.Errorf("blobs: %v, want only notes.txt", files)
	}
	// A multipart POST elsewhere without a header token falls back to the form field.
	ctype, body = multipartBody(t, [][2]string{{"body", "x"}}, nil)
	if resp, _ := c.postMultipart(ticketPath(fx.AliceOpen)+"/close", ctype, body, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("multipart close without token: %d", resp.StatusCode)
	}
}

// TestUploadDisconnectLeavesNothing: the client goes away halfway through a file.
func TestUploadDisconnectLeavesNothing(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.App.Listener(ln)
	t.Cleanup(func() { ts.Shutdown(5 * time.Second) })

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB of text
	ctype, body := multipartBody(t, [][2]string{{"body", "half sent"}}, []filePart{{"big.txt", big}})
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var cookies []string
	for k, v := range c.cookies {
		cookies = append(cookies, k+"="+v)
	}
	fmt.Fprintf(conn, "POST %s/replies HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-CSRF-Token: %s\r\nHX-Request: true\r\nCookie: %s\r\n\r\n",
		ticketPath(fx.AliceOpen), ctype, len(body), c.csrf, strings.Join(cookies, "; "))
	conn.Write(body[:len(body)/2])
	time.Sleep(50 * time.Millisecond) // let the server start streaming the file
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files := blobFiles(t, ts)
		rows := countRows(t, ts, `SELECT count(*) FROM attachments`) + countRows(t, ts, `SELECT count(*) FROM messages WHERE body = 'half sent'`)
		if len(files) == 0 && rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after disconnect: blobs %v, rows %d", files, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplyAfterExpiryKeepsDraft(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	ts.Redis.Del(ctx, ts.prefix+"s:"+c.cookies["portico_session"]) // the session expires while typing
	resp, _ := c.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"a long careful answer"}}, true)
	loc := resp.Header.Get("HX-Redirect")
	if !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("expired reply: %d HX-Redirect %q", resp.StatusCode, loc)
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body = 'a long careful answer'`); n != 0 {
		t.Fatal("reply stored although the session had expired")
	}
	u, _ := url.Parse(loc)
	ret := u.Query().Get("return_to")
	c.get(loc, false)
	resp, _ = c.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}, "return_to": {ret}}, false)
	_, doc := c.get(resp.Header.Get("Location"), false)
	if got := doc.Find("#reply-body").Text(); got != "a long careful answer" {
		t.Fatalf("reply box after sign-in = %q", got)
	}
	if doc.Find("#reply-notice").Length() != 1 {
		t.Error("no notice that the reply was not sent")
	}
	// The draft is single use.
	_, doc = c.get(resp.Header.Get("Location"), false)
	if doc.Find("#reply-body").Text() != "" {
		t.Error("draft restored twice")
	}
}

func TestCloseFromPortalAndReopenOnReply(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#close-form").Length() != 1 {
		t.Fatal("no close form on an open ticket")
	}
	// Carol cannot close Alice's ticket.
	carol := ts.client()
	carol.signIn(fx.CarolEmail, fx.Password)
	if resp, _ := carol.post(ticketPath(fx.AliceOpen)+"/close", nil, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Carol closing Alice's ticket: %d", resp.StatusCode)
	}
	if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/close", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	var closed bool
	var stage string
	ts.Pool.QueryRow(ctx, `SELECT t.is_closed, s.name FROM tickets t JOIN stages s ON s.id = t.stage_id WHERE t.id = $1`, fx.AliceOpen).Scan(&closed, &stage)
	if !closed || stage != "Closed" {
		t.Fatalf("after close: closed %v stage %q", closed, stage)
	}
	_, doc = c.get(ticketPath(fx.AliceOpen), false)
	if doc.Find("#close-form").Length() != 0 || doc.Find("#reply-form").Length() != 0 {
		t.Error("closed ticket still offers close or reply")
	}
	// With reopen_on_reply the customer may answer, and the ticket opens again.
	ts.Store.SettingSet(ctx, "reopen_on_reply", "true")
	if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"it broke again"}}, true); resp.StatusCode != 200 {
		t.Fatalf("reply to reopen: %d", resp.StatusCode)
	}
	ts.Pool.QueryRow(ctx, `SELECT t.is_closed, s.name FROM tickets t JOIN stages s ON s.id = t.stage_id WHERE t.id = $1`, fx.AliceOpen).Scan(&closed, &stage)
	if closed || stage != "New" {
		t.Fatalf("after reply: closed %v stage %q", closed, stage)
	}
	// The setting off: the close route is refused.
	ts.Store.SettingSet(ctx, "allow_close_from_portal", "false")
	if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/close", nil, false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("close while not allowed: %d", resp.StatusCode)
	}
}

// TestDraftOnlyForItsTicket: a kept draft comes back only in the reply box of its own ticket, so
// a link cannot plant text in another ticket's box; and no cookie at all keeps nothing.
func TestDraftOnlyForItsTicket(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	ts.Redis.Del(ctx, ts.prefix+"s:"+c.cookies["portico_session"])
	resp, _ := c.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"planted text"}}, false)
	u, _ := url.Parse(resp.Header.Get("Location"))
	ret, _ := url.Parse(u.Query().Get("return_to"))
	draft := ret.Query().Get("draft")
	if draft == "" {
		t.Fatalf("no draft kept: %q", resp.Header.Get("Location"))
	}
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get(ticketPath(fx.AliceClosed)+"?draft="+draft, false)
	if strings.Contains(doc.Find("main").Text(), "planted text") {
		t.Fatal("draft restored into another ticket")
	}
	// Without any session cookie, nothing is kept.
	anon := ts.client()
	before := len(ts.Redis.Keys(ctx, ts.prefix+"draft:*").Val())
	anon.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"spam"}}, false)
	if after := len(ts.Redis.Keys(ctx, ts.prefix+"draft:*").Val()); after != before {
		t.Fatal("a cookieless POST left a draft in Redis")
	}
}

// TestAttachmentOfHiddenThreadRefused: with only the oldest thread shown, files of later
// threads are not downloadable either.
func TestAttachmentOfHiddenThreadRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	var attID int64
	if err := ts.Pool.QueryRow(ctx, `WITH cv AS (INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
			SELECT $1, id, 'chat', now() FROM inboxes WHERE is_default RETURNING id),
		m AS (INSERT INTO messages (conversation_id, ticket_id, kind, body) SELECT cv.id, $1, 'public', 'later thread' FROM cv RETURNING id)
		INSERT INTO attachments (message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key)
		SELECT m.id, $1, 'later.txt', 'text/plain', 1, 'x', 'hidden-thread-blob' FROM m RETURNING id`, fx.AliceOpen).Scan(&attID); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.Blobs.WriteAll(ctx, "hidden-thread-blob", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	resp := c.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", attID), nil))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("attachment of a hidden thread: %d", resp.StatusCode)
	}
	// With all threads shown it is listed and downloads.
	ts.Store.SettingSet(ctx, "show_all_threads", "true")
	_, doc := c.get(ticketPath(fx.AliceOpen), false)
	if doc.Find(fmt.Sprintf(`a[href="/attachments/%d"]`, attID)).Length() != 1 {
		t.Fatal("attachment of the shown thread not listed")
	}
	if resp := c.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", attID), nil)); resp.StatusCode != 200 {
		t.Fatalf("attachment of a shown thread: %d", resp.StatusCode)
	}
}
