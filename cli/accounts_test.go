package cli

import (
	"context"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

func TestCLIAccountsInviteIsIdempotentAndResends(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	ctx := context.Background()
	if _, _, err := runCLI(t, url, "", "accounts", "invite"); err == nil || !strings.Contains(err.Error(), "signin_method") {
		t.Fatalf("invite in self-registration mode: %v", err)
	}
	storetest.MustContact(t, pool, "mia@members.test", "Mia Member", 0, "")
	storetest.MustContact(t, pool, "sam@members.test", "Sam Signedup", 0, "a long enough password")
	var gid int64
	if err := pool.QueryRow(ctx, `INSERT INTO access_groups (name) VALUES ('Members') RETURNING id`).Scan(&gid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO access_group_members (group_id, contact_id) SELECT $1, id FROM contacts`, gid); err != nil {
		t.Fatal(err)
	}
	// Setting the groups in access-group mode invites at once (Mia: Sam has an account).
	if _, _, err := runCLI(t, url, "", "settings", "set", "signin_method=access_groups", "access_groups=Members"); err != nil {
		t.Fatal(err)
	}
	jobs := func() int {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'portico_mail' AND args->>'template' = 'invite'`).Scan(&n)
		return n
	}
	if n := jobs(); n != 1 {
		t.Fatalf("invite mails after the setting: %d, want 1", n)
	}
	out, _, err := runCLI(t, url, "", "accounts", "invite")
	if err != nil || !strings.Contains(out, "registration mails queued: 0") || jobs() != 1 {
		t.Fatalf("second invite: %v %q, jobs %d", err, out, jobs())
	}
	out, _, err = runCLI(t, url, "", "accounts", "resend", "--email", "mia@members.test")
	if err != nil || jobs() != 2 {
		t.Fatalf("resend: %v %q, jobs %d", err, out, jobs())
	}
	var pending int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM account_tokens WHERE purpose = 'invite' AND used_at IS NULL`).Scan(&pending)
	if pending != 1 {
		t.Fatalf("pending invite links after resend: %d, want 1 (the old one voided)", pending)
	}
	if _, _, err := runCLI(t, url, "", "accounts", "resend", "--email", "sam@members.test"); err == nil {
		t.Fatal("resend to a member with an account succeeded")
	}
	// No plain token is stored anywhere: the job holds only the token row's id.
	var args string
	_ = pool.QueryRow(ctx, `SELECT args::text FROM river_job WHERE kind = 'portico_mail' LIMIT 1`).Scan(&args)
	if strings.Contains(args, "token=") || !strings.Contains(args, "token_id") {
		t.Fatalf("job args %s", args)
	}
}
