package server

import (
	"bytes"
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"portico/auth/providers"
	"portico/sql/store"
)

// totpCode returns the code of secret at now+offset, first waiting out the last two seconds of
// a 30-second step so that the server sees the same step as the test.
func totpCode(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	if r := time.Now().Unix() % 30; r >= 28 {
		time.Sleep(time.Duration(30-r) * time.Second)
	}
	code, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongCode returns a well-formed code that is none of secret's codes around now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		c, _ := totp.GenerateCode(secret, time.Now().Add(d))
		near[c] = true
	}
	for _, c := range []string{"000000", "123456", "999999", "424242"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// enrolTOTP turns TOTP on for the signed-in staff client through the account page (confirming
// with the previous step's code) and returns the base32 secret.
func enrolTOTP(t *testing.T, c *client) string {
	t.Helper()
	resp, doc := c.get("/admin/account/totp", false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/account/totp: %d", resp.StatusCode)
	}
	secret := strings.TrimSpace(doc.Find("#totp-secret").Text())
	if secret == "" {
		t.Fatal("no secret shown")
	}
	resp, _ = c.post("/admin/account/totp", url.Values{"code": {totpCode(t, secret, -30*time.Second)}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/account/totp?flash=enabled" {
		t.Fatalf("confirm: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return secret
}

// passwordStep posts the staff password and expects the code step (no staff session yet).
func passwordStep(t *testing.T, c *client, email string) {
	t.Helper()
	c.get("/admin/login", false)
	resp, _ := c.post("/admin/login", url.Values{"email": {email}, "password": {staffPassword}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/login/totp" {
		t.Fatalf("password step: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, doc := c.get("/admin/login/totp", false)
	if resp.StatusCode != http.StatusOK || doc.Find("#totp-login-form").Length() != 1 {
		t.Fatalf("code page: %d", resp.StatusCode)
	}
}

func TestStaffTOTP(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	id := mustStaff(t, ts.Pool, "gus@portico.test", "Gus Agent", store.RoleAgent)
	c := ts.client()
	c.staffSignIn("gus@portico.test")

	// Every staff user (agents too) has the link and the page: the secret as text, the
	// otpauth:// URL and a QR code as a data: URL.
	_, doc := c.get("/admin/inbox", false)
	if doc.Find(`#nav-totp[href="/admin/account/totp"]`).Length() != 1 {
		t.Error("no two-step link in the staff nav")
	}
	resp, doc := c.get("/admin/account/totp", false)
	secret := strings.TrimSpace(doc.Find("#totp-secret").Text())
	u := strings.TrimSpace(doc.Find("#totp-url").Text())
	qr, _ := doc.Find("#totp-qr").Attr("src")
	if resp.StatusCode != http.StatusOK || len(secret) < 32 || !strings.HasPrefix(u, "otpauth://totp/") ||
		!strings.Contains(u, "secret="+secret) || !strings.HasPrefix(qr, "data:image/png;base64,") {
		t.Fatalf("enrol page: %d secret %q url %q qr %.30q", resp.StatusCode, secret, u, qr)
	}
	// Reloading keeps the same pending secret (it lives in Redis, bound to this session).
	_, doc = c.get("/admin/account/totp", false)
	if got := strings.TrimSpace(doc.Find("#totp-secret").Text()); got != secret {
		t.Fatalf("pending secret changed on reload: %q → %q", secret, got)
	}

	// A wrong confirmation code is refused; nothing is enabled.
	resp, doc = c.post("/admin/account/totp", url.Values{"code": {wrongCode(t, secret)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#totp-error").Length() != 1 {
		t.Fatalf("wrong confirm code: %d", resp.StatusCode)
	}
	var enabled *time.Time
	if err := ts.Pool.QueryRow(ctx, `SELECT totp_enabled_at FROM staff_users WHERE id = $1`, id).Scan(&enabled); err != nil || enabled != nil {
		t.Fatalf("enabled after a wrong code: %v %v", enabled, err)
	}
	// The right one (previous step: ±1 skew) enables it, with an audit entry; every other
	// session of this staff user (password only) ends, and this one goes on under a new id.
	other := ts.client()
	other.staffSignIn("gus@portico.test")
	before := c.cookies["portico_session"]
	resp, _ = c.post("/admin/account/totp", url.Values{"code": {totpCode(t, secret, -30*time.Second)}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/account/totp?flash=enabled" {
		t.Fatalf("confirm: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c.cookies["portico_session"] == before {
		t.Error("session id not rotated when the second factor was enabled")
	}
	if r, _ := other.get("/admin/inbox", false); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another password-only session survived enabling TOTP: %d", r.StatusCode)
	}
	_, doc = c.get("/admin/account/totp?flash=enabled", false)
	if doc.Find("#totp-disable-form").Length() != 1 || doc.Find("#totp-secret").Length() != 0 {
		t.Fatal("account page after enabling: no disable form, or the secret is still shown")
	}
	var audits int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1 AND after = 'on'`, "staff:"+itoa(id)+":totp").Scan(&audits)
	if audits != 1 {
		t.Errorf("audit entries for enabling: %d", audits)
	}

	// At rest the secret is sealed: neither the base32 text nor its bytes are in the column,
	// and it opens only with the TOTP key (not with the identity-provider one).
	var sealed []byte
	if err := ts.Pool.QueryRow(ctx, `SELECT totp_secret FROM staff_users WHERE id = $1`, id).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if len(sealed) == 0 || bytes.Contains(sealed, []byte(secret)) || bytes.Contains(bytes.ToUpper(sealed), []byte(secret)) || bytes.Contains(sealed, raw) {
		t.Fatal("TOTP secret stored in plain text")
	}
	tsealer, _ := providers.NewSealerFor(ts.Config.SecretKey, providers.TOTPSealerInfo)
	if m, err := tsealer.Open("staff:"+itoa(id), sealed); err != nil || m["secret"] != secret {
		t.Fatalf("sealed secret does not open to the secret: %v", err)
	}
	psealer, _ := providers.NewSealer(ts.Config.SecretKey)
	if _, err := psealer.Open("staff:"+itoa(id), sealed); err == nil {
		t.Fatal("the identity-provider key opens TOTP secrets")
	}
	c.post("/admin/logout", nil, false)

	// Sign-in now needs the code: after the password, no staff page is reachable.
	b := ts.client()
	passwordStep(t, b, "gus@portico.test")
	for _, p := range []string{"/admin/inbox", "/admin/account/totp", "/admin/contacts"} {
		resp, _ := b.get(p, false)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login") {
			t.Errorf("between password and code, GET %s: %d %q", p, resp.StatusCode, loc)
		}
	}
	b.get("/admin/login/totp", false) // the CSRF token of the (still anonymous) session
	// The pending sign-in lives in Redis for at most 5 minutes.
	keys, _ := ts.Redis.Keys(ctx, ts.prefix+"2fa:signin:*").Result()
	if len(keys) != 1 {
		t.Fatalf("pending sign-in keys: %v", keys)
	}
	if ttl := ts.Redis.TTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > 5*time.Minute {
		t.Errorf("pending sign-in TTL %v", ttl)
	}
	// A wrong code is refused.
	resp, doc = b.post("/admin/login/totp", url.Values{"code": {wrongCode(t, secret)}}, false)
	if resp.StatusCode != http.StatusUnauthorized || doc.Find("#totp-error").Length() != 1 {
		t.Fatalf("wrong sign-in code: %d", resp.StatusCode)
	}
	// Another browser cannot finish this sign-in (the state is bound to b's session).
	other = ts.client()
	other.get("/admin/login", false)
	resp, _ = other.post("/admin/login/totp", url.Values{"code": {totpCode(t, secret, 0)}}, false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/admin/login?expired=1" {
		t.Fatalf("code from another browser: %d %q", resp.StatusCode, loc)
	}
	// The right code signs in, with a new session id.
	before = b.cookies[ts.Handlers.SessionCookieName()]
	code := totpCode(t, secret, 0)
	resp, _ = b.post("/admin/login/totp", url.Values{"code": {code}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/inbox" {
		t.Fatalf("right sign-in code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if after := b.cookies[ts.Handlers.SessionCookieName()]; after == "" || after == before {
		t.Error("session id not rotated at sign-in")
	}
	if resp, _ := b.get("/admin/inbox", false); resp.StatusCode != http.StatusOK {
		t.Fatalf("inbox after the code: %d", resp.StatusCode)
	}
	if keys, _ := ts.Redis.Keys(ctx, ts.prefix+"2fa:signin:*").Result(); len(keys) != 0 {
		t.Errorf("pending sign-in left behind: %v", keys)
	}

	// The same code again (another browser, right password) is a replay: refused.
	r := ts.client()
	passwordStep(t, r, "gus@portico.test")
	resp, _ = r.post("/admin/login/totp", url.Values{"code": {code}}, false)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d", resp.StatusCode)
	}
	if resp, _ := r.get("/admin/inbox", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed code opened the inbox: %d", resp.StatusCode)
	}

	// Disable: a wrong code is refused, a current one turns it off and forgets the secret.
	b.get("/admin/account/totp", false)
	resp, _ = b.post("/admin/account/totp/disable", url.Values{"code": {wrongCode(t, secret)}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("disable with a wrong code: %d", resp.StatusCode)
	}
	resp, _ = b.post("/admin/account/totp/disable", url.Values{"code": {code}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("disable with a used code: %d", resp.StatusCode)
	}
	resp, _ = b.post("/admin/account/totp/disable", url.Values{"code": {totpCode(t, secret, 30*time.Second)}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/account/totp?flash=disabled" {
		t.Fatalf("disable: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if err := ts.Pool.QueryRow(ctx, `SELECT totp_secret FROM staff_users WHERE id = $1`, id).Scan(&sealed); err != nil || sealed != nil {
		t.Fatalf("secret kept after disabling: %v", err)
	}
	// The password alone signs in again.
	ts.client().staffSignIn("gus@portico.test")
}

// TestStaffTOTPRateLimit: wrong codes count against the sign-in limits; once blocked, even the
// right code is refused (429).
func TestStaffTOTPRateLimit(t *testing.T) {
	ts := newTestServer(t, nil)
	mustStaff(t, ts.Pool, "ada@portico.test", "Ada Admin", store.RoleAdmin)
	a := ts.client()
	a.staffSignIn("ada@portico.test")
	secret := enrolTOTP(t, a)
	shortLimits(ts, 3, time.Minute)

	c := ts.client()
	passwordStep(t, c, "ada@portico.test")
	for i := 0; i < 3; i++ {
		resp, _ := c.post("/admin/login/totp", url.Values{"code": {wrongCode(t, secret)}}, false)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, doc := c.post("/admin/login/totp", url.Values{"code": {totpCode(t, secret, 0)}}, false)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || doc.Find("#totp-error").Length() != 1 {
		t.Fatalf("after 3 wrong codes: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/admin/inbox", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("blocked sign-in opened the inbox: %d", resp.StatusCode)
	}
	// The same account counter blocks the password step too.
	d := ts.client()
	d.get("/admin/login", false)
	resp, _ = d.post("/admin/login", url.Values{"email": {"ada@portico.test"}, "password": {staffPassword}}, false)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("password after 3 wrong codes: %d", resp.StatusCode)
	}
}
