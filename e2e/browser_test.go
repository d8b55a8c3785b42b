// Package e2e drives the real Portico server with a real Chromium (chromedp): a person clicks,
// types and waits for the swap, and the tests assert what that person sees.
//
// The browser is Debian's Chromium (`apt-get install -y chromium`, see scripts/browser.sh). The
// tests skip when it is missing on a developer machine and fail when it is missing under CI.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"portico/config"
	"portico/server"
	"portico/sql/store/storetest"
)

const (
	// testTimeout bounds one whole test: the browser dies with it.
	testTimeout = 55 * time.Second
	// stepTimeout bounds one step (a navigation, a click, a wait for a swap).
	stepTimeout = 10 * time.Second
)

// extraTickets is how many more tickets Alice gets beyond the standard set, so that her
// organization view has a second page (page size 25).
const extraTickets = 30

// portal is a real Portico server listening on a random local port, over a fresh database and
// a private Redis key prefix, seeded with the standard fixtures.
type portal struct {
	*server.Server
	URL string
	Std storetest.Standard
	// Extra are the subjects of Alice's extra tickets, newest activity first.
	Extra []string
}

// startPortal builds the server as the binary does (server.New) and serves it until the test ends.
// opts adjust the server's options (e.g. SSOInsecureURLs for in-process identity providers).
func startPortal(t *testing.T, opts ...func(*server.Options)) *portal {
	t.Helper()
	pool := storetest.NewDB(t)

	opt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (start it with `just services`)", storetest.RedisURL(), err)
	}
	prefix := "portico-e2e:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	blobs := "file://" + t.TempDir() + "?no_tmp_dir=1"
	cfg, err := config.LoadFrom(func(k string) string {
		switch k {
		case "PORTICO_BLOB_URL":
			return blobs
		case "PORTICO_SECRET_KEY":
			return strings.Repeat("ab", 32)
		case "PORTICO_LOG_LEVEL":
			return "error"
		case "PORTICO_BASE_URL":
			return base
		case "PORTICO_ADDR":
			return ln.Addr().String()
		}
		return ""
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	so := server.Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond}
	for _, o := range opts {
		o(&so)
	}
	s, err := server.New(context.Background(), cfg, so)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	p := &portal{Server: s, URL: base}

	p.Std = storetest.MustStandard(t, pool)
	old := time.Now().Add(-100 * time.Hour) // older than every standard ticket
	for i := 1; i <= extraTickets; i++ {
		subject := fmt.Sprintf("Extra ticket %02d", i)
		storetest.MustTicket(t, pool, storetest.TicketSpec{Subject: subject, Body: fmt.Sprintf("Filler number %02d.", i),
			RequesterID: p.Std.Alice, CompanyID: p.Std.Acme, Activity: old.Add(-time.Duration(i) * time.Hour)})
		p.Extra = append(p.Extra, subject)
	}
	if err := s.Store.SettingSet(context.Background(), "ticket_permissions", "company"); err != nil {
		t.Fatal(err)
	}

	served := make(chan error, 1)
	go func() { served <- s.App.Listener(ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shut down the server: %v", err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("server: %v", err)
		}
	})

	// The listener accepts at once; make sure the app answers before a browser arrives.
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("server on %s: %v", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("server on %s: /healthz answered %d", base, resp.StatusCode)
	}
	return p
}

// chromiumPath finds Chromium. Without it the test skips on a developer machine and fails in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium is not installed (Debian: apt-get install -y chromium; `just test` runs scripts/browser.sh); skipping the browser tests")
	}
	t.Fatalf("chromium is required for the browser tests under CI (scripts/browser.sh installs it): %v", err)
	return ""
}

// browser is one headless Chromium tab on the portal.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab; lives until the test ends or testTimeout passes
	base string

	mu      sync.Mutex
	console []string // console errors and uncaught exceptions seen by the page
}

type browserOptions struct {
	// noJavaScript disables script execution in the tab before the first navigation.
	noJavaScript bool
}

// newBrowser starts a fresh Chromium (own profile directory) with one tab. When the test fails,
// a full-page screenshot is saved and its path logged before the browser closes.
func newBrowser(t *testing.T, base string, o browserOptions) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	profile := t.TempDir()

	root, cancelRoot := context.WithTimeout(context.Background(), testTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, base: base}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot("failure")
		}
		b.mu.Lock()
		for _, m := range b.console {
			t.Logf("browser console: %s", m)
		}
		b.mu.Unlock()
		cancelTab()
		cancelAlloc()
		cancelRoot()
	})

	// Start the browser and open the tab under the test's deadline (never a step's: the first
	// Run binds the browser's life to its context).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", execPath, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.IsException() || m.Type == chromedp.ConsoleError) && !expectedConsole(m) {
				b.mu.Lock()
				b.console = append(b.console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	if o.noJavaScript {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
	}
	return b
}

// expectedConsole reports console errors that are part of the design: a refused form answers 422
// or 400 (which Chromium logs as a failed resource). A missing favicon is not one of them.
func expectedConsole(m chromedp.ConsoleMessage) bool {
	return strings.Contains(m.Text, "status of 422") || strings.Contains(m.Text, "status of 400")
}

// screenshot saves a full-page PNG outside the test's temp dir (which is removed when the test
// ends) and logs its path.
func (b *browser) screenshot(label string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot (%s) failed: %v", label, err)
		return ""
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())
	f, err := os.CreateTemp("", "portico-e2e-"+name+"-"+label+"-*.png")
	if err != nil {
		b.t.Logf("screenshot (%s): %v", label, err)
		return ""
	}
	defer f.Close()
	if _, err := f.Write(buf); err != nil {
		b.t.Logf("screenshot (%s): %v", label, err)
		return ""
	}
	path, _ := filepath.Abs(f.Name())
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		b.t.Logf("screenshot of %s saved to %s", loc, path)
	} else {
		b.t.Logf("screenshot saved to %s", path)
	}
	return path
}

// fail stops the test with what the person was doing; the cleanup takes the screenshot.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	b.t.Fatalf("%s: %v", what, err)
}

// do runs steps that return nothing, under one step timeout.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// run runs one action that returns a value, under one step timeout.
func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// navigate loads path (relative to the portal) and waits for the load event.
func (b *browser) navigate(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// follow runs steps that start a full page load (a click on a link or a plain form), waits for
// the page to load and returns the HTTP status of the final document.
func (b *browser) follow(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.fail(what, err)
	}
	if resp == nil {
		b.fail(what, errors.New("no document response"))
	}
	return resp.Status
}

// location returns the tab's URL relative to the portal ("/tickets?view=mine").
func (b *browser) location() string {
	b.t.Helper()
	loc := run(b, "read the location", chromedp.Location())
	return strings.TrimPrefix(loc, b.base)
}

// htmxIdle is true when no htmx request, swap or settle is in flight. htmx attaches its handlers
// to swapped-in content only when it settles (it then removes the htmx-added class), so a click
// before that would reach the browser's default action instead of htmx.
const htmxIdle = `!document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")`

// waitUntil polls the JavaScript function fn (called with args) in the page until it returns a
// truthy value and htmx is idle, or fails after stepTimeout. It needs JavaScript and does not
// survive a full page load; wait for an element of the new page for those.
func (b *browser) waitUntil(what, fn string, args ...any) {
	b.t.Helper()
	fn = "(...args) => (" + fn + ")(...args) && " + htmxIdle
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	opts := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)}
	if len(args) > 0 {
		opts = append(opts, chromedp.WithPollingArgs(args...))
	}
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[chromedp.Void](fn, opts...)); err != nil {
		if ctx.Err() == nil && !errors.Is(err, chromedp.ErrPollingTimeout) {
			// The poll runs in the page; it ends when a full page load replaces the page.
			err = fmt.Errorf("%w (did a full page load replace the page? now on %s)", err, b.location())
		}
		b.fail("wait until "+what, err)
	}
}

// waitHTMX waits until the page has loaded and htmx has processed it, so that a click is
// handled by htmx and not by the browser.
func (b *browser) waitHTMX() {
	b.t.Helper()
	b.waitUntil("htmx is ready", `() => document.readyState === "complete" && typeof window.htmx === "object"`)
}

// visible waits until sel is visible.
func (b *browser) visible(sel string) {
	b.t.Helper()
	b.do("wait for "+sel+" to be visible", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text returns the trimmed text content of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s := run(b, "read the text of "+sel, chromedp.TextContent(chromedp.CSS(sel)))
	return strings.Join(strings.Fields(s), " ")
}

// present reports whether an element matches sel now (no waiting).
func (b *browser) present(sel string) bool {
	b.t.Helper()
	ids := run(b, "look for "+sel, chromedp.QueryNodeIDs(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	return len(ids) > 0
}

// rowSubjects returns the subjects listed in #tickets-table, in order.
func (b *browser) rowSubjects() []string {
	b.t.Helper()
	html := run(b, "read the ticket table", chromedp.OuterHTML(chromedp.CSS("#tickets-table")))
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		b.t.Fatalf("parse the ticket table: %v", err)
	}
	var out []string
	doc.Find("tbody tr td:first-child a").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
