package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/auth"
	"portico/sql/store"
	"portico/sql/store/storetest"
)

// The SCIM tests drive /scim/v2 with request bodies shaped like the ones Okta and Microsoft Entra
// send, taken from their published documentation (Okta: "SCIM 2.0 protocol reference" and its
// Runscope test suite; Microsoft: "Tutorial: Develop and plan provisioning for a SCIM endpoint
// in Microsoft Entra ID", section "User operations" / "Group operations"), personal details
// replaced by test addresses.

const patchOpSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// scimCall sends a SCIM request (Content-Type application/scim+json when there is a body).
func (ts *testServer) scimCall(method, path, token, body string) apiResp {
	ts.t.Helper()
	req := apiRequest(method, path, token, body)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	r := ts.apiDo(req)
	if ct := r.header.Get("Content-Type"); r.status != http.StatusNoContent && !strings.HasPrefix(ct, "application/scim+json") {
		ts.t.Fatalf("%s %s: status %d Content-Type %q, want application/scim+json: %.300s", method, path, r.status, ct, r.body)
	}
	return r
}

// scimResource decodes a resource or list answer after checking the status.
func scimResource(t *testing.T, r apiResp, want int) map[string]any {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %.600s", r.status, want, r.body)
	}
	var m map[string]any
	r.json(t, &m)
	return m
}

// scimError checks a SCIM error answer (RFC 7644 §3.12): the Error schema, status as a string
// equal to the HTTP status, and scimType when one is expected.
func scimError(t *testing.T, r apiResp, status int, scimType string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.600s", r.status, status, r.body)
	}
	var m map[string]any
	r.json(t, &m)
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("error schemas %v", m["schemas"])
	}
	if m["status"] != strconv.Itoa(status) {
		t.Errorf("error status %v, want %q", m["status"], strconv.Itoa(status))
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q: %s", got, scimType, r.body)
	}
}

func scimTotal(t *testing.T, r apiResp) (int, []map[string]any) {
	t.Helper()
	m := scimResource(t, r, http.StatusOK)
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Errorf("list schemas %v", m["schemas"])
	}
	var out []map[string]any
	for _, v := range asSlice(m["Resources"]) {
		out = append(out, v.(map[string]any))
	}
	return int(m["totalResults"].(float64)), out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func memberValues(g map[string]any) []string {
	var out []string
	for _, m := range asSlice(g["members"]) {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

// scimProvider stores an identity provider (no secrets: SCIM needs none) with audience groups.
func scimProvider(t *testing.T, ts *testServer, slug, kind string, groups ...string) store.IdentityProvider {
	t.Helper()
	p := store.IdentityProvider{Slug: slug, Kind: kind, Name: strings.ToUpper(slug[:1]) + slug[1:], Enabled: true, AllowCreate: true, Audience: store.AudienceAll}
	if len(groups) > 0 {
		p.Audience, p.Groups = store.AudienceGroups, groups
	}
	p, err := ts.Store.IdentityProviderCreate(context.Background(), store.CLIEditor, p)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ticketCount(t *testing.T, ts *testServer, contact int64) int {
	t.Helper()
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tickets WHERE requester_id = $1`, contact).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSCIMOkta runs the operations Okta's SCIM 2.0 client uses, in its order and shapes: the
// token from the admin console (shown once), discovery, user lookup by userName, create (and
// 409 on a second create), get, replace, deactivate by a path-less PATCH (the contact's
// session ends at once, sign-in is refused, tickets are kept), reactivate; Push Groups: create,
// lookup by displayName, members added and removed by PATCH (the SSO audience "only users in
// chosen access groups" follows at once), rename, delete.
func TestSCIMOkta(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	okta := scimProvider(t, ts, "okta", store.KindOkta, "Portal users")
	base := "/admin/providers/" + strconv.FormatInt(okta.ID, 10) + "/scim"

	adm := ts.client()
	adm.staffSignIn("root@portico.test")
	adm.get(base, false)
	resp, doc := adm.post(base+"/tokens", url.Values{"name": {"Okta production"}, "expires": {"365"}}, false)
	tok, _ := doc.Find("#token-value").Attr("value")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(tok, store.SCIMTokenPrefix) {
		t.Fatalf("create SCIM token: %d %q", resp.StatusCode, tok)
	}
	if got := doc.Find("#scim-base-url").Text(); !strings.HasSuffix(got, "/scim/v2") {
		t.Errorf("base URL shown: %q", got)
	}
	if _, doc := adm.get(base, false); strings.Contains(doc.Text(), tok) || doc.Find(`input[value="`+tok+`"]`).Length() != 0 {
		t.Errorf("the token is shown again")
	}
	var stored []byte
	if err := ts.Pool.QueryRow(ctx, `SELECT token_hash FROM scim_tokens WHERE provider_id = $1`, okta.ID).Scan(&stored); err != nil || len(stored) != 32 || strings.Contains(string(stored), tok) {
		t.Fatalf("stored token: %v", err)
	}

	// Discovery (Okta reads ServiceProviderConfig when the app is set up).
	spc := scimResource(t, ts.scimCall("GET", "/scim/v2/ServiceProviderConfig", tok, ""), http.StatusOK)
	for k, want := range map[string]bool{"patch": true, "bulk": false, "sort": false, "etag": false, "filter": true, "changePassword": false} {
		if got := spc[k].(map[string]any)["supported"]; got != want {
			t.Errorf("ServiceProviderConfig %s.supported = %v, want %v", k, got, want)
		}
	}
	if spc["filter"].(map[string]any)["maxResults"].(float64) != float64(store.MaxSCIMList) {
		t.Errorf("filter.maxResults %v", spc["filter"])
	}

	// Okta looks the user up first, then creates it (body from Okta's SCIM reference).
	n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "dana.doe@example.test"`)+"&startIndex=1&count=100", tok, ""))
	if n != 0 {
		t.Fatalf("lookup before create: %d", n)
	}
	oktaUser := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dana.doe@example.test",
		"name":{"givenName":"Dana","familyName":"Doe"},"emails":[{"primary":true,"value":"dana.doe@example.test","type":"work"}],
		"displayName":"Dana Doe","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`
	r := ts.scimCall("POST", "/scim/v2/Users", tok, oktaUser)
	u := scimResource(t, r, http.StatusCreated)
	id, _ := u["id"].(string)
	if id == "" || r.header.Get("Location") != "http://localhost:3000/scim/v2/Users/"+id && !strings.HasSuffix(r.header.Get("Location"), "/scim/v2/Users/"+id) {
		t.Fatalf("created user: id %q Location %q", id, r.header.Get("Location"))
	}
	if u["userName"] != "dana.doe@example.test" || u["externalId"] != "00ujl29u0le5T6Aj10h7" || u["active"] != true ||
		u["meta"].(map[string]any)["resourceType"] != "User" || u["password"] != nil {
		t.Errorf("created user: %s", r.body)
	}
	var email, name string
	if err := ts.Pool.QueryRow(ctx, `SELECT email, name FROM contacts WHERE id = $1`, id).Scan(&email, &name); err != nil || email != "dana.doe@example.test" || name != "Dana Doe" {
		t.Errorf("contact: %q %q %v", email, name, err)
	}
	scimError(t, ts.scimCall("POST", "/scim/v2/Users", tok, oktaUser), http.StatusConflict, "uniqueness")
	// userName matches regardless of case, as Okta and Entra expect.
	n, list := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "DANA.DOE@example.test"`), tok, ""))
	if n != 1 || list[0]["id"] != id {
		t.Errorf("lookup by userName in capitals: %d %v", n, list)
	}
	got := scimResource(t, ts.scimCall("GET", "/scim/v2/Users/"+id, tok, ""), http.StatusOK)
	if got["displayName"] != "Dana Doe" || got["name"].(map[string]any)["familyName"] != "Doe" {
		t.Errorf("get: %v", got)
	}
	// Okta's profile push is a PUT of the whole user.
	put := strings.Replace(strings.Replace(oktaUser, `"Dana Doe"`, `"Dana Doe-Smith"`, 1), `"familyName":"Doe"`, `"familyName":"Doe-Smith"`, 1)
	put = strings.Replace(put, `"schemas"`, `"id":"`+id+`","schemas"`, 1)
	if got := scimResource(t, ts.scimCall("PUT", "/scim/v2/Users/"+id, tok, put), http.StatusOK); got["displayName"] != "Dana Doe-Smith" {
		t.Errorf("put: %v", got)
	}

	// Alice already is a contact with a password, tickets and a session: Okta provisions her
	// (taken over by address), then deactivates her.
	alice := scimResource(t, ts.scimCall("POST", "/scim/v2/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"alice@acme.test","name":{"givenName":"Alice","familyName":"Archer"},"emails":[{"primary":true,"value":"alice@acme.test","type":"work"}],
		"displayName":"Alice Archer","externalId":"00ualice","active":true}`), http.StatusCreated)
	if alice["id"] != strconv.FormatInt(fx.Alice, 10) {
		t.Fatalf("Alice was not taken over: %v", alice["id"])
	}
	before := ticketCount(t, ts, fx.Alice)
	browser := ts.client()
	browser.signIn(fx.AliceEmail, fx.Password)
	aliceTok := mustToken(t, ts.Store, fx.Alice)
	if r := ts.api("GET", "/api/v1/me", aliceTok, ""); r.status != http.StatusOK {
		t.Fatalf("Alice's API token before: %d", r.status)
	}
	deact := `{` + patchOpSchema + `,"Operations":[{"op":"replace","value":{"active":false}}]}`
	if got := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Users/"+alice["id"].(string), tok, deact), http.StatusOK); got["active"] != false {
		t.Fatalf("deactivate: %v", got)
	}
	if resp, _ := browser.get("/tickets", false); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("Alice's session still works after deactivation: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	again := ts.client()
	again.get("/login", false)
	if resp, _ := again.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}}, false); resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/tickets" {
		t.Errorf("a deactivated contact signed in with her password")
	}
	if r := ts.api("GET", "/api/v1/me", aliceTok, ""); r.status != http.StatusUnauthorized {
		t.Errorf("Alice's API token after deactivation: %d", r.status)
	}
	if _, err := ts.Store.SSOSignIn(ctx, okta, auth.Identity{Provider: "okta", Subject: "00ualice", Email: fx.AliceEmail, EmailVerified: true}); !isRefusal(err, auth.ReasonAccountLocked) {
		t.Errorf("SSO sign-in of a deactivated contact: %v", err)
	}
	if after := ticketCount(t, ts, fx.Alice); after != before || before == 0 {
		t.Errorf("tickets of the deactivated contact: %d before, %d after", before, after)
	}
	// Reactivation gives back the account she had: her password works again.
	react := `{` + patchOpSchema + `,"Operations":[{"op":"replace","value":{"active":true}}]}`
	scimResource(t, ts.scimCall("PATCH", "/scim/v2/Users/"+alice["id"].(string), tok, react), http.StatusOK)
	ts.client().signIn(fx.AliceEmail, fx.Password)

	// Push Groups: create, find, add and remove members. The provider's SSO audience is "only
	// users in Portal users": Dana gets in exactly while Okta has her in the group.
	dana := auth.Identity{Provider: "okta", Subject: "00ujl29u0le5T6Aj10h7", Email: "dana.doe@example.test", EmailVerified: true}
	if _, err := ts.Store.SSOSignIn(ctx, okta, dana); !isRefusal(err, auth.ReasonNotInGroups) {
		t.Fatalf("Dana before the group push: %v", err)
	}
	g := scimResource(t, ts.scimCall("POST", "/scim/v2/Groups", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Portal users","members":[]}`), http.StatusCreated)
	gid := g["id"].(string)
	n, list = scimTotal(t, ts.scimCall("GET", "/scim/v2/Groups?filter="+url.QueryEscape(`displayName eq "portal users"`)+"&startIndex=1&count=100", tok, ""))
	if n != 1 || list[0]["id"] != gid {
		t.Errorf("group lookup: %d %v", n, list)
	}
	add := `{` + patchOpSchema + `,"Operations":[{"op":"add","path":"members","value":[{"value":"` + id + `","display":"dana.doe@example.test"}]}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, add), http.StatusOK); strings.Join(memberValues(g), ",") != id {
		t.Errorf("members after add: %v", g["members"])
	}
	if _, err := ts.Store.SSOSignIn(ctx, okta, dana); err != nil {
		t.Errorf("Dana in the group is refused: %v", err)
	}
	remove := `{` + patchOpSchema + `,"Operations":[{"op":"remove","path":"members[value eq \"` + id + `\"]"}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, remove), http.StatusOK); len(memberValues(g)) != 0 {
		t.Errorf("members after remove: %v", g["members"])
	}
	if _, err := ts.Store.SSOSignIn(ctx, okta, dana); !isRefusal(err, auth.ReasonNotInGroups) {
		t.Errorf("Dana out of the group: %v", err)
	}
	// Okta replaces the members list and renames with a path-less value (its "id" is ignored).
	repl := `{` + patchOpSchema + `,"Operations":[{"op":"replace","path":"members","value":[{"value":"` + id + `"},{"value":"` + alice["id"].(string) + `"}]},
		{"op":"replace","value":{"id":"` + gid + `","displayName":"Portal customers"}}]}`
	g = scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, repl), http.StatusOK)
	if g["displayName"] != "Portal customers" || len(memberValues(g)) != 2 {
		t.Errorf("after replace: %v", g)
	}
	var members int
	if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM access_group_members m JOIN access_groups a ON a.id = m.group_id WHERE a.name = 'Portal customers'`).Scan(&members); err != nil || members != 2 {
		t.Errorf("access group members: %d %v", members, err)
	}
	// Every change is audited as the provider's.
	var audits int
	if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE staff_name = 'scim:okta'`).Scan(&audits); err != nil || audits < 8 {
		t.Errorf("audit rows by scim:okta: %d %v", audits, err)
	}
	if r := ts.scimCall("DELETE", "/scim/v2/Groups/"+gid, tok, ""); r.status != http.StatusNoContent {
		t.Errorf("delete group: %d %s", r.status, r.body)
	}
	if _, err := ts.Store.GroupByName(ctx, "Portal customers"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the group Okta created and deleted still exists: %v", err)
	}
}

func isRefusal(err error, reason auth.Reason) bool {
	var ref *store.SSORefusal
	return errors.As(err, &ref) && ref.Reason == reason
}

// TestSCIMEntra runs the operations Microsoft Entra's provisioning service uses, with the
// request bodies of Microsoft's SCIM endpoint tutorial: filter by userName and externalId,
// create with the enterprise extension, PATCH with capitalised ops, filtered email paths,
// "active":"False" as a string, attributes Portico does not keep; groups with
// excludedAttributes=members, members added and removed (value list and filter path); DELETE
// of a user keeps the contact and its tickets and ends the sessions.
func TestSCIMEntra(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	entra := scimProvider(t, ts, "entra", store.KindMicrosoft)
	tok, err := ts.Store.SCIMTokenCreate(ctx, 0, entra.ID, "Entra", 0)
	if err != nil {
		t.Fatal(err)
	}

	// A webhook subscribed to contact.created hears of contacts SCIM creates.
	if _, err := ts.Pool.Exec(ctx, `INSERT INTO webhooks (url, events) VALUES ('https://example.com/hook', '{contact.created}')`); err != nil {
		t.Fatal(err)
	}
	n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "erin.example@contoso.test"`), tok, ""))
	if n != 0 {
		t.Fatalf("lookup: %d", n)
	}
	create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"erin.example@contoso.test","active":true,
		"emails":[{"primary":true,"type":"work","value":"erin@contoso.test"}],"meta":{"resourceType":"User"},
		"name":{"formatted":"Erin Example","familyName":"Example","givenName":"Erin"},"roles":[],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Support","employeeNumber":"701984"}}`
	u := scimResource(t, ts.scimCall("POST", "/scim/v2/Users", tok, create), http.StatusCreated)
	id := u["id"].(string)
	if u["userName"] != "erin.example@contoso.test" || u["displayName"] != "Erin Example" {
		t.Errorf("created: %v", u)
	}
	var email string
	if err := ts.Pool.QueryRow(ctx, `SELECT email FROM contacts WHERE id = $1`, id).Scan(&email); err != nil || email != "erin@contoso.test" {
		t.Errorf("the contact's address is the primary email: %q %v", email, err)
	}
	var events int
	if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'portico_webhook_event' AND args::text LIKE '%contact.created%'`).Scan(&events); err != nil || events != 1 {
		t.Errorf("contact.created events after the SCIM create: %d %v", events, err)
	}
	n, list := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), tok, ""))
	if n != 1 || list[0]["id"] != id {
		t.Errorf("lookup by externalId: %d %v", n, list)
	}
	// A filter the store does not translate is evaluated over the provider's users.
	n, _ = scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName sw "erin." and active eq true`), tok, ""))
	if n != 1 {
		t.Errorf("sw filter: %d", n)
	}

	patch := `{` + patchOpSchema + `,"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"erin.updated@contoso.test"},
		{"op":"Replace","path":"name.familyName","value":"Updated"},
		{"op":"Add","path":"nickName","value":"Ez"},
		{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Billing"},
		{"op":"Replace","path":"externalId","value":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"}]}`
	u = scimResource(t, ts.scimCall("PATCH", "/scim/v2/Users/"+id, tok, patch), http.StatusOK)
	if e := asSlice(u["emails"])[0].(map[string]any)["value"]; e != "erin.updated@contoso.test" || u["name"].(map[string]any)["familyName"] != "Updated" {
		t.Errorf("after patch: %s", mustJSON(u))
	}
	if err := ts.Pool.QueryRow(ctx, `SELECT email FROM contacts WHERE id = $1`, id).Scan(&email); err != nil || email != "erin.updated@contoso.test" {
		t.Errorf("contact address after patch: %q %v", email, err)
	}

	// Bob is an existing contact with a session and a ticket; Entra takes him over.
	bob := scimResource(t, ts.scimCall("POST", "/scim/v2/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"externalId":"5b1f1e7e-bob","userName":"bob.baker@acme.test","active":true,"emails":[{"primary":true,"type":"work","value":"bob@acme.test"}],
		"name":{"familyName":"Baker","givenName":"Bob"}}`), http.StatusCreated)
	bobID := bob["id"].(string)
	if bobID != strconv.FormatInt(fx.Bob, 10) {
		t.Fatalf("Bob not taken over: %v", bobID)
	}
	browser := ts.client()
	browser.signIn(fx.BobEmail, fx.Password)
	// Entra's deactivation: "Replace" capitalised, no path in some tenants, "False" as a string.
	deact := `{` + patchOpSchema + `,"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
	if u := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Users/"+bobID, tok, deact), http.StatusOK); u["active"] != false {
		t.Fatalf("deactivate: %v", u)
	}
	if resp, _ := browser.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("Bob's session after deactivation: %d", resp.StatusCode)
	}

	// Groups with Entra's shapes.
	g := scimResource(t, ts.scimCall("POST", "/scim/v2/Groups", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Contoso support","meta":{"resourceType":"Group"}}`), http.StatusCreated)
	gid := g["id"].(string)
	r := ts.scimCall("GET", "/scim/v2/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Contoso support"`), tok, "")
	if n, list := scimTotal(t, r); n != 1 || list[0]["members"] != nil {
		t.Errorf("group lookup without members: %d %s", n, r.body)
	}
	add := `{` + patchOpSchema + `,"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + id + `"},{"$ref":null,"value":"` + bobID + `"}]}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, add), http.StatusOK); len(memberValues(g)) != 2 {
		t.Errorf("after add: %v", g["members"])
	}
	// Entra's removal with a value list, then the filter form.
	rm := `{` + patchOpSchema + `,"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"` + bobID + `"}]}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, rm), http.StatusOK); strings.Join(memberValues(g), ",") != id {
		t.Errorf("after remove by value: %v", g["members"])
	}
	rm = `{` + patchOpSchema + `,"Operations":[{"op":"Remove","path":"members[value eq \"` + id + `\"]"}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, rm), http.StatusOK); len(memberValues(g)) != 0 {
		t.Errorf("after remove by filter: %v", g["members"])
	}
	rename := `{` + patchOpSchema + `,"Operations":[{"op":"Replace","path":"displayName","value":"Contoso support team"}]}`
	if g := scimResource(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+gid, tok, rename), http.StatusOK); g["displayName"] != "Contoso support team" {
		t.Errorf("rename: %v", g)
	}
	put := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Contoso support team","members":[{"value":"` + id + `"}]}`
	if g := scimResource(t, ts.scimCall("PUT", "/scim/v2/Groups/"+gid, tok, put), http.StatusOK); strings.Join(memberValues(g), ",") != id {
		t.Errorf("put group: %v", g)
	}

	// DELETE of a user: the contact, its tickets and messages stay; sign-in stays refused.
	before := ticketCount(t, ts, fx.Bob)
	if r := ts.scimCall("DELETE", "/scim/v2/Users/"+bobID, tok, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	scimError(t, ts.scimCall("GET", "/scim/v2/Users/"+bobID, tok, ""), http.StatusNotFound, "")
	if _, err := ts.Store.ContactGet(ctx, fx.Bob); err != nil {
		t.Errorf("the deleted user's contact is gone: %v", err)
	}
	if after := ticketCount(t, ts, fx.Bob); after != before || before == 0 {
		t.Errorf("tickets after delete: %d before, %d after", before, after)
	}
	again := ts.client()
	again.get("/login", false)
	if resp, _ := again.post("/login", url.Values{"email": {fx.BobEmail}, "password": {fx.Password}}, false); resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/tickets" {
		t.Errorf("a deleted user signed in")
	}
	// Pagination: startIndex and count.
	for i := range 3 {
		scimResource(t, ts.scimCall("POST", "/scim/v2/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"page`+strconv.Itoa(i)+`@contoso.test","active":true}`), http.StatusCreated)
	}
	n, list = scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?startIndex=2&count=2", tok, ""))
	if n != 4 || len(list) != 2 {
		t.Errorf("page 2 of 2: total %d, %d resources", n, len(list))
	}
	r = ts.scimCall("GET", "/scim/v2/Users?startIndex=4&count=2", tok, "")
	n, list = scimTotal(t, r)
	if last := scimResource(t, r, http.StatusOK); n != 4 || len(list) != 1 || last["itemsPerPage"] != float64(1) || last["startIndex"] != float64(4) {
		t.Errorf("last page: total %d, %d resources: %s", n, len(list), r.body)
	}
}

// TestSCIMRefusals: no token, a malformed, unknown, revoked or expired token, a JSON API key or
// a customer token all get 401 in the SCIM Error schema; a SCIM token opens nothing under
// /api/v1. A provider's token never reaches another provider's users or groups (404, absent
// from lists and filters, 409 on its address, 400 as a member). Bad filters, bodies and
// values are refused with their scimType; the rate limit answers 429 with Retry-After; the
// discovery documents say only what Portico keeps; agents may not open the token page.
func TestSCIMRefusals(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	adminID := mustStaff(t, ts.Pool, "root@portico.test", "Root Admin", "admin")
	mustStaff(t, ts.Pool, "agent@portico.test", "Agnes Agent", "agent")
	okta := scimProvider(t, ts, "okta", store.KindOkta)
	entra := scimProvider(t, ts, "entra", store.KindMicrosoft)
	oktaTok, err := ts.Store.SCIMTokenCreate(ctx, adminID, okta.ID, "Okta", 30)
	if err != nil {
		t.Fatal(err)
	}
	entraTok, err := ts.Store.SCIMTokenCreate(ctx, adminID, entra.ID, "Entra", 0)
	if err != nil {
		t.Fatal(err)
	}
	apiKey, err := ts.Store.APIKeyCreate(ctx, adminID, "all", store.AdminScopes, 30)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"none": "", "garbage": "hello", "malformed": store.SCIMTokenPrefix + "x",
		"unknown": store.SCIMTokenPrefix + strings.Repeat("A", 43), "api key": apiKey, "customer token": mustToken(t, ts.Store, fx.Carol)} {
		r := ts.scimCall("GET", "/scim/v2/Users", tok, "")
		scimError(t, r, http.StatusUnauthorized, "")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	scimError(t, ts.scimCall("GET", "/scim/v2/ServiceProviderConfig", "", ""), http.StatusUnauthorized, "")
	if r := ts.api("GET", "/api/v1/me", oktaTok, ""); r.status != http.StatusUnauthorized {
		t.Errorf("a SCIM token on the JSON API: %d", r.status)
	}

	// Each provider sees its own.
	eu := scimResource(t, ts.scimCall("POST", "/scim/v2/Users", entraTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"frank@contoso.test","emails":[{"value":"frank@contoso.test","primary":true}]}`), http.StatusCreated)
	eid := eu["id"].(string)
	eg := scimResource(t, ts.scimCall("POST", "/scim/v2/Groups", entraTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Entra group","members":[{"value":"`+eid+`"}]}`), http.StatusCreated)
	egid := eg["id"].(string)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/scim/v2/Users/" + eid, ""},
		{"PUT", "/scim/v2/Users/" + eid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"frank@contoso.test","active":false}`},
		{"PATCH", "/scim/v2/Users/" + eid, `{` + patchOpSchema + `,"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"DELETE", "/scim/v2/Users/" + eid, ""},
		{"GET", "/scim/v2/Users/" + strconv.FormatInt(fx.Carol, 10), ""}, // a contact no provider provisions
		{"GET", "/scim/v2/Groups/" + egid, ""},
		{"PUT", "/scim/v2/Groups/" + egid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"mine"}`},
		{"PATCH", "/scim/v2/Groups/" + egid, `{` + patchOpSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"mine"}]}`},
		{"DELETE", "/scim/v2/Groups/" + egid, ""},
		{"GET", "/scim/v2/Users/abc", ""},
	} {
		scimError(t, ts.scimCall(c.method, c.path, oktaTok, c.body), http.StatusNotFound, "")
	}
	if u := scimResource(t, ts.scimCall("GET", "/scim/v2/Users/"+eid, entraTok, ""), http.StatusOK); u["active"] != true {
		t.Errorf("Okta's refused requests changed Entra's user: %v", u)
	}
	if n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "frank@contoso.test"`), oktaTok, "")); n != 0 {
		t.Errorf("Okta finds Entra's user: %d", n)
	}
	if n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/Users", oktaTok, "")); n != 0 {
		t.Errorf("Okta lists users it does not provision: %d", n)
	}
	if n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/Groups", oktaTok, "")); n != 0 {
		t.Errorf("Okta lists groups it does not provision: %d", n)
	}
	scimError(t, ts.scimCall("POST", "/scim/v2/Users", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"frank2","emails":[{"value":"Frank@contoso.test","primary":true}]}`), http.StatusConflict, "uniqueness")
	scimError(t, ts.scimCall("POST", "/scim/v2/Groups", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"entra GROUP"}`), http.StatusConflict, "uniqueness")
	og := scimResource(t, ts.scimCall("POST", "/scim/v2/Groups", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Okta group"}`), http.StatusCreated)
	scimError(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+og["id"].(string), oktaTok, `{`+patchOpSchema+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+eid+`"}]}]}`), http.StatusBadRequest, "invalidValue")
	scimError(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+og["id"].(string), oktaTok, `{`+patchOpSchema+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+strconv.FormatInt(fx.Carol, 10)+`"}]}]}`), http.StatusBadRequest, "invalidValue")
	var carolGroups int
	if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM access_group_members WHERE contact_id = $1`, fx.Carol).Scan(&carolGroups); err != nil || carolGroups != 0 {
		t.Errorf("a contact Okta does not provision joined its group: %d %v", carolGroups, err)
	}

	// Bad input.
	scimError(t, ts.scimCall("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq`), oktaTok, ""), http.StatusBadRequest, "invalidFilter")
	scimError(t, ts.scimCall("POST", "/scim/v2/Users", oktaTok, `{"schemas":`), http.StatusBadRequest, "invalidSyntax")
	scimError(t, ts.scimCall("POST", "/scim/v2/Users", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"no userName"}`), http.StatusBadRequest, "invalidValue")
	scimError(t, ts.scimCall("POST", "/scim/v2/Users", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"not-an-address"}`), http.StatusBadRequest, "invalidValue")
	scimError(t, ts.scimCall("POST", "/scim/v2/Groups", oktaTok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"a,b"}`), http.StatusBadRequest, "invalidValue")
	scimError(t, ts.scimCall("PATCH", "/scim/v2/Groups/"+og["id"].(string), oktaTok, `{"schemas":["wrong"],"Operations":[]}`), http.StatusBadRequest, "invalidValue")
	scimError(t, ts.scimCall("GET", "/scim/v2/Nothing", oktaTok, ""), http.StatusNotFound, "")

	// Discovery says what Portico keeps.
	sch := scimResource(t, ts.scimCall("GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", oktaTok, ""), http.StatusOK)
	var names []string
	for _, a := range asSlice(sch["attributes"]) {
		names = append(names, a.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "userName,name,displayName,emails,active,preferredLanguage" {
		t.Errorf("User schema attributes: %v", names)
	}
	if n, _ := scimTotal(t, ts.scimCall("GET", "/scim/v2/ResourceTypes", oktaTok, "")); n != 2 {
		t.Errorf("resource types: %d", n)
	}

	// Revoked and expired tokens stop at once; the revocation is audited.
	adm := ts.client()
	adm.staffSignIn("root@portico.test")
	var tid int64
	if err := ts.Pool.QueryRow(ctx, `SELECT id FROM scim_tokens WHERE provider_id = $1`, entra.ID).Scan(&tid); err != nil {
		t.Fatal(err)
	}
	adm.get("/admin/providers/"+strconv.FormatInt(entra.ID, 10)+"/scim", false)
	// Another provider's token id under this provider's page: not found, nothing revoked.
	if resp, _ := adm.post("/admin/providers/"+strconv.FormatInt(okta.ID, 10)+"/scim/tokens/"+strconv.FormatInt(tid, 10)+"/revoke", nil, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke through another provider: %d", resp.StatusCode)
	}
	if resp, _ := adm.post("/admin/providers/"+strconv.FormatInt(entra.ID, 10)+"/scim/tokens/"+strconv.FormatInt(tid, 10)+"/revoke", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	scimError(t, ts.scimCall("GET", "/scim/v2/Users", entraTok, ""), http.StatusUnauthorized, "")
	var audit string
	if err := ts.Pool.QueryRow(ctx, `SELECT after FROM audit_log WHERE key = 'provider:entra' AND staff_id = $1 ORDER BY id DESC LIMIT 1`, adminID).Scan(&audit); err != nil || audit != "revoked" {
		t.Errorf("revocation audit: %q %v", audit, err)
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE scim_tokens SET expires_at = now() - interval '1 second' WHERE provider_id = $1`, okta.ID); err != nil {
		t.Fatal(err)
	}
	scimError(t, ts.scimCall("GET", "/scim/v2/Users", oktaTok, ""), http.StatusUnauthorized, "")

	// Agents may not manage SCIM tokens; the form keeps what was typed and says what is wrong.
	ag := ts.client()
	ag.staffSignIn("agent@portico.test")
	if resp, _ := ag.get("/admin/providers/"+strconv.FormatInt(okta.ID, 10)+"/scim", false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent on the SCIM page: %d", resp.StatusCode)
	}
	resp, doc := adm.post("/admin/providers/"+strconv.FormatInt(okta.ID, 10)+"/scim/tokens", url.Values{"name": {" "}, "expires": {"7"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#token-name-error").Length() != 1 || doc.Find("#token-expires-error").Length() != 1 {
		t.Errorf("invalid token form: %d", resp.StatusCode)
	}

	// Rate limit per token.
	tok3, err := ts.Store.SCIMTokenCreate(ctx, adminID, okta.ID, "burst", 30)
	if err != nil {
		t.Fatal(err)
	}
	ts.Handlers.Limits.SCIMToken = auth.Limit{Name: "scim-token", Max: 2, Window: time.Minute}
	ts.scimCall("GET", "/scim/v2/Users", tok3, "")
	ts.scimCall("GET", "/scim/v2/Users", tok3, "")
	r := ts.scimCall("GET", "/scim/v2/Users", tok3, "")
	scimError(t, r, http.StatusTooManyRequests, "")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
}
