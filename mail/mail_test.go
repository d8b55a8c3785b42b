package mail

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/emersion/go-smtp"
)

type capture struct{ got chan string }

type capSession struct{ c *capture }

func (s capSession) Reset()                                    {}
func (s capSession) Logout() error                             { return nil }
func (s capSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s capSession) Rcpt(string, *smtp.RcptOptions) error      { return nil }
func (s capSession) Data(r io.Reader) error                    { b, _ := io.ReadAll(r); s.c.got <- string(b); return nil }
func (c *capture) NewSession(*smtp.Conn) (smtp.Session, error) { return capSession{c}, nil }

func TestSMTPSendsMultipartAlternative(t *testing.T) {
	c := &capture{got: make(chan string, 1)}
	srv := smtp.NewServer(c)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	s, err := NewSMTP("smtp://"+ln.Addr().String()+"?starttls=none", "Portal <portal@example.test>")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), Message{To: "anna@example.test", ToName: "Anna", Subject: "Hallo wereld", Text: "text part", HTML: "<p>html part</p>"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case raw := <-c.got:
		for _, want := range []string{"multipart/alternative", "text/plain", "text/html", "text part", "html part", "Hallo wereld"} {
			if !strings.Contains(raw, want) {
				t.Errorf("mail lacks %q:\n%s", want, raw)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no mail")
	}
}

func TestSMTPDownIsAnError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s, _ := NewSMTP("smtp://"+addr, "p@example.test")
	if err := s.Send(context.Background(), Message{To: "a@example.test", Subject: "x", Text: "x", HTML: "x"}); err == nil {
		t.Fatal("send to a closed port succeeded")
	}
}

func TestNewPicksSender(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if s, _ := New("", "p@x.test", false, log); s == nil {
		t.Fatal("no dev sender")
	} else if _, ok := s.(*LogSender); !ok {
		t.Errorf("development without SMTP: %T, want *LogSender", s)
	}
	s, _ := New("", "p@x.test", true, log)
	if err := s.Send(context.Background(), Message{}); err != ErrNotConfigured {
		t.Errorf("production without SMTP: %v, want ErrNotConfigured (mail waits in the queue)", err)
	}
	for _, bad := range []string{"http://x", "smtp://", "smtp://h:port"} {
		if _, err := NewSMTP(bad, "p@x.test"); err == nil {
			t.Errorf("NewSMTP(%q) accepted", bad)
		}
	}
}

func TestRendererEscapesAndKeepsLink(t *testing.T) {
	fsys := fstest.MapFS{
		"email/message.html": {Data: []byte(`<p>{{.Greeting}}</p><a href="{{.Link}}">{{.Action}}</a>`)},
		"email/message.txt":  {Data: []byte("{{.Greeting}}\n{{.Link}}")},
	}
	r, err := NewRenderer(fsys)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render("a@x.test", "A", View{Greeting: "Hi <b>", Link: "https://p.test/x?token=abc", Action: "Go", Subject: "S"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, "Hi &lt;b&gt;") || !strings.Contains(m.HTML, `href="https://p.test/x?token=abc"`) {
		t.Errorf("html: %s", m.HTML)
	}
	if !strings.Contains(m.Text, "Hi <b>\nhttps://p.test/x?token=abc") {
		t.Errorf("text: %q", m.Text)
	}
}
