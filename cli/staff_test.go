package cli

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"portico/server/servertest"
	"portico/sql/store/storetest"
)

// TestCLIStaffAdd: the password comes from standard input (never echoed), a short password and
// an unknown role are refused, and the new staff user can sign in at /admin/login.
func TestCLIStaffAdd(t *testing.T) {
	pool := storetest.NewDB(t)
	dbURL := pool.Config().ConnString()
	ctx := context.Background()
	count := func() int {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM staff_users`).Scan(&n)
		return n
	}
	const pw = "correct staff horse"
	if _, _, err := runCLI(t, dbURL, "short\n", "staff", "add", "--email", "eve@portico.test", "--name", "Eve", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("7-character password: %v", err)
	}
	if _, _, err := runCLI(t, dbURL, "password\n", "staff", "add", "--email", "eve@portico.test", "--name", "Eve", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "too common") {
		t.Fatalf("common password: %v", err)
	}
	for _, role := range []string{"owner", "", "Admin"} {
		if _, _, err := runCLI(t, dbURL, pw+"\n", "staff", "add", "--email", "eve@portico.test", "--name", "Eve", "--role", role); err == nil || !strings.Contains(err.Error(), "--role") {
			t.Errorf("role %q: %v", role, err)
		}
	}
	if _, _, err := runCLI(t, dbURL, pw+"\n", "staff", "add", "--email", "not-an-email", "--name", "Eve", "--role", "agent"); err == nil {
		t.Error("bad email accepted")
	}
	if n := count(); n != 0 {
		t.Fatalf("refused commands stored %d staff users", n)
	}
	out, errOut, err := runCLI(t, dbURL, pw+"\n", "staff", "add", "--email", "Eve@Portico.test", "--name", "Eve Admin", "--role", "admin")
	if err != nil || !strings.Contains(out, "Eve Admin <eve@portico.test> (admin)") {
		t.Fatalf("staff add: %v %q", err, out)
	}
	if strings.Contains(out+errOut, pw) {
		t.Error("the password was printed")
	}
	if _, _, err := runCLI(t, dbURL, pw+"\n", "staff", "add", "--email", "eve@portico.test", "--name", "Again", "--role", "agent"); err == nil {
		t.Error("duplicate staff email accepted")
	}
	var role, hash string
	pool.QueryRow(ctx, `SELECT role, password_hash FROM staff_users WHERE email = 'eve@portico.test'`).Scan(&role, &hash)
	if role != "admin" || strings.Contains(hash, pw) {
		t.Fatalf("stored role %q", role)
	}

	// The password typed on standard input opens the staff console.
	ts := servertest.New(t, pool)
	c := ts.Client()
	c.Get("/admin/login", false)
	resp, _ := c.Post("/admin/login", url.Values{"email": {"eve@portico.test"}, "password": {pw}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/inbox" {
		t.Fatalf("sign-in with the CLI password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, doc := c.Get("/admin/inbox", false)
	if doc.Find("#nav-settings").Length() != 1 {
		t.Error("the CLI admin is not an admin")
	}
}

// TestCLIGroup: create, add-member, remove-member and list, with their refusals.
func TestCLIGroup(t *testing.T) {
	pool := storetest.NewDB(t)
	dbURL := pool.Config().ConnString()
	ctx := context.Background()
	fx := storetest.MustStandard(t, pool)
	members := func() string {
		rows, _ := pool.Query(ctx, `SELECT c.email FROM access_group_members m JOIN contacts c ON c.id = m.contact_id
			JOIN access_groups g ON g.id = m.group_id WHERE g.name = 'Partners' ORDER BY c.email`)
		var out []string
		for rows.Next() {
			var e string
			rows.Scan(&e)
			out = append(out, e)
		}
		return strings.Join(out, " ")
	}

	out, _, err := runCLI(t, dbURL, "", "group", "create", "Partners")
	if err != nil || !strings.Contains(out, "created: Partners") {
		t.Fatalf("create: %v %q", err, out)
	}
	for _, bad := range [][]string{{"create", "partners"}, {"create", "a,b"}, {"create", ""}, {"create"}, {"rename", "x"}} {
		if _, _, err := runCLI(t, dbURL, "", append([]string{"group"}, bad...)...); err == nil {
			t.Errorf("group %v accepted", bad)
		}
	}
	out, _, err = runCLI(t, dbURL, "", "group", "add-member", "Partners", fx.AliceEmail, "BOB@acme.test")
	if err != nil || !strings.Contains(out, "2 added to Partners") {
		t.Fatalf("add-member: %v %q", err, out)
	}
	out, _, err = runCLI(t, dbURL, "", "group", "add-member", "partners", fx.AliceEmail)
	if err != nil || !strings.Contains(out, "0 added") {
		t.Errorf("add-member again: %v %q", err, out)
	}
	// An unknown address: refused, named, and nothing added (not even the known one).
	_, _, err = runCLI(t, dbURL, "", "group", "add-member", "Partners", fx.CarolEmail, "nobody@nowhere.test")
	if err == nil || !strings.Contains(err.Error(), "nobody@nowhere.test") {
		t.Errorf("unknown member: %v", err)
	}
	if _, _, err := runCLI(t, dbURL, "", "group", "add-member", "No such group", fx.CarolEmail); err == nil || !strings.Contains(err.Error(), "no group named") {
		t.Errorf("unknown group: %v", err)
	}
	if got := members(); got != "alice@acme.test bob@acme.test" {
		t.Fatalf("members = %q", got)
	}
	if _, _, err := runCLI(t, dbURL, "", "group", "create", "Empty"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, dbURL, "", "group", "list")
	if err != nil || out != "Empty\t0 members\nPartners\t2 members\n" {
		t.Errorf("list: %v %q", err, out)
	}
	out, _, err = runCLI(t, dbURL, "", "group", "remove-member", "Partners", fx.BobEmail, fx.CarolEmail)
	if err != nil || !strings.Contains(out, "1 removed from Partners") {
		t.Errorf("remove-member: %v %q", err, out)
	}
	if got := members(); got != "alice@acme.test" {
		t.Errorf("members after remove = %q", got)
	}
	out, _, _ = runCLI(t, dbURL, "", "group", "list")
	if !strings.Contains(out, "Partners\t1 members") {
		t.Errorf("list after remove: %q", out)
	}
}

func TestCLIStaffResetTOTP(t *testing.T) {
	pool := storetest.NewDB(t)
	dbURL := pool.Config().ConnString()
	ctx := context.Background()
	id := storetest.MustStaff(t, pool, "gus@portico.test", "Gus Agent", "agent", "")
	if _, err := pool.Exec(ctx, `UPDATE staff_users SET totp_secret = '\\x01', totp_enabled_at = now(), totp_last_step = 1 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, dbURL, "", "staff", "reset-totp", "--email", "nobody@portico.test"); err == nil {
		t.Fatal("unknown staff user accepted")
	}
	out, _, err := runCLI(t, dbURL, "", "staff", "reset-totp", "--email", "GUS@portico.test")
	if err != nil || !strings.Contains(out, "turned off") {
		t.Fatalf("reset: %v %q", err, out)
	}
	var on bool
	pool.QueryRow(ctx, `SELECT totp_enabled_at IS NOT NULL OR totp_secret IS NOT NULL FROM staff_users WHERE id = $1`, id).Scan(&on)
	if on {
		t.Fatal("TOTP still on after the reset")
	}
	var audits int
	pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE key = $1 AND staff_name = 'cli'`, "staff:"+strconv.FormatInt(id, 10)+":totp").Scan(&audits)
	if audits != 1 {
		t.Fatalf("audit rows %d", audits)
	}
}
