package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/sql/store"
)

// connectSupportForm builds a support form (subject, description, priority) on the default
// inbox and pipeline and connects it to the portal.
func connectSupportForm(t *testing.T, p *portal) {
	t.Helper()
	ctx := context.Background()
	var inbox, pipeline int64
	if err := p.Pool.QueryRow(ctx, `SELECT (SELECT id FROM inboxes WHERE is_default), (SELECT id FROM pipelines ORDER BY position, id LIMIT 1)`).Scan(&inbox, &pipeline); err != nil {
		t.Fatal(err)
	}
	id, err := p.Store.SupportFormCreate(ctx, 0, "Support", inbox, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Store.SupportFormFieldAdd(ctx, 0, id, store.FormField{Property: store.FormPriority}); err != nil {
		t.Fatal(err)
	}
	if err := p.Store.SettingSet(ctx, "support_form_id", strconv.FormatInt(id, 10)); err != nil {
		t.Fatal(err)
	}
}

// TestSupportFormJourney: a customer submits the support form with two attachments (the upload
// progress bar shows), lands on the new ticket, receives an agent's reply live, and closes it.
func TestSupportFormJourney(t *testing.T) {
	p := startPortal(t)
	connectSupportForm(t, p)
	ctx := context.Background()
	var agentID int64
	if err := p.Pool.QueryRow(ctx, `INSERT INTO staff_users (email, name, role) VALUES ('agent@portico.test', 'Agent Smith', 'agent') RETURNING id`).Scan(&agentID); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath, notesPath := filepath.Join(dir, "server.log"), filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(logPath, bytes.Repeat([]byte("2026-01-01 12:00:00 disk almost full on /var\n"), 40000), 0o600); err != nil { // ~1.8 MB
		t.Fatal(err)
	}
	if err := os.WriteFile(notesPath, []byte("Steps to reproduce:\n1. open the report\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/tickets")
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	if got := b.text("#new-ticket"); got != "Submit a support ticket" {
		t.Fatalf("ticket list button reads %q", got)
	}
	if st := b.follow("open the support form", chromedp.Click(chromedp.CSS("#new-ticket"))); st != http.StatusOK {
		t.Fatalf("support form answered %d", st)
	}
	b.visible("#support-form")
	b.waitHTMX()

	// Record when the upload progress bar becomes visible; sessionStorage outlives the
	// navigation to the new ticket.
	b.do("watch the progress bar", chromedp.Evaluate[chromedp.Void](`(() => {
		const bar = document.querySelector("#support-form progress.upload-progress");
		new MutationObserver(() => { if (!bar.hidden) sessionStorage.setItem("progress-seen", String(bar.value)); })
			.observe(bar, {attributes: true});
	})()`))
	b.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS("#form-subject"), "Disk full on the report server"),
		chromedp.SendKeys(chromedp.CSS("#form-description"), "The nightly report fails since Tuesday."),
		chromedp.SetValue(chromedp.CSS("#form-priority"), "high"),
		chromedp.SetUploadFiles(chromedp.CSS("#form-files"), []string{logPath, notesPath}),
	)
	b.do("submit the form", chromedp.Click(chromedp.CSS("#form-submit")))

	// HX-Redirect: the browser lands on the new ticket.
	b.visible("#ticket-subject")
	if got := b.text("#ticket-subject"); got != "Disk full on the report server" {
		t.Fatalf("landed on ticket %q (%s)", got, b.location())
	}
	b.waitHTMX()
	if seen := run(b, "read the progress record", chromedp.Evaluate[string](`sessionStorage.getItem("progress-seen") || ""`)); seen == "" {
		t.Fatal("the upload progress bar was never shown")
	}
	names := run(b, "read the attachments", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#messages a[href^="/attachments/"]')].map(a => a.textContent.trim())`))
	if !strings.Contains(strings.Join(names, " "), "server.log") || !strings.Contains(strings.Join(names, " "), "notes.txt") {
		t.Fatalf("attachments shown: %q", names)
	}
	if !strings.Contains(b.text("#messages"), "The nightly report fails since Tuesday.") {
		t.Fatal("the description is not the first message")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(b.location(), "/tickets/"), 10, 64)
	if err != nil {
		t.Fatalf("location %q: %v", b.location(), err)
	}

	// An agent answers while the page is open: the reply appears without a reload.
	setMarker(b)
	if _, err := p.Store.InboxMessageCreate(ctx, agentID, id, "We cleared the disk; please try again.", false, nil); err != nil {
		t.Fatal(err)
	}
	p.Handlers.Live.Publish(ctx, id)
	b.waitUntil("the agent's reply appears", `(text) => document.querySelector("#messages").textContent.includes(text)`, "We cleared the disk")
	if !markerKept(b) {
		t.Fatal("the reply arrived by a full page load; want a live update")
	}

	// Close the ticket (confirm first).
	b.do("open the close dialog", chromedp.Click(chromedp.CSS("#close-ticket summary")))
	b.visible("#close-confirm")
	if st := b.follow("confirm closing", chromedp.Click(chromedp.CSS("#close-confirm"))); st != http.StatusOK {
		t.Fatalf("closing answered %d", st)
	}
	// The live update of the close may swap #ticket-status out of band while we read it: poll the
	// text in the page instead of holding on to one node.
	b.waitUntil("the status reads Closed", `(text) => (document.querySelector("#ticket-status")?.textContent || "").trim() === text`, "Closed")
}
