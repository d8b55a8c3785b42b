package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// followConfirm opens a link page (GET) and submits its one form (POST), as a person clicking
// the mail's button and then the page's button.
func (c *client) followConfirm(link string) *http.Response {
	c.ts.t.Helper()
	resp, doc := c.get(link, false)
	if resp.StatusCode != http.StatusOK {
		c.ts.t.Fatalf("GET %s: %d", strings.SplitN(link, "?", 2)[0], resp.StatusCode)
	}
	if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		c.ts.t.Errorf("token page Referrer-Policy = %q, want no-referrer", rp)
	}
	action, _ := doc.Find("#confirm-form").Attr("action")
	tok, _ := doc.Find("#confirm-form input[name=token]").Attr("value")
	resp, _ = c.post(action, url.Values{"token": {tok}}, false)
	return resp
}

func TestSelfRegistrationWithConsentThroughToTickets(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	ctx := context.Background()
	const consent = "We process your data to answer your tickets (privacy notice v3)."
	if err := ts.Store.SettingSet(ctx, "consent_text", consent); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	_, doc := c.get("/login", false)
	if doc.Find("#register-here").Length() != 1 {
		t.Fatal(`login page lacks "Register here"`)
	}
	_, doc = c.get("/register", false)
	if got := strings.TrimSpace(doc.Find("#consent-text").Text()); got != consent {
		t.Fatalf("consent text shown = %q", got)
	}
	// Without consent: refused, the message beside the field, typed values kept (not the password).
	form := url.Values{"name": {"Nina Neu"}, "email": {"nina@new.test"}, "password": {"lantern orbit cactus"}}
	resp, doc := c.post("/register", form, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#consent-error").Length() != 1 {
		t.Fatalf("no consent: %d, consent error %d", resp.StatusCode, doc.Find("#consent-error").Length())
	}
	if doc.Find("#name").AttrOr("value", "") != "Nina Neu" || doc.Find("#email").AttrOr("value", "") != "nina@new.test" ||
		doc.Find("#password").AttrOr("value", "") != "" {
		t.Error("typed values not kept, or password echoed")
	}
	// A common password is refused.
	form.Set("consent", "yes")
	form.Set("password", "password123")
	resp, doc = c.post("/register", form, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#password-error").Length() != 1 {
		t.Fatalf("common password: %d", resp.StatusCode)
	}
	smtpd.none(200 * time.Millisecond)

	form.Set("password", "lantern orbit cactus")
	resp, _ = c.post("/register", form, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/register/sent" {
		t.Fatalf("register: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	m := smtpd.next()
	if m.To != "nina@new.test" || !strings.Contains(m.Subject, "Customer portal") || m.HTML == "" || m.Text == "" {
		t.Fatalf("verify mail: to %q subject %q, html %d bytes, text %d bytes", m.To, m.Subject, len(m.HTML), len(m.Text))
	}
	if !strings.HasPrefix(m.ContentType, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", m.ContentType)
	}
	link := m.link(t, "/register/confirm")
	// Opening the link alone (a mail scanner) creates nothing.
	var n int
	_ = ts.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email = 'nina@new.test'`).Scan(&n)
	if n != 0 {
		t.Fatal("contact created before confirmation")
	}
	pre := sessionBefore(t, c)
	resp = c.followConfirm(link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		t.Fatalf("confirm: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	checkRotated(t, ts, c, pre, "registration confirm")
	resp, doc = c.get("/tickets", false)
	if resp.StatusCode != http.StatusOK || doc.Find("#account-link").Text() != "Nina Neu" {
		t.Fatalf("after confirm: %d, account link %q", resp.StatusCode, doc.Find("#account-link").Text())
	}
	// Consent stored with the exact text and a time.
	var text string
	var at time.Time
	if err := ts.Pool.QueryRow(ctx, `SELECT cc.consent_text, cc.given_at FROM contact_consents cc JOIN contacts c ON c.id = cc.contact_id
		WHERE c.email = 'nina@new.test'`).Scan(&text, &at); err != nil || text != consent || time.Since(at) > time.Minute {
		t.Fatalf("consent row: %q %v %v", text, at, err)
	}
	// The link is single use.
	other := ts.client()
	resp, _ = other.get(link, false)
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("reused link: %d, want 410", resp.StatusCode)
	}
	// The chosen password works.
	ts.client().signIn("nina@new.test", "lantern orbit cactus")
}

func TestRegisterKnownAddressAnswersLikeNewOne(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	type answer struct {
		status   int
		location string
		page     string
	}
	do := func(email string) answer {
		c := ts.client()
		c.get("/register", false)
		resp, _ := c.post("/register", url.Values{"name": {"Someone"}, "email": {email}, "password": {"lantern orbit cactus"}}, false)
		a := answer{status: resp.StatusCode, location: resp.Header.Get("Location")}
		_, doc := c.get(a.location, false)
		a.page = strings.TrimSpace(doc.Find("main").Text())
		return a
	}
	known, unknown := do(fx.AliceEmail), do("stranger@new.test")
	if known != unknown {
		t.Fatalf("answers differ:\nknown   %+v\nunknown %+v", known, unknown)
	}
	got := map[string]string{}
	for range 2 {
		m := smtpd.next()
		got[m.To] = m.Subject
	}
	if !strings.Contains(got[fx.AliceEmail], "already have an account") {
		t.Errorf("known address got %q", got[fx.AliceEmail])
	}
	if !strings.Contains(got["stranger@new.test"], "Confirm your email") {
		t.Errorf("new address got %q", got["stranger@new.test"])
	}
	// Alice's password is untouched.
	ts.client().signIn(fx.AliceEmail, fx.Password)
}

func TestPasswordResetEndsSessionsAndLinkIsSingleUse(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	old := ts.client()
	old.signIn(fx.AliceEmail, fx.Password)

	// Known and unknown addresses get the same answer; only the known one gets mail.
	var answers [2]string
	for i, email := range []string{"nobody@nowhere.test", fx.AliceEmail} {
		c := ts.client()
		c.get("/password/forgot", false)
		resp, _ := c.post("/password/forgot", url.Values{"email": {email}}, false)
		answers[i] = resp.Status + " " + resp.Header.Get("Location")
	}
	if answers[0] != answers[1] {
		t.Fatalf("reset answers differ: %q vs %q", answers[0], answers[1])
	}
	m := smtpd.next()
	if m.To != fx.AliceEmail {
		t.Fatalf("reset mail to %q", m.To)
	}
	smtpd.none(200 * time.Millisecond)
	link := m.link(t, "/password/reset")

	c := ts.client()
	resp, doc := c.get(link, false)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("reset page: %d, Referrer-Policy %q", resp.StatusCode, resp.Header.Get("Referrer-Policy"))
	}
	tok := doc.Find("input[name=token]").AttrOr("value", "")
	resp, doc = c.post("/password/reset", url.Values{"token": {tok}, "password": {"short"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#password-error").Length() != 1 {
		t.Fatalf("short password: %d", resp.StatusCode)
	}
	long := strings.Repeat("päss wörd ", 10) // 100 characters, non-ASCII: never truncated
	resp, _ = c.post("/password/reset", url.Values{"token": {tok}, "password": {long}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?reset=1" {
		t.Fatalf("reset: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Not signed in automatically; the old session is gone.
	if resp, _ := c.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed in after reset: %d", resp.StatusCode)
	}
	if resp, _ := old.get("/tickets", false); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("old session survived the reset: %d", resp.StatusCode)
	}
	// The notice mail, the new password, and the old link dead.
	if n := smtpd.next(); !strings.Contains(n.Subject, "was changed") {
		t.Errorf("notice mail %q", n.Subject)
	}
	ts.client().signIn(fx.AliceEmail, long)
	resp, _ = ts.client().get(link, false)
	if resp.StatusCode != http.StatusGone {
		t.Errorf("used reset link: %d, want 410", resp.StatusCode)
	}
	resp, _ = c.post("/password/reset", url.Values{"token": {tok}, "password": {"another fine password"}}, false)
	if resp.StatusCode != http.StatusGone {
		t.Errorf("reset link posted twice: %d, want 410", resp.StatusCode)
	}
}

func TestResetMailArrivesAfterSMTPOutage(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	smtpd.stop()
	c := ts.client()
	c.get("/password/forgot", false)
	resp, _ := c.post("/password/forgot", url.Values{"email": {fx.BobEmail}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request during outage: %d (a failed send must not fail the request)", resp.StatusCode)
	}
	// Wait until the queue has failed at least once, then bring the server back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var errs int
		_ = ts.Pool.QueryRow(context.Background(), `SELECT coalesce(max(array_length(errors, 1)), 0) FROM river_job WHERE kind = 'portico_mail'`).Scan(&errs)
		if errs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mail job never failed while SMTP was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	smtpd.restart()
	m := smtpd.next()
	if m.To != fx.BobEmail {
		t.Fatalf("mail to %q", m.To)
	}
	c2 := ts.client()
	resp, _ = c2.get(m.link(t, "/password/reset"), false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("link from the retried mail: %d", resp.StatusCode)
	}
}

func TestMagicLinkSignsInOnceAndExpires(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	_, doc := c.get("/login", false)
	if doc.Find("#magic-link").Length() != 1 {
		t.Fatal(`login page lacks "Email me a sign-in link"`)
	}
	c.get("/login/link", false)
	resp, _ := c.post("/login/link", url.Values{"email": {fx.CarolEmail}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	link := smtpd.next().link(t, "/login/link/confirm")
	pre := sessionBefore(t, c)
	resp = c.followConfirm(link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		t.Fatalf("magic sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	checkRotated(t, ts, c, pre, "magic sign-in link")
	if resp, doc := c.get("/tickets", false); resp.StatusCode != http.StatusOK || doc.Find("#account-link").Text() != "Carol Cruz" {
		t.Fatalf("not signed in as Carol: %d", resp.StatusCode)
	}
	if resp, _ := ts.client().get(link, false); resp.StatusCode != http.StatusGone {
		t.Errorf("reused magic link: %d", resp.StatusCode)
	}
	// An expired link is refused.
	c2 := ts.client()
	c2.get("/login/link", false)
	c2.post("/login/link", url.Values{"email": {fx.CarolEmail}}, false)
	link = smtpd.next().link(t, "/login/link/confirm")
	if _, err := ts.Pool.Exec(context.Background(), `UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'magic' AND used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c2.get(link, false); resp.StatusCode != http.StatusGone {
		t.Errorf("expired magic link: %d", resp.StatusCode)
	}
}

func TestAccessGroupInvitationAndOnlyMembersSignIn(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	ctx := context.Background()
	vip := storetest.MustContact(t, ts.Pool, "vera@vip.test", "Vera Vip", fx.Acme, "")
	var gid int64
	if err := ts.Pool.QueryRow(ctx, `INSERT INTO access_groups (name) VALUES ('VIP') RETURNING id`).Scan(&gid); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Pool.Exec(ctx, `INSERT INTO access_group_members (group_id, contact_id) VALUES ($1, $2), ($1, $3)`, gid, vip, fx.Bob); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.SettingSet(ctx, "access_groups", "VIP"); err != nil {
		t.Fatal(err)
	}
	smtpd.none(200 * time.Millisecond) // self-registration mode: nobody invited yet
	if err := ts.Store.SettingSet(ctx, "signin_method", "access_groups"); err != nil {
		t.Fatal(err)
	}
	m := smtpd.next() // Vera only: Bob already has an account
	if m.To != "vera@vip.test" || !strings.Contains(m.Subject, "access") {
		t.Fatalf("invite: to %q subject %q", m.To, m.Subject)
	}
	smtpd.none(200 * time.Millisecond)
	if n, err := ts.Store.AccountsInviteGroupMembers(ctx, ""); err != nil || n != 0 {
		t.Fatalf("second invite round: %d %v, want 0 (idempotent)", n, err)
	}
	// Register is closed; the login page has no "Register here".
	c := ts.client()
	if _, doc := c.get("/login", false); doc.Find("#register-here").Length() != 0 {
		t.Error(`"Register here" shown in access-group mode`)
	}
	// Vera sets her password through the link and lands on her tickets.
	link := m.link(t, "/register/invite")
	_, doc := c.get(link, false)
	tok := doc.Find("input[name=token]").AttrOr("value", "")
	pre := sessionBefore(t, c)
	resp, _ := c.post("/register/invite", url.Values{"token": {tok}, "password": {"violet harbour engine"}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
		t.Fatalf("invite accept: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	checkRotated(t, ts, c, pre, "invite accept")
	// Bob (member) signs in; Alice (not a member) sees access denied.
	ts.client().signIn(fx.BobEmail, fx.Password)
	a := ts.client()
	a.get("/login", false)
	resp, doc = a.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}}, false)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(doc.Find("h1").Text(), "Access denied") {
		t.Fatalf("non-member: %d %q", resp.StatusCode, doc.Find("h1").Text())
	}
	// A contact added to the group later is invited through the hook, in the adding transaction.
	late := storetest.MustContact(t, ts.Pool, "leo@late.test", "Leo Late", 0, "")
	tx, err := ts.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO access_group_members (group_id, contact_id) VALUES ($1, $2)`, gid, late); err != nil {
		t.Fatal(err)
	}
	if err := store.AccessGroupMemberAdded(ctx, tx, gid, late); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if m := smtpd.next(); m.To != "leo@late.test" {
		t.Fatalf("late member mail to %q", m.To)
	}
	// Resend voids the old link and mails a new one.
	if ok, err := ts.Store.AccountInviteResend(ctx, late); err != nil || !ok {
		t.Fatalf("resend: %v %v", ok, err)
	}
	if m := smtpd.next(); m.To != "leo@late.test" {
		t.Fatalf("resent mail to %q", m.To)
	}
}

func TestSignInRateLimitPerAccountAnswersAlike(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	// The window is long enough that seven password checks fit in it on a loaded 2-core box
	// (a 2 s window ran out before the limited answers were asked for).
	shortLimits(ts, 3, 6*time.Second)
	try := func(email, password string) (int, string) {
		c := ts.client()
		c.get("/login", false)
		resp, doc := c.post("/login", url.Values{"email": {email}, "password": {password}}, false)
		return resp.StatusCode, strings.TrimSpace(doc.Find("#login-error").Text())
	}
	for _, email := range []string{fx.AliceEmail, "ghost@nowhere.test"} {
		for i := range 3 {
			if st, _ := try(email, "wrong password"); st != http.StatusUnauthorized {
				t.Fatalf("%s failure %d: %d", email, i+1, st)
			}
		}
	}
	st1, msg1 := try(fx.AliceEmail, fx.Password) // even the right password waits
	st2, msg2 := try("ghost@nowhere.test", "wrong password")
	if st1 != http.StatusTooManyRequests || st1 != st2 || msg1 != msg2 || !strings.Contains(msg1, "Try again in 1 min") {
		t.Fatalf("limited answers: %d %q / %d %q", st1, msg1, st2, msg2)
	}
	// Bob, on the same IP, is not affected by Alice's counter.
	ts.client().signIn(fx.BobEmail, fx.Password)
	// The window passes; Alice gets in.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := try(fx.AliceEmail, fx.Password)
		if st == http.StatusSeeOther {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after the window", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestResetRequestRateLimit(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	shortLimits(ts, 2, time.Minute)
	var last [2]int
	for i, email := range []string{fx.AliceEmail, "ghost@nowhere.test"} {
		for range 3 {
			c := ts.client()
			c.get("/password/forgot", false)
			resp, _ := c.post("/password/forgot", url.Values{"email": {email}}, false)
			last[i] = resp.StatusCode
		}
	}
	if last[0] != http.StatusTooManyRequests || last[1] != last[0] {
		t.Fatalf("third request: %v, want 429 for both", last)
	}
}

func TestPortalSwitchOff(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	if err := ts.Store.SettingSet(context.Background(), "portal_enabled", "false"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/login", "/tickets", "/register"} {
		resp, doc := ts.client().get(p, false)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(doc.Find("h1").Text(), "Portal unavailable") {
			t.Errorf("%s: %d %q", p, resp.StatusCode, doc.Find("h1").Text())
		}
	}
	if resp, _ := c.get("/tickets", false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("signed-in customer: %d", resp.StatusCode)
	}
	if resp, _ := ts.client().get("/healthz", false); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	if err := ts.Store.SettingSet(context.Background(), "page_unavailable_heading", "Back on Monday"); err != nil {
		t.Fatal(err)
	}
	if _, doc := ts.client().get("/login", false); doc.Find("h1").Text() != "Back on Monday" {
		t.Errorf("admin heading not used: %q", doc.Find("h1").Text())
	}
}

func TestPortalOffAtFirstProductionStart(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	if stored, err := ts.Store.PortalSwitchFirstStart(ctx); err != nil || !stored {
		t.Fatalf("first start: %v %v", stored, err)
	}
	st, _ := ts.Store.SettingsGet(ctx)
	if st.PortalEnabled {
		t.Fatal("portal on after a production first start")
	}
	if err := ts.Store.SettingSet(ctx, "portal_enabled", "true"); err != nil {
		t.Fatal(err)
	}
	if stored, _ := ts.Store.PortalSwitchFirstStart(ctx); stored {
		t.Fatal("a later start overrode the admin's choice")
	}
}

func TestAccountPageProfilePasswordAndSignOutEverywhere(t *testing.T) {
	smtpd := startSMTP(t)
	ts := newMailServer(t, smtpd.addr)
	fx := storetest.MustStandard(t, ts.Pool)
	other := ts.client()
	other.signIn(fx.AliceEmail, fx.Password)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	_, doc := c.get("/account", false)
	if doc.Find("#name").AttrOr("value", "") != "Alice Archer" {
		t.Fatal("account page lacks the name")
	}
	// Name and language: Dutch then wins over the browser's English.
	c.lang = "en"
	resp, _ := c.post("/account", url.Values{"name": {"Alice A."}, "language": {"nl"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile: %d", resp.StatusCode)
	}
	_, doc = c.get("/account", false)
	if doc.Find("html").AttrOr("lang", "") != "nl" || doc.Find("#account-link").Text() != "Alice A." {
		t.Fatalf("after profile: lang %q name %q", doc.Find("html").AttrOr("lang", ""), doc.Find("#account-link").Text())
	}
	resp, doc = c.post("/account", url.Values{"name": {""}, "language": {"xx"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#name-error").Length() != 1 || doc.Find("#language-error").Length() != 1 {
		t.Fatalf("bad profile: %d", resp.StatusCode)
	}
	// Password change needs the current password; it ends the other sessions, not this one.
	resp, doc = c.post("/account/password", url.Values{"current_password": {"wrong"}, "new_password": {"meadow quartz violin"}}, false)
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#current_password-error").Length() != 1 {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
	resp, _ = c.post("/account/password", url.Values{"current_password": {fx.Password}, "new_password": {"meadow quartz violin"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/account", false); resp.StatusCode != http.StatusOK {
		t.Fatalf("this session ended by its own password change: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("other session survived the password change: %d", resp.StatusCode)
	}
	if m := smtpd.next(); m.To != fx.AliceEmail || !strings.Contains(m.Subject, "gewijzigd") {
		t.Errorf("password-changed notice: to %q subject %q (want Dutch)", m.To, m.Subject)
	}
	// Sign out everywhere.
	third := ts.client()
	third.signIn(fx.AliceEmail, "meadow quartz violin")
	c.get("/account", false)
	resp, _ = c.post("/account/sign-out-everywhere", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("sign out everywhere: %d", resp.StatusCode)
	}
	for i, cl := range []*client{c, third} {
		if resp, _ := cl.get("/tickets", false); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("session %d survived: %d", i, resp.StatusCode)
		}
	}
}
