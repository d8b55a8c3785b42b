package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"portico/sql/store/storetest"
)

// importMailHelperEnv makes the test binary run `portico import mail …` as a child process
// (TestMain), so that TestImportMailSurvivesKill can SIGKILL it.
const importMailHelperEnv = "PORTICO_TEST_IMPORT_MAIL_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(importMailHelperEnv); args != "" {
		err := Main(context.Background(), strings.Split(args, "\x1f"), strings.NewReader(""), os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCLIImportMail: `portico import mail` loads an mbox (the inbound package's fixture: two
// threads, a reply chain, a message without From), prints the summary, reports the bad
// message with its number and offset on stderr, and a second run imports nothing; it refuses
// an inbox without an address and a missing source.
func TestCLIImportMail(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	t.Setenv("PORTICO_BLOB_URL", "file://"+t.TempDir()+"?no_tmp_dir=1")
	mbox := "../mail/inbound/testdata/history/support.mbox"
	if _, _, err := runCLI(t, url, "", "import", "mail", "--inbox", "1", "--mbox", mbox); err == nil || !strings.Contains(err.Error(), "inbox mail set") {
		t.Fatalf("inbox without address: %v", err)
	}
	if _, _, err := runCLI(t, url, "", "inbox", "mail", "set", "--inbox", "1", "--address", "support@portico.test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, url, "", "import", "mail", "--inbox", "1"); err == nil || !strings.Contains(err.Error(), "--mbox F or --maildir D") {
		t.Fatalf("no source: %v", err)
	}
	out, errOut, err := runCLI(t, url, "", "import", "mail", "--inbox", "1", "--mbox", mbox)
	if err != nil || !strings.Contains(out, "messages: 9, imported: 8 (new tickets: 4), already present: 0, held: 0, ignored: 0, bad: 1") {
		t.Fatalf("import: %v %q %q", err, out, errOut)
	}
	if !strings.HasPrefix(errOut, "message 6 (offset 1997): ") || !strings.Contains(errOut, "From") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("stderr %q", errOut)
	}
	out, _, err = runCLI(t, url, "", "import", "mail", "--inbox", "1", "--mbox", mbox)
	if err != nil || !strings.Contains(out, "imported: 0 (new tickets: 0), already present: 8") {
		t.Fatalf("re-import: %v %q", err, out)
	}
	var tickets int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM tickets`).Scan(&tickets)
	if tickets != 4 {
		t.Fatalf("%d tickets", tickets)
	}
}

// TestImportMailSurvivesKill: a child process running `portico import mail` on 450 messages
// (150 threads of customer question, the inbox's answer, customer follow-up) is SIGKILLed while
// storing, and in another run while processing; running the import again completes it with
// every message exactly once, on the right ticket, in order.
func TestImportMailSurvivesKill(t *testing.T) {
	const threads = 150
	var b strings.Builder
	day := time.Date(2023, 1, 2, 8, 0, 0, 0, time.UTC)
	for i := 0; i < threads; i++ {
		at := day.Add(time.Duration(i) * time.Hour)
		cust := fmt.Sprintf("cust%03d@example.test", i)
		msg := func(from, to, subject, id, reply string, at time.Time, body string) {
			fmt.Fprintf(&b, "From %s %s\nFrom: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s>\n", from, at.Format(time.ANSIC), from, to, subject, at.Format(time.RFC1123Z), id)
			if reply != "" {
				fmt.Fprintf(&b, "In-Reply-To: <%s>\nReferences: <%s>\n", reply, reply)
			}
			fmt.Fprintf(&b, "\n%s\n\n", body)
		}
		msg(cust, "support@portico.test", fmt.Sprintf("Question %d", i), fmt.Sprintf("q%d@example.test", i), "", at, fmt.Sprintf("Question number %d.", i))
		msg("support@portico.test", cust, fmt.Sprintf("Re: Question %d", i), fmt.Sprintf("a%d@portico.test", i), fmt.Sprintf("q%d@example.test", i), at.Add(10*time.Minute), fmt.Sprintf("Answer number %d.", i))
		msg(cust, "support@portico.test", fmt.Sprintf("Re: Question %d", i), fmt.Sprintf("f%d@example.test", i), fmt.Sprintf("a%d@portico.test", i), at.Add(20*time.Minute), fmt.Sprintf("Thanks for %d.", i))
	}
	mboxPath := filepath.Join(t.TempDir(), "history.mbox")
	if err := os.WriteFile(mboxPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	const total = 3 * threads
	for _, phase := range []struct {
		name  string
		query string // counts progress; the child is killed at killAt
	}{
		{"storing", `SELECT count(*) FROM inbound_mails`},
		{"processing", `SELECT count(*) FROM inbound_mails WHERE status <> 'received'`},
	} {
		t.Run(phase.name, func(t *testing.T) {
			pool := storetest.NewDB(t)
			ctx := context.Background()
			url := pool.Config().ConnString()
			blobURL := "file://" + t.TempDir() + "?no_tmp_dir=1"
			t.Setenv("PORTICO_BLOB_URL", blobURL)
			if _, _, err := runCLI(t, url, "", "inbox", "mail", "set", "--inbox", "1", "--address", "support@portico.test"); err != nil {
				t.Fatal(err)
			}
			args := []string{"import", "mail", "--inbox", "1", "--mbox", mboxPath}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), importMailHelperEnv+"="+strings.Join(args, "\x1f"), "DATABASE_URL="+url,
				"PORTICO_SECRET_KEY="+strings.Repeat("ab", 32), "PORTICO_BLOB_URL="+blobURL)
			var childOut strings.Builder
			cmd.Stdout, cmd.Stderr = &childOut, &childOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			count := func(q string) int {
				var n int
				if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			killAt := total / 4
			deadline := time.Now().Add(2 * time.Minute)
			for count(phase.query) < killAt {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the child made no progress: %s", childOut.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			stored, processed := count(`SELECT count(*) FROM inbound_mails`), count(`SELECT count(*) FROM inbound_mails WHERE status <> 'received'`)
			t.Logf("killed with %d of %d stored, %d processed", stored, total, processed)
			if processed >= total || (phase.name == "storing" && stored >= total) {
				t.Fatalf("the child finished before it was killed (%d stored, %d processed): the test proves nothing", stored, processed)
			}

			out, errOut, err := runCLI(t, url, "", args...)
			if err != nil || errOut != "" {
				t.Fatalf("re-run: %v %q %q", err, out, errOut)
			}
			if !strings.Contains(out, fmt.Sprintf("messages: %d, imported: %d ", total, total-processed)) || !strings.Contains(out, fmt.Sprintf("already present: %d, held: 0, ignored: 0, bad: 0", processed)) {
				t.Fatalf("re-run summary %q: want %d imported, %d already present", out, total-processed, processed)
			}
			checks := map[string]int{
				`SELECT count(*) FROM inbound_mails`:                                                             total,
				`SELECT count(*) FROM inbound_mails WHERE status = 'processed'`:                                  total,
				`SELECT count(*) FROM messages`:                                                                  total,
				`SELECT count(DISTINCT email_message_id) FROM messages`:                                          total,
				`SELECT count(DISTINCT inbound_mail_id) FROM messages`:                                           total,
				`SELECT count(*) FROM tickets`:                                                                   threads,
				`SELECT count(*) FROM contacts WHERE email LIKE 'cust%@example.test'`:                            threads,
				`SELECT count(*) FROM (SELECT ticket_id FROM messages GROUP BY ticket_id HAVING count(*) = 3) x`: threads,
				// Each thread in order: question (customer), answer (staff), follow-up (customer), on one ticket.
				`SELECT count(*) FROM tickets t WHERE (SELECT string_agg(left(email_message_id, 1) || CASE WHEN author_contact_id IS NULL THEN 's' ELSE 'c' END, ' ' ORDER BY created_at, id)
					FROM messages m WHERE m.ticket_id = t.id) = 'qc as fc'`: threads,
			}
			for q, want := range checks {
				if got := count(q); got != want {
					t.Errorf("%s = %d, want %d", strings.Join(strings.Fields(q), " "), got, want)
				}
			}
		})
	}
}
