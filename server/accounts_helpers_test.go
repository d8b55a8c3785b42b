package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"portico/auth"
	"portico/config"
	"portico/sql/store/storetest"
)

// sentMail is one message received by the test SMTP server, its parts decoded.
type sentMail struct {
	From, To      string
	Subject       string
	Text, HTML    string
	ContentType   string
	rawAlternates int
}

// link returns the first link in the text part whose path is path, as a local request URI.
func (m sentMail) link(t *testing.T, path string) string {
	t.Helper()
	re := regexp.MustCompile(`https?://[^\s"<>]+` + regexp.QuoteMeta(path) + `[^\s"<>]*`)
	found := re.FindString(m.Text)
	if found == "" {
		t.Fatalf("mail %q has no link to %s:\n%s", m.Subject, path, m.Text)
	}
	u, err := url.Parse(found)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) in the test process.
type smtpServer struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *smtp.Server
	ch   chan sentMail
}

type smtpSession struct {
	s        *smtpServer
	from, to string
}

func (ss *smtpSession) Reset()        {}
func (ss *smtpSession) Logout() error { return nil }
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = to
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		ss.s.t.Errorf("unparsable mail: %v\n%s", err, raw)
		return err
	}
	m.From, m.To = ss.from, ss.to
	ss.s.ch <- m
	return nil
}

func parseMail(raw []byte) (sentMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return sentMail{}, err
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	out := sentMail{Subject: subj, ContentType: msg.Header.Get("Content-Type")}
	mt, params, err := mime.ParseMediaType(out.ContentType)
	if err != nil {
		return out, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		out.Text = string(b)
		return out, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, err
		}
		b, _ := io.ReadAll(p)
		out.rawAlternates++
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	return out, nil
}

// startSMTP listens on a free local port and serves until the test ends.
func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, ch: make(chan sentMail, 50)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *smtpServer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the server (the port refuses connections until restart).
func (s *smtpServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// restart serves again on the same address.
func (s *smtpServer) restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("SMTP restart on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// next waits for the next mail to reach the server (deadline 15 s).
func (s *smtpServer) next() sentMail {
	s.t.Helper()
	select {
	case m := <-s.ch:
		return m
	case <-time.After(15 * time.Second):
		s.t.Fatal("no mail arrived within 15 s")
	}
	return sentMail{}
}

// none asserts that no mail arrives within d.
func (s *smtpServer) none(d time.Duration) {
	s.t.Helper()
	select {
	case m := <-s.ch:
		s.t.Fatalf("unexpected mail %q to %s", m.Subject, m.To)
	case <-time.After(d):
	}
}

// newMailServer is newTestServer with mail going to smtpAddr, short retry backoff and fast job
// polling, its job workers started.
func newMailServer(t *testing.T, smtpAddr string) *testServer {
	t.Helper()
	pool := storetest.NewDB(t)
	rdb := newRedis(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	cfg, err := config.LoadFrom(func(k string) string {
		switch k {
		case "PORTICO_SECRET_KEY":
			return strings.Repeat("ab", 32)
		case "PORTICO_LOG_LEVEL":
			return "error"
		case "PORTICO_SMTP_URL":
			return "smtp://" + smtpAddr + "?starttls=none"
		case "PORTICO_MAIL_FROM":
			return "Portico Test <portal@example.test>"
		case "PORTICO_MAIL_RETRY_BASE":
			return "20ms"
		case "PORTICO_BASE_URL":
			return "http://portal.example.test"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettingsTTL: time.Nanosecond, JobPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.StopJobs(5 * time.Second) })
	return &testServer{Server: s, t: t, prefix: prefix}
}

// shortLimits makes the brute-force limits small and quick for a test.
func shortLimits(ts *testServer, max int, window time.Duration) {
	ts.Handlers.Limits = auth.Limits{
		SigninAccount: auth.Limit{Name: "signin-acct", Max: max, Window: window},
		SigninIP:      auth.Limit{Name: "signin-ip", Max: 100 * max, Window: window},
		MailAccount:   auth.Limit{Name: "mail-acct", Max: max, Window: window},
		MailIP:        auth.Limit{Name: "mail-ip", Max: 100 * max, Window: window},
	}
}
