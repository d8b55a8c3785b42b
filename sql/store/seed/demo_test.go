package seed_test

import (
	"context"
	"os"
	"testing"

	"portico/sql/store"
	"portico/sql/store/seed"
	"portico/sql/store/storetest"
)

func TestDemoSeed(t *testing.T) {
	ctx := context.Background()
	pool := storetest.NewDB(t)
	st := store.New(pool)
	if empty, err := st.IsEmpty(ctx); err != nil || !empty {
		t.Fatalf("IsEmpty on a fresh database = %v, %v", empty, err)
	}
	hashed := 0
	hash := func(p string) (string, error) { hashed++; return "test-hash:" + p, nil }
	seed := func() seed.DemoSummary {
		f, err := os.Open(multilang)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		sum, err := seed.New(st.Pool).DemoSeed(ctx, f, fi.Size(), 40, hash)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	sum := seed()
	if sum.Import.Imported != 294 || sum.Password != "portico-demo" || hashed != 1 {
		t.Errorf("summary %+v, hash calls %d", sum, hashed)
	}
	if len(sum.SignIns) != 3 || sum.SignIns[0].Company != sum.SignIns[1].Company || sum.SignIns[2].Company == sum.SignIns[0].Company ||
		sum.SignIns[0].Email == sum.SignIns[1].Email {
		t.Errorf("sign-ins = %+v, want two of one company then one of another", sum.SignIns)
	}
	t.Logf("sign-ins: %+v", sum.SignIns)
	for _, s := range sum.SignIns {
		a, err := st.AccountByEmail(ctx, s.Email)
		if err != nil || a.PasswordHash != "test-hash:portico-demo" || a.Status != "active" || a.Contact.Name != s.Name || a.Contact.CompanyName != s.Company {
			t.Errorf("account %s: %+v, %v", s.Email, a, err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE c.email = $1`, s.Email).Scan(&n); err != nil || n == 0 {
			t.Errorf("%s has %d tickets (%v)", s.Email, n, err)
		}
	}
	var contacts, accounts, answered, closed, closedNoAnswer, closedBad, owned int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM portal_accounts WHERE status = 'active')`).
		Scan(&contacts, &accounts); err != nil {
		t.Fatal(err)
	}
	if contacts < 36 || accounts != contacts {
		t.Errorf("%d contacts, %d active accounts", contacts, accounts)
	}
	if err := pool.QueryRow(ctx, `WITH a AS (SELECT t.*, EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.author_contact_id IS NULL) AS has_answer
			FROM tickets t)
		SELECT count(*) FILTER (WHERE has_answer), count(*) FILTER (WHERE is_closed),
			count(*) FILTER (WHERE is_closed AND NOT has_answer),
			count(*) FILTER (WHERE is_closed AND (closed_at IS DISTINCT FROM last_activity_at OR NOT (SELECT s.is_closed FROM stages s WHERE s.id = a.stage_id))),
			count(*) FILTER (WHERE owner_id = (SELECT id FROM staff_users WHERE email = 'agent@portico.example' AND name = 'Dana Agent' AND role = 'agent'))
		FROM a`).Scan(&answered, &closed, &closedNoAnswer, &closedBad, &owned); err != nil {
		t.Fatal(err)
	}
	if closed < answered/5 || closed > answered/2 || closedNoAnswer != 0 || closedBad != 0 || owned != answered {
		t.Errorf("answered %d, closed %d (%d without answer, %d inconsistent), owned by the agent %d", answered, closed, closedNoAnswer, closedBad, owned)
	}
	t.Logf("answered %d, closed %d, contacts %d", answered, closed, contacts)
	if empty, err := st.IsEmpty(ctx); err != nil || empty {
		t.Errorf("IsEmpty after seeding = %v, %v", empty, err)
	}

	// Seeding again adds nothing and gives the same sign-ins.
	again := seed()
	if again.Import.Imported != 0 || again.Import.Duplicates != 294 || len(again.SignIns) != 3 || again.SignIns[0] != sum.SignIns[0] {
		t.Errorf("second seed: %+v", again)
	}
	var staff, closed2 int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM staff_users), (SELECT count(*) FROM tickets WHERE is_closed)`).Scan(&staff, &closed2); err != nil {
		t.Fatal(err)
	}
	if staff != 1 || closed2 != closed {
		t.Errorf("after second seed: %d staff users, %d closed tickets (was %d)", staff, closed2, closed)
	}
}
