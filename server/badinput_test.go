package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestMalformedMultipartIs400: bodies that are not valid multipart (RFC 7578, RFC 2046 §5.1) on
// the upload routes are the client's fault: 400 with the "form could not be read" message (which
// htmx shows beside the untouched form), never a 500 or a 503, and nothing stored (issue 11).
func TestMalformedMultipartIs400(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	c.get(ticketPath(fx.AliceOpen), false)
	const b = "XyZboundary"
	part := func(header, body string) string {
		return "--" + b + "\r\n" + header + "\r\n\r\n" + body + "\r\n"
	}
	csrf := part(`Content-Disposition: form-data; name="_csrf"`, c.csrf)
	text := part(`Content-Disposition: form-data; name="body"`, "kept words")
	end := "--" + b + "--\r\n"
	cases := []struct{ name, ctype, body string }{
		{"no boundary", "multipart/form-data", csrf + text + end},
		{"unparsable content type", "multipart/form-data; boundary=", csrf + text + end},
		{"truncated", "multipart/form-data; boundary=" + b, csrf + "--" + b + "\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nkept wo"},
		{"header line without colon", "multipart/form-data; boundary=" + b, csrf + part("Content-Disposition form-data name body", "kept words") + end},
		{"NUL in part header", "multipart/form-data; boundary=" + b, csrf + part("Content-Disposition: form-data; name=\"bo\x00dy\"", "kept words") + end},
		{"NUL in file name", "multipart/form-data; boundary=" + b, csrf + text +
			part("Content-Disposition: form-data; name=\"files\"; filename=\"a\x00.txt\"\r\nContent-Type: text/plain", "hello") + end},
	}
	for _, tc := range cases {
		for _, hx := range []bool{true, false} {
			resp, body := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", tc.ctype, []byte(tc.body), hx)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s (htmx %v): %d, want 400", tc.name, hx, resp.StatusCode)
				continue
			}
			if !strings.Contains(string(body), "could not be read") && !strings.Contains(string(body), "cannot be processed") {
				t.Errorf("%s (htmx %v): no message in %.200q", tc.name, hx, body)
			}
		}
	}
	if n := countRows(t, ts, `SELECT count(*) FROM messages WHERE body LIKE 'kept%'`); n != 0 {
		t.Fatalf("%d messages stored from malformed bodies", n)
	}
	// The support form's upload route too.
	resp, _ := c.postMultipart("/tickets/new", "multipart/form-data", []byte(csrf+text+end), true)
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		t.Errorf("support form without boundary: %d", resp.StatusCode)
	}
}

// TestInvisibleFormatCharactersRemoved: a right-to-left override (U+202E) and other invisible
// format characters (Unicode Cf) are removed from attachment names and display names, so
// "\u202Efdp.txt" cannot show as "txt.pdf" (issue 11).
func TestInvisibleFormatCharactersRemoved(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	c.get(ticketPath(fx.AliceOpen), false)
	ctype, body := multipartBody(t, [][2]string{{"_csrf", c.csrf}, {"body", "see file"}}, []filePart{{"\u202Efdp\u200B.txt", []byte("plain text\n")}})
	if resp, _ := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	var name string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT file_name FROM attachments`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "fdp.txt" {
		t.Fatalf("stored file name %q, want %q", name, "fdp.txt")
	}
	c.get("/account", false)
	resp, _ := c.post("/account", url.Values{"name": {"Alice\u202E \u2066Archer\u2069\u200D"}, "language": {"en"}}, false)
	if resp.StatusCode >= 400 {
		t.Fatalf("account update: %d", resp.StatusCode)
	}
	if err := ts.Pool.QueryRow(context.Background(), `SELECT name FROM contacts WHERE id = $1`, fx.Alice).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Alice Archer" {
		t.Fatalf("stored display name %q, want %q", name, "Alice Archer")
	}
}

// TestDraftLinkCannotPlantText: a draft kept for one browser (whose session had expired) comes
// back only in that browser: a link carrying its id, opened by a signed-in customer elsewhere,
// shows nothing of it (issue 11: drafts were bound only to the ticket).
func TestDraftLinkCannotPlantText(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	// The attacker: a made-up session cookie on a reply to the victim's ticket.
	attacker := ts.client()
	attacker.cookies[ts.Handlers.SessionCookieName()] = strings.Repeat("A", 43)
	resp, _ := attacker.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"send your password to evil@example.com"}, "_csrf": {"x"}}, false)
	u, _ := url.Parse(resp.Header.Get("Location"))
	ret := u.Query().Get("return_to")
	if !strings.Contains(ret, "draft=") {
		t.Fatalf("no draft kept for the made-up cookie: %q", resp.Header.Get("Location"))
	}
	// The victim follows the crafted link after signing in.
	victim := ts.client()
	victim.signIn(fx.AliceEmail, fx.Password)
	_, doc := victim.get(ret, false)
	if strings.Contains(doc.Find("main").Text(), "evil@example.com") || doc.Find("#reply-notice").Length() != 0 {
		t.Fatal("a link planted text in another person's reply box")
	}
}

// TestCSRFTokenNotFromQueryString: the token is accepted from the form field or the header,
// never from the query string (it would leak through logs, history and Referer).
func TestCSRFTokenNotFromQueryString(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	c.get(ticketPath(fx.AliceOpen), false)
	req := httptest.NewRequest(http.MethodPost, ticketPath(fx.AliceOpen)+"/replies?_csrf="+url.QueryEscape(c.csrf),
		strings.NewReader(url.Values{"body": {"via query"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp := c.do(req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token in the query string: %d, want 403", resp.StatusCode)
	}
	// The same token in the form field is accepted.
	if resp, _ := c.post(ticketPath(fx.AliceOpen)+"/replies", url.Values{"body": {"via field"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("token in the form field: %d", resp.StatusCode)
	}
}

// TestStreamedUploadRouteRule: the route rule streamedUpload matches exactly the named routes
// (a ticket's replies, the support form, the agent inbox's messages) and nothing beside them.
func TestStreamedUploadRouteRule(t *testing.T) {
	ts := newTestServer(t, nil)
	for path, want := range map[string]bool{
		"/tickets/new": true, "/tickets/12/replies": true, "/admin/inbox/7/messages": true,
		"/tickets/12/close": false, "/tickets/12/replies/x": false, "/tickets//replies": false,
		"/account": false, "/admin/branding/logo": false, "/tickets": false,
	} {
		if got := ts.uploads.match(path); got != want {
			t.Errorf("%s: streamed upload %v, want %v", path, got, want)
		}
	}
}
