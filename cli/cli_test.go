package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portico/auth"
	"portico/server/servertest"
	"portico/sql/store/storetest"
)

// runCLI runs `portico args…` against the test database and returns stdout, stderr and the error.
func runCLI(t *testing.T, dbURL, stdin string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("PORTICO_SECRET_KEY", strings.Repeat("ab", 32))
	var out, errb bytes.Buffer
	err := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLIImportCountsReimportAndBadRows(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	out, _, err := runCLI(t, url, "", "import", "tickets", "--file", "../sql/store/seed/demodata/tickets-multilang.csv", "--demo-contacts", "20")
	if err != nil || !strings.Contains(out, "rows: 294, imported: 294, already present: 0, bad: 0") {
		t.Fatalf("first import: %v %q", err, out)
	}
	out, _, err = runCLI(t, url, "", "import", "tickets", "--file", "../sql/store/seed/demodata/tickets-multilang.csv", "--demo-contacts", "20")
	if err != nil || !strings.Contains(out, "imported: 0, already present: 294") {
		t.Fatalf("re-import: %v %q", err, out)
	}
	var n int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM tickets`).Scan(&n)
	if n != 294 {
		t.Fatalf("tickets = %d", n)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("Subject,Body,created_at\nok one,hello,\nbroken,\"unterminated\nok two,hi there,2024-01-02T03:04:05Z\nbad date,x,yesterday\n"), 0o600)
	out, errOut, err := runCLI(t, url, "", "import", "tickets", "--file", bad)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "line ") || !strings.Contains(out, "bad: ") || strings.Contains(out, "imported: 0,") {
		t.Fatalf("bad file: out %q err %q", out, errOut)
	}
}

func TestCLIContactPasswordAndSettings(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	if _, _, err := runCLI(t, url, "", "contact", "add", "--email", "Dora@Example.test", "--name", "Dora Explorer", "--company", "Maps Inc"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, url, "", "contact", "add", "--email", "dora@example.test", "--name", "Again"); err == nil {
		t.Fatal("duplicate contact accepted")
	}
	if _, _, err := runCLI(t, url, "", "contact", "add", "--email", "not-an-email", "--name", "X"); err == nil {
		t.Fatal("bad email accepted")
	}
	if _, _, err := runCLI(t, url, "short\n", "contact", "set-password", "--email", "dora@example.test"); err == nil {
		t.Fatal("7-character password accepted")
	}
	if _, _, err := runCLI(t, url, "password\n", "contact", "set-password", "--email", "dora@example.test"); err == nil || !strings.Contains(err.Error(), "too common") {
		t.Fatalf("common password: %v", err)
	}
	if _, _, err := runCLI(t, url, "", "contact", "add", "--email", "x@example.test"); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("missing --name: %v", err)
	}
	if _, _, err := runCLI(t, url, "backpack and map\n", "contact", "set-password", "--email", "dora@example.test"); err != nil {
		t.Fatal(err)
	}
	var hash string
	pool.QueryRow(context.Background(), `SELECT password_hash FROM portal_accounts`).Scan(&hash)
	if !auth.CheckPassword("backpack and map", hash) || strings.Contains(hash, "backpack") {
		t.Fatal("stored password does not verify")
	}
	if _, _, err := runCLI(t, url, "", "settings", "set", "ticket_permissions=company", "idle_timeout=45m", "tickets_label=Cases", "show_custom_stages=true"); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runCLI(t, url, "", "settings", "get")
	for _, want := range []string{"ticket_permissions=company", "idle_timeout=45m0s", "tickets_label=Cases", "show_custom_stages=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("settings get lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"ticket_permissions=everyone", "idle_timeout=1m", "idle_timeout=31d", "show_custom_stages=maybe", "nope=1"} {
		if _, _, err := runCLI(t, url, "", "settings", "set", bad); err == nil {
			t.Errorf("settings set %s accepted", bad)
		}
	}
}

func TestCLISecretPrintsAKey(t *testing.T) {
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"secret"}, nil, &out, &out); err != nil || len(strings.TrimSpace(out.String())) != 64 {
		t.Fatalf("secret: %v %q", err, out.String())
	}
}

// TestCLISeedDemoPrintsWorkingSignIns: the printed customer and staff sign-ins work.
func TestCLISeedDemoPrintsWorkingSignIns(t *testing.T) {
	pool := storetest.NewDB(t)
	t.Setenv("PORTICO_BLOB_URL", "file://"+t.TempDir()+"?no_tmp_dir=1")
	out, _, err := runCLI(t, pool.Config().ConnString(), "", "seed", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "294 tickets imported") || !strings.Contains(out, "admin@portico.example") {
		t.Fatalf("seed output:\n%s", out)
	}
	ts := servertest.New(t, pool)
	var customer string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(f[0], "@") && customer == "" {
			customer = f[0]
		}
	}
	c := ts.Client()
	c.SignIn(customer, "portico-demo")
	_, doc := c.Get("/tickets", false)
	if doc.Find("#tickets-table tbody tr").Length() == 0 {
		t.Fatalf("demo customer %s has no tickets", customer)
	}
	// The showcase (issue 14): help center in two languages at least, a connected support
	// form, a logo and an agent reply with an attachment.
	_, doc = c.Get("/", false)
	if cards := doc.Find(".kb-categories-grid").Text(); !strings.Contains(cards, "Getting started") || !strings.Contains(cards, "How to submit a support ticket") {
		t.Errorf("demo home's help center = %q", cards)
	}
	if doc.Find("#nav-new-ticket").Length() != 1 || doc.Find("header .brand-logo").Length() != 1 {
		t.Errorf("demo home lacks the support form link or the logo")
	}
	if _, doc = c.Get("/kb/submit-a-ticket?lang=de", false); !strings.Contains(doc.Find("#kb-title").Text(), "So reichen Sie") {
		t.Errorf("German article title = %q", doc.Find("#kb-title").Text())
	}
	var withFile int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.author_staff_id IS NOT NULL AND m.kind = 'public'`).Scan(&withFile)
	if withFile != 1 {
		t.Errorf("%d agent replies carry an attachment, want 1", withFile)
	}
	// Running it again adds nothing twice.
	if _, _, err := runCLI(t, pool.Config().ConnString(), "", "seed", "demo"); err != nil {
		t.Fatal(err)
	}
	var articles int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM kb_articles`).Scan(&articles)
	pool.QueryRow(context.Background(), `SELECT count(*) FROM attachments`).Scan(&withFile)
	if articles != 5 || withFile != 1 {
		t.Errorf("after a second seed: %d articles, %d attachments; want 5 and 1", articles, withFile)
	}
	admin := ts.Client()
	admin.Get("/admin/login", false)
	resp, _ := admin.Post("/admin/login", url.Values{"email": {"admin@portico.example"}, "password": {"portico-demo"}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo admin sign-in: %d", resp.StatusCode)
	}
}
