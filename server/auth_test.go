package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

func TestSignInWrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	var bodies []string
	for _, email := range []string{fx.AliceEmail, "nobody@nowhere.test"} {
		c := ts.client()
		c.get("/login", false)
		resp, doc := c.post("/login", url.Values{"email": {email}, "password": {"wrong password"}}, false)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", email, resp.StatusCode)
		}
		if got, _ := doc.Find("#email").Attr("value"); got != email {
			t.Errorf("email field = %q, want it kept as %q", got, email)
		}
		if doc.Find("#password").AttrOr("value", "") != "" {
			t.Error("password echoed back into the form")
		}
		bodies = append(bodies, doc.Find("#login-error").Text())
	}
	if bodies[0] == "" || bodies[0] != bodies[1] {
		t.Errorf("messages differ or are empty: %q vs %q", bodies[0], bodies[1])
	}
}

func TestSignInRotatesSessionAndRefusesForeignIDs(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	// A session id the server never issued is not adopted (fixation, CVE-2024-38513 class).
	c.cookies["portico_session"] = strings.Repeat("A", 43)
	c.get("/login", false)
	pre := c.cookies["portico_session"]
	if pre == strings.Repeat("A", 43) || len(pre) != 43 {
		t.Fatalf("pre-sign-in session id = %q: want a fresh 43-character id", pre)
	}
	c.signIn(fx.AliceEmail, fx.Password)
	post := c.cookies["portico_session"]
	if post == pre {
		t.Fatal("session id not rotated at sign-in")
	}
	// The pre-sign-in id is dead.
	old := ts.client()
	old.cookies["portico_session"] = pre
	resp, _ := old.get("/tickets", false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("old id still signed in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSessionCookieAndSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.get("/login", false)
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}, "_csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.do(req)
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"httponly", "samesite=lax", "path=/"} {
		if !strings.Contains(strings.ToLower(sc), want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "max-age") || strings.Contains(strings.ToLower(sc), "expires") {
		t.Errorf("session cookie should be a browser-session cookie: %q", sc)
	}
	resp, _ = c.get("/tickets", false)
	h := resp.Header
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", h.Get("Cache-Control"))
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Error("nosniff / Referrer-Policy missing")
	}
	if !strings.Contains(h.Get("Vary"), "HX-Request") {
		t.Errorf("Vary = %q, want HX-Request", h.Get("Vary"))
	}
}

func TestSecureCookiesBehindHTTPS(t *testing.T) {
	pool := storetest.NewDB(t)
	ts := newTestServer(t, pool)
	ts.Config.BaseURL = "https://portal.example.com"
	c := ts.client()
	resp, _ := c.get("/login", false)
	sc := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Host-portico_session=") || !strings.Contains(strings.ToLower(sc), "; secure") {
		t.Errorf("Set-Cookie = %q, want __Host- prefix and Secure", sc)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind https")
	}
}

func TestIdleTimeoutExpiresSessionAndSlides(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	if err := ts.Store.SettingSet(ctx, "idle_timeout", "7m"); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	key := ts.prefix + "s:" + c.cookies["portico_session"]
	// Each request slides the idle timeout back to the setting.
	ts.Redis.Expire(ctx, key, time.Minute)
	c.get("/tickets", false)
	if ttl := ts.Redis.TTL(ctx, key).Val(); ttl < 6*time.Minute || ttl > 7*time.Minute {
		t.Fatalf("TTL after a request = %v, want the 7m idle timeout", ttl)
	}
	// Idle past the timeout: Redis lets the record expire; the next page asks to sign in again.
	ts.Redis.PExpire(ctx, key, 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for ts.Redis.Exists(ctx, key).Val() == 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	resp, _ := c.get("/tickets", false)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "expired=1") {
		t.Fatalf("after idle timeout: %d %q, want redirect to login with expired=1", resp.StatusCode, resp.Header.Get("Location"))
	}
	// htmx requests get HX-Redirect, never a login form swapped into the list.
	req := httptest.NewRequest(http.MethodGet, "/tickets?q=x", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Current-URL", "http://localhost/tickets?status=open")
	// c still carries the dead session id.
	resp = c.do(req)
	if hr := resp.Header.Get("HX-Redirect"); !strings.HasPrefix(hr, "/login?") || !strings.Contains(hr, url.QueryEscape("/tickets?status=open")) {
		t.Fatalf("htmx after expiry: HX-Redirect %q", hr)
	}
}

func TestAbsoluteLifetimeEndsActiveSession(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	key := ts.prefix + "s:" + c.cookies["portico_session"]
	resp, _ := c.get("/tickets", false)
	if resp.StatusCode != 200 {
		t.Fatalf("signed-in list: %d", resp.StatusCode)
	}
	// Pretend the session was created just over the 12 h lifetime ago, although active all along.
	ts.Redis.HSet(ctx, key, "created", strconv.FormatInt(time.Now().Add(-ts.Config.SessionLifetime-time.Minute).Unix(), 10))
	resp, _ = c.get("/tickets", false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("past absolute lifetime: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if ts.Redis.Exists(ctx, key).Val() != 0 {
		t.Error("expired session record not deleted")
	}
}

func TestLogoutEndsSessionAndClearsSiteData(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	id := c.cookies["portico_session"]
	// GET is not a way to sign out.
	if resp, _ := c.get("/logout", false); resp.StatusCode == http.StatusSeeOther && strings.Contains(resp.Header.Get("Location"), "signed_out") {
		t.Fatal("GET /logout signed out")
	}
	resp, _ := c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout: %d, Clear-Site-Data %q", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
	again := ts.client()
	again.cookies["portico_session"] = id
	if resp, _ := again.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old session still works after logout: %d", resp.StatusCode)
	}
}

func TestCSRFRequired(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	path := "/tickets/" + strconv.FormatInt(fx.AliceOpen, 10) + "/replies"
	wrong := []byte(c.csrf)
	wrong[0] ^= 1 // a different character in the same alphabet
	for name, form := range map[string]url.Values{
		"missing": {"body": {"hi"}, "_csrf": {""}},
		"wrong":   {"body": {"hi"}, "_csrf": {string(wrong)}},
	} {
		resp, _ := c.post(path, form, false)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: status %d %s, want 403", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Another session's token does not work either.
	other := ts.client()
	other.signIn(fx.BobEmail, fx.Password)
	if resp, _ := c.post(path, url.Values{"body": {"hi"}, "_csrf": {other.csrf}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign token: status %d, want 403", resp.StatusCode)
	}
	// Login itself is CSRF-protected (login CSRF).
	fresh := ts.client()
	if resp, _ := fresh.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without a token: %d, want 403", resp.StatusCode)
	}
}

func TestReturnToOnlyLocal(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	for target, want := range map[string]string{
		"/tickets/" + strconv.FormatInt(fx.AliceOpen, 10): "/tickets/" + strconv.FormatInt(fx.AliceOpen, 10),
		"https://evil.example/":                           "/tickets",
		"//evil.example":                                  "/tickets",
		"/\\evil.example":                                 "/tickets",
	} {
		c := ts.client()
		c.get("/login", false)
		resp, _ := c.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}, "return_to": {target}}, false)
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("return_to %q → %q, want %q", target, got, want)
		}
	}
}
