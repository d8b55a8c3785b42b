package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// apiResp is one API answer.
type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %.300s", r.status, err, r.body)
	}
}

// problem decodes a problem answer and checks its media type and status member.
func (r apiResp) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d Content-Type %q, want application/problem+json: %.300s", r.status, ct, r.body)
	}
	var p map[string]any
	r.json(t, &p)
	if int(p["status"].(float64)) != r.status {
		t.Fatalf("problem status %v on a %d answer", p["status"], r.status)
	}
	return p
}

// apiRequest builds an API request with a bearer token ("" = none) and a JSON body ("" = none).
func apiRequest(method, path, token, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// apiDo runs req against the test server; validate (when set) checks the answer against the
// OpenAPI document.
func (ts *testServer) apiDo(req *http.Request) apiResp {
	ts.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(reqBody)))
	}
	resp, err := ts.App.Test(req, 10_000)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	r := apiResp{status: resp.StatusCode, header: resp.Header, body: b}
	if apiValidate != nil {
		req.Body = io.NopCloser(strings.NewReader(string(reqBody)))
		apiValidate(ts.t, req, r)
	}
	return r
}

func (ts *testServer) api(method, path, token, body string) apiResp {
	ts.t.Helper()
	return ts.apiDo(apiRequest(method, path, token, body))
}

// apiValidate, when set (api_openapi_test.go), validates every answer against the document.
var apiValidate func(t *testing.T, req *http.Request, r apiResp)

// mustToken creates a personal access token for contact.
func mustToken(t *testing.T, st *store.Store, contact int64) string {
	t.Helper()
	tok, err := st.APITokenCreateForContact(context.Background(), contact, "test", 30)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func ticketIDs(t *testing.T, r apiResp) map[int64]bool {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: status %d: %.300s", r.status, r.body)
	}
	var page struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	r.json(t, &page)
	out := map[int64]bool{}
	for _, d := range page.Data {
		out[d.ID] = true
	}
	return out
}

// TestAPICustomerViewerMatrix: a customer token sees exactly the portal's scope, in both
// permission modes: own tickets; the company's with view=org in company mode; never another
// company's (404 on detail, reply, close and attachments); never an internal note; the admin's
// ticket filters apply too.
func TestAPICustomerViewerMatrix(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	alice, carol := mustToken(t, ts.Store, fx.Alice), mustToken(t, ts.Store, fx.Carol)
	var carolAtt int64
	if err := ts.Pool.QueryRow(ctx, `INSERT INTO attachments (message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key)
		SELECT id, ticket_id, 'x.txt', 'text/plain', 1, 'x', 'none' FROM messages WHERE ticket_id = $1 AND kind = 'public' LIMIT 1 RETURNING id`, fx.CarolT).Scan(&carolAtt); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		mode, view string
		token      string
		want       []int64
		hidden     []int64
	}{
		{store.PermissionsOwn, "", alice, []int64{fx.AliceOpen, fx.AliceClosed}, []int64{fx.BobT, fx.CarolT}},
		{store.PermissionsOwn, "org", alice, []int64{fx.AliceOpen, fx.AliceClosed}, []int64{fx.BobT, fx.CarolT}},
		{store.PermissionsCompany, "org", alice, []int64{fx.AliceOpen, fx.AliceClosed, fx.BobT}, []int64{fx.CarolT}},
		{store.PermissionsCompany, "mine", alice, []int64{fx.AliceOpen, fx.AliceClosed}, []int64{fx.BobT, fx.CarolT}},
		{store.PermissionsCompany, "org", carol, []int64{fx.CarolT}, []int64{fx.AliceOpen, fx.AliceClosed, fx.BobT}},
	}
	for _, tc := range cases {
		if err := ts.Store.SettingSet(ctx, "ticket_permissions", tc.mode); err != nil {
			t.Fatal(err)
		}
		got := ticketIDs(t, ts.api("GET", "/api/v1/tickets?view="+tc.view, tc.token, ""))
		for _, id := range tc.want {
			if !got[id] {
				t.Errorf("%s view=%q: ticket %d missing from %v", tc.mode, tc.view, id, got)
			}
		}
		for _, id := range tc.hidden {
			if got[id] {
				t.Errorf("%s view=%q: ticket %d listed but outside the scope", tc.mode, tc.view, id)
			}
		}
	}
	// Company mode: Alice reaches Bob's ticket in detail, never Carol's.
	if r := ts.api("GET", "/api/v1/tickets/"+strconv.FormatInt(fx.BobT, 10), alice, ""); r.status != http.StatusOK {
		t.Errorf("company mode: Bob's ticket for Alice: %d", r.status)
	}
	for _, path := range []string{"/api/v1/tickets/" + strconv.FormatInt(fx.CarolT, 10), "/api/v1/attachments/" + strconv.FormatInt(carolAtt, 10), "/api/v1/tickets/999999"} {
		r := ts.api("GET", path, alice, "")
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s as Alice: %d, want 404", path, r.status)
		} else {
			r.problem(t)
		}
	}
	for _, path := range []string{"/messages", "/close"} {
		body := ""
		if path == "/messages" {
			body = `{"body":"let me in"}`
		}
		if r := ts.api("POST", "/api/v1/tickets/"+strconv.FormatInt(fx.CarolT, 10)+path, alice, body); r.status != http.StatusNotFound {
			t.Errorf("POST Carol's ticket %s as Alice: %d, want 404", path, r.status)
		}
	}
	var n int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE ticket_id = $1 AND body = 'let me in'`, fx.CarolT).Scan(&n)
	if n != 0 {
		t.Errorf("a refused reply was stored")
	}
	// Internal notes never leave: Alice's own ticket has one.
	r := ts.api("GET", "/api/v1/tickets/"+strconv.FormatInt(fx.AliceOpen, 10), alice, "")
	if r.status != http.StatusOK || strings.Contains(string(r.body), "SECRET-NOTE") || !strings.Contains(string(r.body), "Please unplug it.") {
		t.Errorf("detail: %d %.400s", r.status, r.body)
	}
	// The admin's ticket filters apply to the API like to the portal.
	var closedStage string
	_ = ts.Pool.QueryRow(ctx, `SELECT st.name FROM tickets t JOIN stages st ON st.id = t.stage_id WHERE t.id = $1`, fx.AliceClosed).Scan(&closedStage)
	if err := ts.Store.SettingSet(ctx, "ticket_filters", "stage is not "+closedStage); err != nil {
		t.Fatal(err)
	}
	if got := ticketIDs(t, ts.api("GET", "/api/v1/tickets", alice, "")); got[fx.AliceClosed] || !got[fx.AliceOpen] {
		t.Errorf("filtered list: %v", got)
	}
	if r := ts.api("GET", "/api/v1/tickets/"+strconv.FormatInt(fx.AliceClosed, 10), alice, ""); r.status != http.StatusNotFound {
		t.Errorf("filtered-out ticket: %d, want 404", r.status)
	}
}

// TestAPIAuthRefusals: no token, a malformed, unknown, revoked or expired token, a disabled
// account, and a session cookie without a token all answer 401 problems; a bearer token never
// opens an HTML page; the portal switch closes customer tokens too.
func TestAPIAuthRefusals(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	good := mustToken(t, ts.Store, fx.Alice)
	revoked := mustToken(t, ts.Store, fx.Alice)
	expired := mustToken(t, ts.Store, fx.Alice)
	bob := mustToken(t, ts.Store, fx.Bob)
	if _, err := ts.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = (SELECT max(id) - 1 FROM api_tokens WHERE contact_id = $1)`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = (SELECT max(id) FROM api_tokens WHERE contact_id = $1)`, fx.Alice); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE portal_accounts SET status = 'disabled' WHERE contact_id = $1`, fx.Bob); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("GET", "/api/v1/me", good, ""); r.status != http.StatusOK {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
	for name, tok := range map[string]string{"none": "", "garbage": "nope", "unknown": store.CustomerTokenPrefix + strings.Repeat("A", 43),
		"revoked": revoked, "expired": expired, "disabled account": bob} {
		r := ts.api("GET", "/api/v1/tickets", tok, "")
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q", name, r.status, r.header.Get("WWW-Authenticate"))
			continue
		}
		r.problem(t)
		if len(r.header.Values("Set-Cookie")) > 0 {
			t.Errorf("%s: the API set a cookie: %v", name, r.header.Values("Set-Cookie"))
		}
	}
	// A signed-in browser session is no API credential.
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	req := apiRequest("GET", "/api/v1/tickets", "", "")
	resp := c.do(req)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session cookie on the API: %d, want 401", resp.StatusCode)
	}
	// A bearer token never opens a page: /tickets still wants a session.
	r := ts.api("GET", "/tickets", good, "")
	if r.status == http.StatusOK || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("bearer token on /tickets: %d location %q, want the sign-in redirect", r.status, r.header.Get("Location"))
	}
	// Portal switched off: customer tokens get 503 like the portal.
	if err := ts.Store.SettingSet(ctx, "portal_enabled", "false"); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("GET", "/api/v1/tickets", good, ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("portal off: %d, want 503", r.status)
	} else {
		r.problem(t)
	}
	// Unknown API paths are problems, not pages.
	if err := ts.Store.SettingSet(ctx, "portal_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("GET", "/api/v1/nothing-here", good, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.status)
	} else {
		r.problem(t)
	}
}

// TestAPIReplyStrictJSONAndIdempotency: strict decoding (unknown field, bad JSON, wrong media
// type, oversize → 4xx problems, nothing stored), validation 422, the portal's closed-ticket rule,
// and an Idempotency-Key that replays the first answer without a second message.
func TestAPIReplyStrictJSONAndIdempotency(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	tok := mustToken(t, ts.Store, fx.Alice)
	path := "/api/v1/tickets/" + strconv.FormatInt(fx.AliceOpen, 10) + "/messages"
	count := func() int {
		var n int
		_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE ticket_id = $1`, fx.AliceOpen).Scan(&n)
		return n
	}
	before := count()
	for name, tc := range map[string]struct {
		body, ctype string
		status      int
		typ         string
	}{
		"unknown field": {`{"body":"hi","cc":"x"}`, "application/json", 400, "/api/v1/problems/unknown-field"},
		"bad JSON":      {`{"body":`, "application/json", 400, "/api/v1/problems/invalid-json"},
		"wrong type":    {`{"body":42}`, "application/json", 400, "/api/v1/problems/invalid-json"},
		"two values":    {`{"body":"a"}{"body":"b"}`, "application/json", 400, "/api/v1/problems/invalid-json"},
		"form body":     {`body=hi`, "application/x-www-form-urlencoded", 415, "about:blank"},
		"oversize":      {`{"body":"` + strings.Repeat("a", 70<<10) + `"}`, "application/json", 413, "about:blank"},
		"empty":         {`{"body":"  "}`, "application/json", 422, "/api/v1/problems/validation"},
		"too long":      {`{"body":"` + strings.Repeat("a", store.MaxReplyRunes+1) + `"}`, "application/json", 422, "/api/v1/problems/validation"},
	} {
		req := apiRequest("POST", path, tok, tc.body)
		req.Header.Set("Content-Type", tc.ctype)
		r := ts.apiDo(req)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d: %.200s", name, r.status, tc.status, r.body)
			continue
		}
		if p := r.problem(t); p["type"] != tc.typ {
			t.Errorf("%s: type %v, want %s", name, p["type"], tc.typ)
		}
	}
	if count() != before {
		t.Fatalf("refused bodies stored messages")
	}

	send := func(key, body string) apiResp {
		req := apiRequest("POST", path, tok, body)
		req.Header.Set("Idempotency-Key", key)
		return ts.apiDo(req)
	}
	first := send("k-1", `{"body":"Any news?"}`)
	if first.status != http.StatusCreated || first.header.Get("Location") == "" {
		t.Fatalf("reply: %d %s", first.status, first.body)
	}
	again := send("k-1", `{"body":"Any news?"}`)
	if again.status != http.StatusCreated || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	if count() != before+1 {
		t.Errorf("messages after a replayed reply: %d, want %d", count(), before+1)
	}
	if r := send("k-1", `{"body":"Something else"}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: %d, want 422", r.status)
	}
	// A second instance of the same deployment replays it too (the key lives in PostgreSQL).
	other := newTestServerWithPrefix(t, ts.Pool, ts.prefix)
	req := apiRequest("POST", path, tok, `{"body":"Any news?"}`)
	req.Header.Set("Idempotency-Key", "k-1")
	if r := other.apiDo(req); r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay on another instance: %d", r.status)
	}
	// The customer sees the reply through the portal's own page too.
	var m struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
	}
	first.json(t, &m)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get("/tickets/"+strconv.FormatInt(fx.AliceOpen, 10), false)
	if doc.Find("#message-"+strconv.FormatInt(m.ID, 10)).Length() != 1 {
		t.Errorf("the API's reply is not on the ticket page")
	}
	// Closed tickets refuse replies unless the settings allow them, as in the portal.
	closed := "/api/v1/tickets/" + strconv.FormatInt(fx.AliceClosed, 10) + "/messages"
	if r := ts.api("POST", closed, tok, `{"body":"reopen?"}`); r.status != http.StatusConflict {
		t.Errorf("reply on closed: %d, want 409", r.status)
	}
	if err := ts.Store.SettingSet(ctx, "allow_reply_on_closed", "true"); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("POST", closed, tok, `{"body":"reopen?"}`); r.status != http.StatusCreated {
		t.Errorf("reply on closed with allow_reply_on_closed: %d", r.status)
	}
	// Close: allowed by default; switched off → 404 like the portal's button.
	closeURL := "/api/v1/tickets/" + strconv.FormatInt(fx.AliceOpen, 10) + "/close"
	if err := ts.Store.SettingSet(ctx, "allow_close_from_portal", "false"); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("POST", closeURL, tok, ""); r.status != http.StatusNotFound {
		t.Errorf("close while not allowed: %d", r.status)
	}
	if err := ts.Store.SettingSet(ctx, "allow_close_from_portal", "true"); err != nil {
		t.Fatal(err)
	}
	r := ts.api("POST", closeURL, tok, "")
	var closedT struct {
		Status string `json:"status"`
	}
	r.json(t, &closedT)
	if r.status != http.StatusOK || closedT.Status != "closed" {
		t.Errorf("close: %d %s", r.status, r.body)
	}
}

// TestAPIETagAndPagination: reads carry a strong ETag; If-None-Match answers 304 until the data
// changes; cursor pagination walks every ticket once with Link headers.
func TestAPIETagAndPagination(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	tok := mustToken(t, ts.Store, fx.Alice)
	for i := range 5 {
		storetest.MustTicket(t, ts.Pool, storetest.TicketSpec{Subject: "Extra " + strconv.Itoa(i), Body: "b", RequesterID: fx.Alice, CompanyID: fx.Acme})
	}
	r := ts.api("GET", "/api/v1/tickets", tok, "")
	etag := r.header.Get("ETag")
	if cc := r.header.Get("Cache-Control"); cc != "private, no-cache" || !strings.Contains(r.header.Get("Vary"), "Authorization") {
		t.Errorf("list Cache-Control %q Vary %q", cc, r.header.Get("Vary"))
	}
	if r.status != http.StatusOK || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("list: %d etag %q", r.status, etag)
	}
	req := apiRequest("GET", "/api/v1/tickets", tok, "")
	req.Header.Set("If-None-Match", etag)
	if r := ts.apiDo(req); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match: %d %q", r.status, r.body)
	}
	if r := ts.api("POST", "/api/v1/tickets/"+strconv.FormatInt(fx.AliceOpen, 10)+"/messages", tok, `{"body":"bump"}`); r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	req = apiRequest("GET", "/api/v1/tickets", tok, "")
	req.Header.Set("If-None-Match", etag)
	if r := ts.apiDo(req); r.status != http.StatusOK || r.header.Get("ETag") == etag {
		t.Errorf("after a change: %d, etag %q", r.status, r.header.Get("ETag"))
	}
	seen := map[int64]bool{}
	path := "/api/v1/tickets?limit=2&sort=subject"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		r := ts.api("GET", path, tok, "")
		var page struct {
			Data []struct {
				ID int64 `json:"id"`
			} `json:"data"`
			Next *string `json:"next_cursor"`
		}
		r.json(t, &page)
		for _, d := range page.Data {
			if seen[d.ID] {
				t.Errorf("ticket %d on two pages", d.ID)
			}
			seen[d.ID] = true
		}
		path = ""
		if page.Next != nil {
			if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
				t.Errorf("no Link rel=next: %q", r.header.Get("Link"))
			}
			path = "/api/v1/tickets?limit=2&sort=subject&cursor=" + url.QueryEscape(*page.Next)
		}
	}
	if len(seen) != 7 {
		t.Errorf("walked %d tickets, want 7", len(seen))
	}
	if r := ts.api("GET", "/api/v1/tickets?limit=500", tok, ""); r.status != http.StatusBadRequest {
		t.Errorf("limit=500: %d", r.status)
	}
}

// TestAPIRateLimitPerToken: over the per-token limit the API answers 429 with Retry-After;
// another token is not affected.
func TestAPIRateLimitPerToken(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ts.Handlers.Limits.APIToken.Max = 3
	a, b := mustToken(t, ts.Store, fx.Alice), mustToken(t, ts.Store, fx.Alice)
	for i := range 3 {
		if r := ts.api("GET", "/api/v1/me", a, ""); r.status != http.StatusOK || r.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d remaining %q", i, r.status, r.header.Get("RateLimit-Remaining"))
		}
	}
	r := ts.api("GET", "/api/v1/me", a, "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th request: %d retry-after %q", r.status, r.header.Get("Retry-After"))
	}
	r.problem(t)
	if r := ts.api("GET", "/api/v1/me", b, ""); r.status != http.StatusOK {
		t.Errorf("another token: %d", r.status)
	}
}

// TestAPIIdempotencyPurge: the hourly purge forgets keys older than 24 hours, keeps newer ones.
func TestAPIIdempotencyPurge(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	tok := mustToken(t, ts.Store, fx.Alice)
	p, err := ts.Store.APIAuthenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"old", "new"} {
		if _, err := ts.Store.APIIdempotencyClaim(ctx, p.TokenID, k, []byte("f")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE api_idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	if n, err := ts.Store.APIIdempotencyPurge(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, err := ts.Store.APIIdempotencyClaim(ctx, p.TokenID, "new", []byte("f")); err == nil {
		t.Error("the new key was purged")
	}
}
