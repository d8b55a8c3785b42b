package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"portico/sql/store/storetest"
)

// TestHelpTouchesNothing: `--help` on every command and sub-command prints that command's usage
// (and only its own flags) to stdout and returns flag.ErrHelp, without reading the
// configuration or touching a database (DATABASE_URL points nowhere; the database stays empty);
// a bare `portico` prints the usage and returns ErrUsage instead of serving.
func TestHelpTouchesNothing(t *testing.T) {
	pool := storetest.NewDB(t)
	t.Setenv("DATABASE_URL", pool.Config().ConnString())
	t.Setenv("PORTICO_SECRET_KEY", strings.Repeat("ab", 32))
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), err
	}
	out, errOut, err := run()
	if !errors.Is(err, ErrUsage) || !strings.Contains(errOut, "usage: portico") || out != "" {
		t.Fatalf("bare portico: err %v, stdout %q", err, out)
	}
	if !strings.Contains(errOut, "staff reset-totp --email E") {
		t.Error("the top-level usage does not list staff reset-totp")
	}
	cases := []struct {
		args      []string
		want      string   // in the usage printed
		notFlags  []string // flags that must not be listed
		wantFlags []string
	}{
		{[]string{"migrate", "--help"}, "portico migrate", nil, nil},
		{[]string{"secret", "--help"}, "portico secret", nil, nil},
		{[]string{"serve", "--help"}, "portico serve", nil, []string{"-demo"}},
		{[]string{"settings", "--help"}, "portico settings get", nil, nil},
		{[]string{"settings", "get", "--help"}, "portico settings get", nil, nil},
		{[]string{"settings", "set", "--help"}, "portico settings set", nil, nil},
		{[]string{"contact", "--help"}, "portico contact set-password", nil, nil},
		{[]string{"contact", "add", "--help"}, "portico contact add", nil, []string{"-email", "-name", "-company"}},
		{[]string{"contact", "set-password", "--help"}, "portico contact set-password", []string{"-name", "-company"}, []string{"-email"}},
		{[]string{"accounts", "--help"}, "portico accounts invite", nil, nil},
		{[]string{"accounts", "invite", "--help"}, "portico accounts invite", []string{"-email"}, []string{"-group"}},
		{[]string{"accounts", "resend", "--help"}, "portico accounts resend", []string{"-group"}, []string{"-email"}},
		{[]string{"staff", "--help"}, "portico staff reset-totp", nil, nil},
		{[]string{"staff", "add", "--help"}, "portico staff add", nil, []string{"-role"}},
		{[]string{"staff", "reset-totp", "--help"}, "portico staff reset-totp", []string{"-role"}, []string{"-email"}},
		{[]string{"group", "--help"}, "portico group create", nil, nil},
		{[]string{"group", "list", "--help"}, "portico group list", nil, nil},
		{[]string{"import", "--help"}, "portico import tickets", nil, nil},
		{[]string{"import", "tickets", "--help"}, "portico import tickets", nil, []string{"-file"}},
		{[]string{"import", "mail", "--help"}, "portico import mail", []string{"-file"}, []string{"-inbox", "-mbox", "-maildir"}},
		{[]string{"seed", "--help"}, "portico seed demo", nil, nil},
		{[]string{"provider", "--help"}, "portico provider add", nil, nil},
		{[]string{"provider", "add", "--help"}, "portico provider add", nil, nil},
		{[]string{"provider", "add", "oidc", "--help"}, "portico provider add oidc", []string{"-metadata-file", "-key-file", "-alg", "-tenant"}, []string{"-client-id", "-discovery-url", "-secret-stdin"}},
		{[]string{"provider", "add", "saml", "--help"}, "portico provider add saml", []string{"-client-id", "-secret-stdin"}, []string{"-metadata-url", "-metadata-file"}},
		{[]string{"provider", "list", "--help"}, "portico provider list", nil, nil},
		{[]string{"bench-seed", "--help"}, "portico bench-seed", nil, []string{"-tickets"}},
		{[]string{"mail-in", "--help"}, "portico mail-in", nil, []string{"-recipient"}},
		{[]string{"inbox", "--help"}, "portico inbox mail set", nil, nil},
		{[]string{"inbox", "mail", "--help"}, "portico inbox mail test", nil, nil},
		{[]string{"inbox", "mail", "set", "--help"}, "portico inbox mail set", []string{"-recipient"}, []string{"-address", "-imap-host", "-imap-password-stdin"}},
		{[]string{"inbox", "mail", "test", "--help"}, "portico inbox mail test", []string{"-address"}, []string{"-inbox"}},
		{[]string{"inbox", "mail", "held", "--help"}, "portico inbox mail held", nil, nil},
	}
	// A flag's help names what it is, never repeats the flag: "-client-id string\n\tclient_id".
	echo := regexp.MustCompile(`(?m)^\s+-([a-z-]+) \S+\n\s+(\S+)\s*$`)
	for _, tc := range cases {
		out, errOut, err := run(tc.args...)
		name := strings.Join(tc.args, " ")
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: err %v, want flag.ErrHelp (stderr %q)", name, err, errOut)
			continue
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: usage %q lacks %q", name, out, tc.want)
		}
		for _, f := range tc.wantFlags {
			if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%s: usage does not list %s:\n%s", name, f, out)
			}
		}
		for _, f := range tc.notFlags {
			if strings.Contains(out, "  "+f+" ") || strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%s: usage lists %s, which does not apply:\n%s", name, f, out)
			}
		}
		for _, m := range echo.FindAllStringSubmatch(out, -1) {
			if strings.ReplaceAll(m[1], "-", "_") == strings.ReplaceAll(m[2], "-", "_") {
				t.Errorf("%s: flag -%s is explained by its own name %q", name, m[1], m[2])
			}
		}
		if strings.Contains(out+errOut, "unknown") {
			t.Errorf("%s: %q", name, out+errOut)
		}
	}
	// Nothing was printed but usage.
	if out, _, _ := run("secret", "--help"); regexp.MustCompile(`(?m)^[0-9a-f]{64}$`).MatchString(out) {
		t.Error("secret --help printed a secret")
	}
	if out, _, _ := run("settings", "get", "--help"); strings.Contains(out, "=") {
		t.Errorf("settings get --help printed settings: %q", out)
	}
}

// TestHelpBeforeDatabase: with an unreachable database, `migrate --help` and `accounts --help`
// still answer with their usage (they never connect).
func TestHelpBeforeDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	t.Setenv("PORTICO_SECRET_KEY", strings.Repeat("ab", 32))
	for _, args := range [][]string{{"migrate", "--help"}, {"accounts", "--help"}, {"accounts", "invite", "--help"}, {"settings", "get", "-h"}} {
		var out, errb bytes.Buffer
		err := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: portico") {
			t.Errorf("%v: err %v, out %q", args, err, out.String())
		}
	}
}

// TestImportRefusesUnknownPriority: import checks priorities as it checks channels (bad rows
// reported, the rest imported), and its errors read "import tickets: …" once.
func TestImportRefusesUnknownPriority(t *testing.T) {
	pool := storetest.NewDB(t)
	url := pool.Config().ConnString()
	f := filepath.Join(t.TempDir(), "p.csv")
	os.WriteFile(f, []byte("subject,body,priority\nfine,ok,High\nweird,no,super-urgent\nnone,ok,\n"), 0o600)
	out, errOut, err := runCLI(t, url, "", "import", "tickets", "--file", f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "imported: 2") || !strings.Contains(out, "bad: 1") || !strings.Contains(errOut, `priority "super-urgent" is not one of low, medium, high, urgent`) {
		t.Fatalf("out %q err %q", out, errOut)
	}
	var n int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM tickets WHERE priority NOT IN ('', 'low', 'medium', 'high', 'urgent')`).Scan(&n)
	if n != 0 {
		t.Errorf("%d tickets with an unknown priority stored", n)
	}
	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, nil, 0o600)
	_, _, err = runCLI(t, url, "", "import", "tickets", "--file", empty)
	if err == nil || strings.Count(err.Error(), "import") != 1 || !strings.HasPrefix(err.Error(), "import tickets: ") {
		t.Errorf("empty file error %q, want one 'import tickets: ' prefix", err)
	}
}

// TestJustfileDocsAreOneLine: `just --list` shows only the comment line right above a recipe,
// so a recipe's doc comment is one line (else the list shows its last line, cut mid-sentence);
// `run` carries [no-exit-message], so Ctrl-C ends it without "recipe terminated by signal".
func TestJustfileDocsAreOneLine(t *testing.T) {
	b, err := os.ReadFile("../Justfile")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	recipe := regexp.MustCompile(`^([a-z][a-z0-9-]*)(\s[^:=]*)?:([^=]|$)`)
	for i, l := range lines {
		m := recipe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		j := i - 1
		for j >= 0 && strings.HasPrefix(lines[j], "[") { // attributes
			j--
		}
		if j < 0 || !strings.HasPrefix(lines[j], "# ") {
			t.Errorf("recipe %s has no doc comment", m[1])
			continue
		}
		if j > 0 && strings.HasPrefix(lines[j-1], "#") {
			t.Errorf("recipe %s: its doc comment spans several lines; `just --list` shows only %q", m[1], lines[j])
		}
		if m[1] == "run" && !strings.Contains(strings.Join(lines[j:i], "\n"), "[no-exit-message]") {
			t.Error("recipe run lacks [no-exit-message]")
		}
	}
}
