package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"portico/sql/store"
)

// Refusals of Accept, so that each way in answers its client properly (SMTP code, exit status).
var (
	// ErrUnknownRecipient: the address belongs to no inbox (SMTP 550 5.1.1).
	ErrUnknownRecipient = errors.New("inbound mail: no inbox has this address")
	// ErrTooLarge: the mail is over the size limit (SMTP 552 5.3.4).
	ErrTooLarge = errors.New("inbound mail: the mail is larger than allowed")
)

// Acceptor stores inbound mail for processing: the one entry every way in uses (LMTP/SMTP
// receiver, IMAP fetcher, `portico mail-in`, the mbox import).
type Acceptor struct {
	Store *store.Store
	// MaxBytes bounds one raw mail (0 = 25 MiB).
	MaxBytes int64
}

func (a *Acceptor) maxBytes() int64 {
	if a.MaxBytes <= 0 {
		return 25 << 20
	}
	return a.MaxBytes
}

// ReadLimited reads a whole mail from r, at most the limit. Errors: ErrTooLarge, read errors.
func (a *Acceptor) ReadLimited(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, a.maxBytes()+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > a.maxBytes() {
		return nil, ErrTooLarge
	}
	return raw, nil
}

// Inbox returns the inbox id of a recipient address (plus-address detail ignored). Errors:
// ErrUnknownRecipient, database errors.
func (a *Acceptor) Inbox(ctx context.Context, rcpt string) (int64, error) {
	e, err := a.Store.InboxEmailByAddress(ctx, BaseAddress(rcpt))
	if errors.Is(err, store.ErrNotFound) {
		return 0, ErrUnknownRecipient
	}
	if err != nil {
		return 0, err
	}
	return e.InboxID, nil
}

// Accept stores raw (see store.InboundStore) as received from source for recipient rcpt
// ("" = find the inbox from the mail's headers when processing; inboxID 0 likewise). It returns
// the stored row and whether it was a duplicate. Errors: ErrTooLarge, storage errors (the
// caller answers "try again later").
func (a *Acceptor) Accept(ctx context.Context, source, rcpt string, inboxID int64, raw []byte) (store.InboundMail, bool, error) {
	if int64(len(raw)) > a.maxBytes() {
		return store.InboundMail{}, false, ErrTooLarge
	}
	h := PeekHeader(raw)
	return a.Store.InboundStore(ctx, store.InboundNew{Source: source, InboxID: inboxID, Recipient: rcpt,
		MessageID: h.MessageID, Sender: h.Sender, Subject: h.Subject, Raw: raw})
}

// Receiver is the LMTP/SMTP server an MTA (Postfix, Exim) delivers to: it accepts only the
// inboxes' addresses (550 5.1.1 for others), refuses mail over the size limit (552), stores
// each mail with Acceptor before answering 250, and answers 451 when storing fails, so the MTA
// keeps the mail and retries.
type Receiver struct {
	Acceptor *Acceptor
	Log      *slog.Logger
	// Timeout bounds the storing of one mail (0 = 30 s).
	Timeout time.Duration
}

// Server returns a go-smtp server for r: LMTP (RFC 2033) when lmtp, else SMTP. The caller sets
// Addr and serves it (ListenAndServe or Serve).
func (r *Receiver) Server(lmtp bool, domain string) *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, lmtp: lmtp}, nil
	}))
	s.LMTP = lmtp
	s.Domain = domain
	s.MaxMessageBytes = r.Acceptor.maxBytes()
	s.MaxRecipients = 50
	s.ReadTimeout = 2 * time.Minute
	s.WriteTimeout = time.Minute
	return s
}

type session struct {
	r     *Receiver
	lmtp  bool
	rcpts []string
	inbox []int64
}

func (s *session) Reset()        { s.rcpts, s.inbox = nil, nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) ctx() (context.Context, context.CancelFunc) {
	d := s.r.Timeout
	if d <= 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(context.Background(), d)
}

var (
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	errTempFail  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, please try again later"}
	errTooLarge  = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
)

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := s.ctx()
	defer cancel()
	id, err := s.r.Acceptor.Inbox(ctx, to)
	if errors.Is(err, ErrUnknownRecipient) {
		return errNoMailbox
	}
	if err != nil {
		s.r.Log.Warn("mail receiver: recipient check failed", "err", err)
		return errTempFail
	}
	s.rcpts, s.inbox = append(s.rcpts, to), append(s.inbox, id)
	return nil
}

func (s *session) store(r io.Reader) error {
	raw, err := s.r.Acceptor.ReadLimited(r)
	if errors.Is(err, ErrTooLarge) || errors.Is(err, smtp.ErrDataTooLarge) {
		return errTooLarge
	}
	if err != nil {
		return err
	}
	if len(s.rcpts) == 0 {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	source := "smtp"
	if s.lmtp {
		source = "lmtp"
	}
	m, dup, err := s.r.Acceptor.Accept(ctx, source, s.rcpts[0], s.inbox[0], raw)
	if err != nil {
		s.r.Log.Warn("mail receiver: storing failed", "err", err)
		return errTempFail
	}
	s.r.Log.Info("mail received", "inbound_id", m.ID, "duplicate", dup, "bytes", len(raw), "source", source)
	return nil
}

func (s *session) Data(r io.Reader) error { return s.store(r) }

// LMTPData stores the mail once and reports the same status for every recipient.
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := s.store(r)
	for _, rc := range s.rcpts {
		status.SetStatus(rc, err)
	}
	return nil
}

// ListenURL splits PORTICO_MAIL_LISTEN ("lmtp://host:port" or "smtp://host:port") into the
// protocol and the address.
func ListenURL(v string) (lmtp bool, addr string, err error) {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || (scheme != "lmtp" && scheme != "smtp") {
		return false, "", fmt.Errorf("mail listen address %q: want lmtp://host:port or smtp://host:port", v)
	}
	return scheme == "lmtp", rest, nil
}
