package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestAPIAdminKeys: an admin creates a key in the console (shown once, audited); the key works
// within its scopes only: tickets on a contact's behalf, public replies, internal notes (never
// seen by the customer's token), stage and owner, contacts, companies, access groups, settings;
// a customer token reaches none of it; revoking (audited) stops the key at once.
func TestAPIAdminKeys(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	agentID := mustStaff(t, ts.Pool, "agent@portico.test", "Agnes Agent", "agent")

	c := ts.client()
	c.staffSignIn("root@portico.test")
	resp, doc := c.post("/admin/api-keys", url.Values{"name": {"CRM sync"}, "expires": {"90"}, "scopes": {"tickets:read", "tickets:write", "contacts", "companies", "groups", "settings:read"}}, false)
	key, _ := doc.Find("#token-value").Attr("value")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(key, store.AdminKeyPrefix) {
		t.Fatalf("create key: %d %q", resp.StatusCode, key)
	}
	if doc.Find("#token-list .token-hint").First().Text() != key[:len(store.AdminKeyPrefix)+4]+"…" {
		t.Errorf("the list does not show the key's start: %q", doc.Find("#token-list .token-hint").First().Text())
	}
	if strings.Count(doc.Text(), key) != 1 && doc.Find(`input[value="`+key+`"]`).Length() != 1 {
		t.Errorf("the key should appear once")
	}
	// Shown once: the list page never shows it again.
	_, doc = c.get("/admin/api-keys", false)
	if strings.Contains(doc.Text(), key) || doc.Find(`input[value="`+key+`"]`).Length() != 0 {
		t.Errorf("the key is shown again")
	}
	var keyID int64
	var audit string
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM api_tokens WHERE kind = 'admin' AND name = 'CRM sync'`).Scan(&keyID); err != nil {
		t.Fatal(err)
	}
	if err := ts.Pool.QueryRow(ctx, `SELECT after FROM audit_log WHERE key = $1 AND staff_id = $2`, "api_key:"+strconv.FormatInt(keyID, 10), adminID).Scan(&audit); err != nil || !strings.Contains(audit, "CRM sync") || strings.Contains(audit, key) {
		t.Errorf("audit of the new key: %q %v", audit, err)
	}
	// A key with no scope is refused with the message beside the field.
	if resp, doc := c.post("/admin/api-keys", url.Values{"name": {"nothing"}, "expires": {"30"}}, false); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#scopes-error").Length() != 1 {
		t.Errorf("no scopes: %d", resp.StatusCode)
	}
	// An agent may not manage keys.
	ag := ts.client()
	ag.staffSignIn("agent@portico.test")
	if resp, _ := ag.get("/admin/api-keys", false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent on /admin/api-keys: %d", resp.StatusCode)
	}

	readOnly, err := ts.Store.APIKeyCreate(ctx, adminID, "Reports", []string{store.ScopeTicketsRead}, 30)
	if err != nil {
		t.Fatal(err)
	}
	carol := mustToken(t, ts.Store, fx.Carol)

	if got := ticketIDs(t, ts.api("GET", "/api/v1/tickets", readOnly, "")); len(got) != 4 {
		t.Errorf("admin list: %v, want all 4 tickets", got)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/tickets", `{"contact_email":"carol@globex.test","subject":"x","body":"y"}`},
		{"PATCH", "/api/v1/tickets/" + strconv.FormatInt(fx.CarolT, 10), `{"owner_id":null}`},
		{"POST", "/api/v1/tickets/" + strconv.FormatInt(fx.CarolT, 10) + "/messages", `{"body":"hi"}`},
		{"GET", "/api/v1/contacts", ""},
		{"GET", "/api/v1/companies", ""},
		{"GET", "/api/v1/groups", ""},
		{"GET", "/api/v1/settings", ""},
		{"POST", "/api/v1/tickets/" + strconv.FormatInt(fx.CarolT, 10) + "/close", ""},
	} {
		r := ts.api(tc.method, tc.path, readOnly, tc.body)
		if r.status != http.StatusForbidden {
			t.Errorf("read-only key %s %s: %d, want 403", tc.method, tc.path, r.status)
		} else if p := r.problem(t); p["type"] != "/api/v1/problems/insufficient-scope" {
			t.Errorf("type %v", p["type"])
		}
	}
	for _, path := range []string{"/api/v1/contacts", "/api/v1/companies", "/api/v1/groups", "/api/v1/settings"} {
		if r := ts.api("GET", path, carol, ""); r.status != http.StatusForbidden {
			t.Errorf("customer token on %s: %d, want 403", path, r.status)
		}
	}

	// A ticket on Carol's behalf (chat gateway), idempotent.
	req := apiRequest("POST", "/api/v1/tickets", key, `{"contact_email":"CAROL@globex.test","subject":"Chat: billing","body":"Hi, my invoice is wrong.","channel":"chat","priority":"high"}`)
	req.Header.Set("Idempotency-Key", "chat-42")
	r := ts.apiDo(req)
	if r.status != http.StatusCreated {
		t.Fatalf("create ticket: %d %s", r.status, r.body)
	}
	var created struct {
		ID          int64  `json:"id"`
		RequesterID *int64 `json:"requester_id"`
		Channel     string `json:"channel"`
		Messages    []struct {
			FromCustomer bool `json:"from_customer"`
		} `json:"messages"`
	}
	r.json(t, &created)
	if created.RequesterID == nil || *created.RequesterID != fx.Carol || created.Channel != "chat" || len(created.Messages) != 1 || !created.Messages[0].FromCustomer {
		t.Errorf("created: %s", r.body)
	}
	req = apiRequest("POST", "/api/v1/tickets", key, `{"contact_email":"CAROL@globex.test","subject":"Chat: billing","body":"Hi, my invoice is wrong.","channel":"chat","priority":"high"}`)
	req.Header.Set("Idempotency-Key", "chat-42")
	if r := ts.apiDo(req); r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed create: %d", r.status)
	}
	var n int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE subject = 'Chat: billing'`).Scan(&n)
	if n != 1 {
		t.Errorf("%d tickets after a replayed create", n)
	}
	if r := ts.api("POST", "/api/v1/tickets", key, `{"contact_email":"nobody@x.test","subject":"s","body":"b","channel":"fax"}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bad create: %d", r.status)
	} else if p := r.problem(t); p["errors"].(map[string]any)["contact_email"] == nil || p["errors"].(map[string]any)["channel"] == nil {
		t.Errorf("bad create errors: %v", p["errors"])
	}
	tpath := "/api/v1/tickets/" + strconv.FormatInt(created.ID, 10)
	if !ticketIDs(t, ts.api("GET", "/api/v1/tickets", carol, ""))[created.ID] {
		t.Errorf("Carol does not see the ticket made on her behalf")
	}
	alice := mustToken(t, ts.Store, fx.Alice)
	if r := ts.api("GET", tpath, alice, ""); r.status != http.StatusNotFound {
		t.Errorf("Alice on Carol's new ticket: %d", r.status)
	}
	// An internal note and a public reply by an agent.
	if r := ts.api("POST", tpath+"/messages", key, `{"body":"SECRET-API-NOTE","internal":true}`); r.status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	if r := ts.api("POST", tpath+"/messages", key, `{"body":"We fixed the invoice.","staff_id":`+strconv.FormatInt(agentID, 10)+`}`); r.status != http.StatusCreated || !strings.Contains(string(r.body), "Agnes Agent") {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}
	if r := ts.api("POST", tpath+"/messages", key, `{"body":"x","internal":true,"from_customer":true}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("customer note: %d", r.status)
	}
	r = ts.api("GET", tpath, carol, "")
	if strings.Contains(string(r.body), "SECRET-API-NOTE") || !strings.Contains(string(r.body), "We fixed the invoice.") {
		t.Errorf("Carol's view: %s", r.body)
	}
	r = ts.api("GET", tpath, readOnly, "")
	if !strings.Contains(string(r.body), `"internal":true`) || !strings.Contains(string(r.body), "SECRET-API-NOTE") {
		t.Errorf("admin view lacks the note: %s", r.body)
	}
	// Stage and owner.
	var closedStage int64
	_ = ts.Pool.QueryRow(ctx, `SELECT st.id FROM stages st JOIN pipelines p ON p.id = st.pipeline_id WHERE p.name = 'Support' AND st.is_closed LIMIT 1`).Scan(&closedStage)
	r = ts.api("PATCH", tpath, key, `{"stage_id":`+strconv.FormatInt(closedStage, 10)+`,"owner_id":`+strconv.FormatInt(agentID, 10)+`}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"closed"`) || !strings.Contains(string(r.body), `"owner":"Agnes Agent"`) {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	if r := ts.api("PATCH", tpath, key, `{"owner_id":null}`); r.status != http.StatusOK || !strings.Contains(string(r.body), `"owner_id":null`) {
		t.Errorf("unassign: %d %s", r.status, r.body)
	}
	if r := ts.api("PATCH", tpath, key, `{"stage_id":999999}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown stage: %d", r.status)
	}
	if r := ts.api("PATCH", tpath, key, `{"priority":"low"}`); r.status != http.StatusBadRequest {
		t.Errorf("unknown field on PATCH: %d", r.status)
	}
	// Contacts, companies, groups, settings.
	r = ts.api("POST", "/api/v1/contacts", key, `{"email":"dave@initech.test","name":"Dave Doe","company":"Initech"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"company":"Initech"`) {
		t.Fatalf("contact create: %d %s", r.status, r.body)
	}
	if r := ts.api("POST", "/api/v1/contacts", key, `{"email":"dave@initech.test","name":"Dave Again"}`); r.status != http.StatusConflict {
		t.Errorf("duplicate contact: %d", r.status)
	}
	var dave struct {
		ID int64 `json:"id"`
	}
	r.json(t, &dave)
	if r := ts.api("PATCH", "/api/v1/contacts/"+strconv.FormatInt(dave.ID, 10), key, `{"name":"David Doe"}`); r.status != http.StatusOK || !strings.Contains(string(r.body), "David Doe") {
		t.Errorf("contact patch: %d %s", r.status, r.body)
	}
	if r := ts.api("GET", "/api/v1/contacts?q=initech", key, ""); !strings.Contains(string(r.body), "dave@initech.test") {
		t.Errorf("contact search: %s", r.body)
	}
	if r := ts.api("POST", "/api/v1/companies", key, `{"name":"Umbrella"}`); r.status != http.StatusCreated {
		t.Errorf("company create: %d", r.status)
	}
	if r := ts.api("POST", "/api/v1/companies", key, `{"name":"umbrella"}`); r.status != http.StatusOK {
		t.Errorf("existing company: %d", r.status)
	}
	if r := ts.api("GET", "/api/v1/companies/"+strconv.FormatInt(fx.Acme, 10), key, ""); !strings.Contains(string(r.body), "alice@acme.test") {
		t.Errorf("company show: %s", r.body)
	}
	r = ts.api("POST", "/api/v1/groups", key, `{"name":"VIP"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("group create: %d %s", r.status, r.body)
	}
	var g struct {
		ID int64 `json:"id"`
	}
	r.json(t, &g)
	gpath := "/api/v1/groups/" + strconv.FormatInt(g.ID, 10)
	if r := ts.api("POST", gpath+"/members", key, `{"emails":["alice@acme.test","dave@initech.test"]}`); r.status != http.StatusOK || strings.Count(string(r.body), `"contact_id"`) != 2 {
		t.Errorf("members add: %d %s", r.status, r.body)
	}
	if r := ts.api("POST", gpath+"/members/remove", key, `{"emails":["dave@initech.test"]}`); r.status != http.StatusOK || strings.Count(string(r.body), `"contact_id"`) != 1 {
		t.Errorf("members remove: %d %s", r.status, r.body)
	}
	var who string
	_ = ts.Pool.QueryRow(ctx, `SELECT staff_name FROM audit_log WHERE key LIKE 'group%' ORDER BY id LIMIT 1`).Scan(&who)
	if who != "api_key:"+strconv.FormatInt(keyID, 10) {
		t.Errorf("group change audited as %q", who)
	}
	if r := ts.api("GET", "/api/v1/settings", key, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "ticket_permissions") {
		t.Errorf("settings: %d %s", r.status, r.body)
	}
	// Revoke in the console: audited, and the key stops at once.
	c.get("/admin/api-keys", false)
	if resp, _ := c.post("/admin/api-keys/"+strconv.FormatInt(keyID, 10)+"/revoke", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if r := ts.api("GET", "/api/v1/tickets", key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d", r.status)
	}
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1 AND after = 'revoked' AND staff_id = $2`, "api_key:"+strconv.FormatInt(keyID, 10), adminID).Scan(&n)
	if n != 1 {
		t.Errorf("revocation audit rows: %d", n)
	}
}

// TestAccountTokensPage: a customer creates a token on the account page (shown once), it works
// on the API and its last use shows; revoking stops it at once; another customer cannot revoke
// it (404); bad input keeps the form with the message beside the field.
func TestAccountTokensPage(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get("/account", false)
	if doc.Find("#tokens-link").Length() != 1 {
		t.Fatal("the account page has no link to the tokens")
	}
	c.get("/account/tokens", false)
	resp, doc := c.post("/account/tokens", url.Values{"name": {""}, "expires": {"90"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#token-name-error").Length() != 1 {
		t.Fatalf("empty name: %d", resp.StatusCode)
	}
	resp, doc = c.post("/account/tokens", url.Values{"name": {"My script"}, "expires": {"30"}}, false)
	tok, _ := doc.Find("#token-value").Attr("value")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(tok, store.CustomerTokenPrefix) {
		t.Fatalf("create: %d %q", resp.StatusCode, tok)
	}
	var hash []byte
	_ = ts.Pool.QueryRow(context.Background(), `SELECT token_hash FROM api_tokens WHERE name = 'My script'`).Scan(&hash)
	if len(hash) != 32 || strings.Contains(string(hash), tok) {
		t.Errorf("stored hash: %d bytes", len(hash))
	}
	if r := ts.api("GET", "/api/v1/tickets", tok, ""); r.status != http.StatusOK {
		t.Fatalf("new token: %d", r.status)
	}
	_, doc = c.get("/account/tokens", false)
	if strings.Contains(doc.Text(), tok) {
		t.Error("the token is shown again")
	}
	if doc.Find("#token-list .token-last-used time").Length() != 1 {
		t.Error("last use not shown")
	}
	var id int64
	_ = ts.Pool.QueryRow(context.Background(), `SELECT id FROM api_tokens WHERE name = 'My script'`).Scan(&id)
	bob := ts.client()
	bob.signIn(fx.BobEmail, fx.Password)
	bob.get("/account/tokens", false)
	if resp, _ := bob.post("/account/tokens/"+strconv.FormatInt(id, 10)+"/revoke", nil, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Bob revoking Alice's token: %d", resp.StatusCode)
	}
	if r := ts.api("GET", "/api/v1/tickets", tok, ""); r.status != http.StatusOK {
		t.Fatalf("token after Bob's attempt: %d", r.status)
	}
	if resp, _ := c.post("/account/tokens/"+strconv.FormatInt(id, 10)+"/revoke", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if r := ts.api("GET", "/api/v1/tickets", tok, ""); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", r.status)
	}
	_, doc = c.get("/account/tokens?done=revoked", false)
	if doc.Find(".token-state.revoked").Length() != 1 {
		t.Error("the revoked token is not marked")
	}
}
