// Package mail sends Portico's outbound mail: a Sender over SMTP
// (github.com/wneessen/go-mail), a development Sender that writes each mail to the log, and a
// Renderer that turns partials/email templates into multipart text + HTML messages in the
// recipient's language. Mails are sent by the job queue (package jobs), never in a request.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one rendered mail.
type Message struct {
	// To is the recipient's address, ToName the display name ("" = none).
	To, ToName string
	Subject    string
	// Text and HTML are the two alternatives of the multipart/alternative body.
	Text, HTML string
	// From and FromName replace the configured sender ("" = PORTICO_MAIL_FROM): an inbox's
	// address for replies on email tickets.
	From, FromName string
	// ReplyTo is the address replies go to ("" = none): the signed, ticket-bound reply address.
	ReplyTo string
	// MessageID is the Message-ID without angle brackets ("" = a fresh one); InReplyTo and
	// References thread the mail into the customer's conversation (RFC 5322 §3.6.4).
	MessageID, InReplyTo string
	References           []string
	// AutoSubmitted is the RFC 3834 Auto-Submitted value ("" = none): "auto-generated" for
	// notifications, "auto-replied" for automatic answers to a mail.
	AutoSubmitted string
}

// Sender delivers a message. A returned error means "not delivered, try again later".
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrNotConfigured is returned by the production Sender when PORTICO_SMTP_URL is unset: the
// mail stays in the queue and is retried, never logged (its links are secrets).
var ErrNotConfigured = errors.New("mail: PORTICO_SMTP_URL is not set")

// New returns the Sender for the configuration: SMTP when smtpURL is set; else the log Sender
// in development and a Sender that always fails (so mail waits in the queue) in production.
func New(smtpURL, from string, production bool, log *slog.Logger) (Sender, error) {
	if smtpURL != "" {
		return NewSMTP(smtpURL, from)
	}
	if production {
		return failSender{}, nil
	}
	return &LogSender{Log: log, From: from}, nil
}

type failSender struct{}

func (failSender) Send(context.Context, Message) error { return ErrNotConfigured }

// LogSender writes each mail, with its links, to the log (development without SMTP).
type LogSender struct {
	Log  *slog.Logger
	From string
}

// Send logs m at info level.
func (l *LogSender) Send(_ context.Context, m Message) error {
	l.Log.Info("mail (development: not sent, PORTICO_SMTP_URL is unset)", "from", l.From, "to", m.To,
		"subject", m.Subject, "text", m.Text)
	return nil
}

// SMTP sends over SMTP. smtp://[user:pass@]host[:port] (default port 587) uses STARTTLS when
// the server offers it; ?starttls=require insists on it, ?starttls=none never uses it; smtps://
// (default port 465) is implicit TLS.
type SMTP struct {
	from string
	opts []gomail.Option
	host string
}

// NewSMTP parses rawURL (see SMTP) and returns a Sender. Errors: a malformed URL.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("mail: bad PORTICO_SMTP_URL")
	}
	s := &SMTP{from: from, host: u.Hostname()}
	port := 587
	switch u.Scheme {
	case "smtps":
		port = 465
		s.opts = append(s.opts, gomail.WithSSL())
	case "smtp":
		policy := gomail.TLSOpportunistic
		switch u.Query().Get("starttls") {
		case "require":
			policy = gomail.TLSMandatory
		case "none":
			policy = gomail.NoTLS
		}
		s.opts = append(s.opts, gomail.WithTLSPolicy(policy))
	default:
		return nil, fmt.Errorf("mail: PORTICO_SMTP_URL scheme must be smtp or smtps, got %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("mail: bad port in PORTICO_SMTP_URL")
		}
	}
	s.opts = append(s.opts, gomail.WithPort(port), gomail.WithTimeout(30*time.Second))
	if u.User != nil {
		pw, _ := u.User.Password()
		s.opts = append(s.opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	return s, nil
}

// Send delivers m as multipart/alternative (text first, then HTML).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if m.From != "" {
		if err := msg.FromFormat(m.FromName, m.From); err != nil {
			return fmt.Errorf("mail: from: %w", err)
		}
	} else if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return fmt.Errorf("mail: reply-to: %w", err)
		}
	}
	to := m.To
	if m.ToName != "" {
		if err := msg.AddToFormat(m.ToName, m.To); err != nil {
			return fmt.Errorf("mail: to: %w", err)
		}
	} else if err := msg.To(to); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	if m.InReplyTo != "" {
		msg.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, "<"+m.InReplyTo+">")
	}
	if len(m.References) > 0 {
		msg.SetGenHeaderPreformatted(gomail.HeaderReferences, "<"+strings.Join(m.References, "> <")+">")
	}
	if m.AutoSubmitted != "" {
		msg.SetGenHeader(gomail.Header("Auto-Submitted"), m.AutoSubmitted)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	return nil
}
