package server

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	"github.com/emersion/go-smtp"

	"portico/mail/inbound"
)

// StartMail starts receiving inbound mail on this instance (issue 13): the LMTP/SMTP listener
// on PORTICO_MAIL_LISTEN when set, and the IMAP fetchers of the inboxes that have one (each
// mailbox fetched by one instance at a time, see inbound.Fetchers). Errors: the listen
// address cannot be bound.
func (s *Server) StartMail(ctx context.Context) error {
	acc := &inbound.Acceptor{Store: s.Store, MaxBytes: s.Config.MailMaxBytes}
	if s.Config.MailListen != "" {
		lmtp, addr, err := inbound.ListenURL(s.Config.MailListen)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		if err := s.ServeMail(ln, lmtp); err != nil {
			return err
		}
	}
	if s.fetchers == nil {
		s.fetchers = &inbound.Fetchers{Store: s.Store, Acceptor: acc, Redis: s.Redis, Prefix: s.redisPrefix,
			Sealer: s.mailSealer, Poll: s.Config.IMAPPoll, Log: s.Log.With("component", "imap")}
		s.fetchers.Start(context.WithoutCancel(ctx))
	}
	return nil
}

// ServeMail serves the LMTP (lmtp) or SMTP receiver on ln until StopMail; tests pass a
// listener on port 0.
func (s *Server) ServeMail(ln net.Listener, lmtp bool) error {
	domain := "localhost"
	if u, err := url.Parse(s.Config.BaseURL); err == nil && u.Hostname() != "" {
		domain = u.Hostname()
	}
	r := &inbound.Receiver{Acceptor: &inbound.Acceptor{Store: s.Store, MaxBytes: s.Config.MailMaxBytes}, Log: s.Log.With("component", "mail-in")}
	srv := r.Server(lmtp, domain)
	s.mailServers = append(s.mailServers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.Log.Error("mail receiver stopped", "err", err)
		}
	}()
	s.Log.Info("receiving mail", "addr", ln.Addr().String(), "lmtp", lmtp)
	return nil
}

// StopMail stops the receivers and fetchers (a mail being stored finishes first, up to timeout).
func (s *Server) StopMail(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, srv := range s.mailServers {
		_ = srv.Shutdown(ctx)
	}
	s.mailServers = nil
	if s.fetchers != nil {
		s.fetchers.Stop()
		s.fetchers = nil
	}
}
