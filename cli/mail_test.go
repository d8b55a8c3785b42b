package cli

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestCLIMailIn: `portico mail-in` stores a mail from stdin once (a second pipe of the same
// mail is a duplicate), and answers an MTA with sysexits: 67 unknown recipient, 65 too large.
func TestCLIMailIn(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	t.Setenv("PORTICO_BLOB_URL", "file://"+t.TempDir()+"?no_tmp_dir=1")
	t.Setenv("PORTICO_MAIL_MAX_BYTES", "65536")
	if out, _, err := runCLI(t, url, "", "inbox", "mail", "set", "--inbox", "1", "--address", "help@portico.test"); err != nil || !strings.Contains(out, "mail to help@portico.test") {
		t.Fatalf("inbox mail set: %v %q", err, out)
	}
	raw := "From: Pat <pat@example.test>\r\nTo: help@portico.test\r\nSubject: Piped\r\nMessage-ID: <pipe-1@example.test>\r\n\r\nHello.\r\n"
	out, _, err := runCLI(t, url, raw, "mail-in", "--recipient", "help+x@portico.test")
	if err != nil || !strings.Contains(out, "stored") {
		t.Fatalf("mail-in: %v %q", err, out)
	}
	if out, _, err = runCLI(t, url, raw, "mail-in"); err != nil || !strings.Contains(out, "duplicate") {
		t.Fatalf("mail-in again: %v %q", err, out)
	}
	var ee *ExitError
	if _, _, err = runCLI(t, url, raw, "mail-in", "--recipient", "nobody@portico.test"); !errors.As(err, &ee) || ee.Code != 67 {
		t.Fatalf("unknown recipient: %v", err)
	}
	big := raw + strings.Repeat("x", 70000)
	if _, _, err = runCLI(t, url, big, "mail-in"); !errors.As(err, &ee) || ee.Code != 65 {
		t.Fatalf("too large: %v", err)
	}
	var n int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound_mails WHERE source = 'stdin'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d mails stored, want 1", n)
	}
	if out, _, err = runCLI(t, url, "", "inbox", "mail", "list"); err != nil || !strings.Contains(out, "help@portico.test") {
		t.Fatalf("inbox mail list: %v %q", err, out)
	}
}

// TestCLIInboxMailTestShowsServerAnswer: `inbox mail test` prints the IMAP server's own
// refusal for a wrong password (against the test Dovecot).
func TestCLIInboxMailTestShowsServerAnswer(t *testing.T) {
	addr := "127.0.0.1:10143"
	if c, err := net.Dial("tcp", addr); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Dovecot is not running on %s: %v", addr, err)
		}
		t.Skipf("Dovecot is not running on %s (bash scripts/mailserver.sh)", addr)
	} else {
		c.Close()
	}
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	t.Setenv("PORTICO_BLOB_URL", "file://"+t.TempDir()+"?no_tmp_dir=1")
	user := "cli-" + storetest.RandHex(4) + "@portico.test"
	if _, _, err := runCLI(t, url, "wrong-password\n", "inbox", "mail", "set", "--inbox", "1", "--address", user, "--imap", "on",
		"--imap-host", "127.0.0.1", "--imap-port", "10143", "--imap-security", "none", "--imap-user", user, "--imap-password-stdin"); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, url, "", "inbox", "mail", "test", "--inbox", "1")
	if err == nil || !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := runCLI(t, url, "portico\n", "inbox", "mail", "set", "--inbox", "1", "--imap-password-stdin"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, url, "", "inbox", "mail", "test", "--inbox", "1")
	if err != nil || !strings.Contains(out, "OK: logged in as "+user) || !strings.Contains(out, "IDLE") {
		t.Fatalf("right password: %v %q", err, out)
	}
}
