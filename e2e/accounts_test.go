package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portico/jobs"
	"portico/mail"
	"portico/partials"
)

// mailbox is a mail.Sender that hands every rendered mail to the test.
type mailbox chan mail.Message

func (m mailbox) Send(_ context.Context, msg mail.Message) error {
	m <- msg
	return nil
}

// startMailbox replaces the portal's job queue by one whose mails land in the returned channel
// (the real worker: token minting, rendering, retries) and starts it.
func startMailbox(t *testing.T, p *portal) mailbox {
	t.Helper()
	box := make(mailbox, 10)
	r, err := mail.NewRenderer(partials.FS)
	if err != nil {
		t.Fatal(err)
	}
	cat := p.Handlers.Catalogue
	q, err := jobs.New(jobs.Config{Pool: p.Pool, Store: p.Store, Settings: p.Settings.Get, Sender: box, Renderer: r,
		Translate: func(lang string) func(string, ...any) string { return cat.Match(lang).T },
		BaseURL:   p.URL, RetryBase: 20 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.Jobs = q
	if err := p.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.StopJobs(5 * time.Second) })
	return box
}

// linkTo returns the local request URI of the first link to path in the mail's text part.
func linkTo(t *testing.T, m mail.Message, path string) string {
	t.Helper()
	found := regexp.MustCompile(`https?://\S+` + regexp.QuoteMeta(path) + `\S*`).FindString(m.Text)
	u, err := url.Parse(found)
	if found == "" || err != nil {
		t.Fatalf("mail %q has no link to %s:\n%s", m.Subject, path, m.Text)
	}
	return u.RequestURI()
}

func TestSelfRegistrationToTicketList(t *testing.T) {
	p := startPortal(t)
	box := startMailbox(t, p)
	b := newBrowser(t, p.URL, browserOptions{})

	b.navigate("/login")
	if st := b.follow("click Register here", chromedp.Click(chromedp.CSS("#register-here"))); st != http.StatusOK {
		t.Fatalf("register page: %d", st)
	}
	b.visible("#register-form")
	b.do("fill in the registration form",
		chromedp.SendKeys(chromedp.CSS("#name"), "Rita Register"),
		chromedp.SendKeys(chromedp.CSS("#email"), "rita@register.test"),
		chromedp.SendKeys(chromedp.CSS("#password"), "password"),
	)
	// A common password is refused beside the field; what was typed stays.
	if st := b.follow("register with a common password", chromedp.Click(chromedp.CSS("#register-submit"))); st != http.StatusUnprocessableEntity {
		t.Fatalf("common password: %d", st)
	}
	b.visible("#password-error")
	if v := run(b, "read the name", chromedp.Value(chromedp.CSS("#name"))); v != "Rita Register" {
		t.Fatalf("name not kept: %q", v)
	}
	b.do("choose a better password", chromedp.SendKeys(chromedp.CSS("#password"), "tulip anchor meteor"))
	if st := b.follow("register", chromedp.Click(chromedp.CSS("#register-submit"))); st != http.StatusOK {
		t.Fatalf("register: %d", st)
	}
	if h := b.text("h1"); !strings.Contains(h, "Check your email") {
		t.Fatalf("after registering: %q", h)
	}

	var m mail.Message
	select {
	case m = <-box:
	case <-time.After(stepTimeout):
		t.Fatal("no confirmation mail")
	}
	if m.To != "rita@register.test" {
		t.Fatalf("mail to %q", m.To)
	}
	b.navigate(linkTo(t, m, "/register/confirm"))
	b.visible("#confirm-submit")
	if st := b.follow("confirm the address", chromedp.Click(chromedp.CSS("#confirm-submit"))); st != http.StatusOK {
		t.Fatalf("confirm: %d", st)
	}
	b.visible("#tickets-table")
	if loc := b.location(); loc != "/tickets" {
		t.Fatalf("after confirming: %q, want /tickets", loc)
	}
	if who := b.text("#account-link"); who != "Rita Register" {
		t.Fatalf("signed in as %q", who)
	}
}
