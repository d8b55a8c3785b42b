package server

import (
	"context"
	"fmt"
	"time"

	"portico/auth"
	"portico/auth/providers"
	"portico/handlers"
	"portico/jobs"
	"portico/mail"
	"portico/mail/inbound"
	"portico/partials"
	"portico/sql/store"
)

// MailSealerInfo is the HKDF info of the key that seals inboxes' IMAP passwords.
const MailSealerInfo = "portico inbox mail secrets v1"

// wireAccounts builds what issue 3 adds (mail sender and renderer, the job queue, the rate
// limiter) and, in production, stores "portal off" at the first start of a new install.
func (s *Server) wireAccounts(ctx context.Context, cat *handlers.Catalogue, prefix string, opt Options) error {
	cfg := s.Config
	sender, err := mail.New(cfg.SMTPURL, cfg.MailFrom, cfg.Production(), s.Log)
	if err != nil {
		return err
	}
	renderer, err := mail.NewRenderer(partials.FS)
	if err != nil {
		return fmt.Errorf("mail templates: %w", err)
	}
	// The email channel (issue 13): reply tokens and the inbound processor.
	if s.MailTokens, err = inbound.NewTokens(cfg.SecretKey); err != nil {
		return err
	}
	if s.mailSealer, err = providers.NewSealerFor(cfg.SecretKey, MailSealerInfo); err != nil {
		return err
	}
	s.Handlers.MailSealer = s.mailSealer
	proc := &inbound.Processor{Store: s.Store, Tokens: s.MailTokens, Settings: s.Settings.Get, Log: s.Log.With("component", "mail-in")}
	ratingLinks, err := store.NewRatingLinks(cfg.SecretKey)
	if err != nil {
		return err
	}
	s.Handlers.RatingLinks = ratingLinks
	// Webhooks (issue 17.3): signing secrets sealed under their own HKDF key.
	if s.Handlers.WebhookSealer, err = providers.NewSealerFor(cfg.SecretKey, store.WebhookSealerInfo); err != nil {
		return err
	}
	s.Jobs, err = jobs.New(jobs.Config{Pool: s.Pool, Store: s.Store, Settings: s.Settings.Get, Sender: sender, Renderer: renderer, RatingLinks: ratingLinks,
		Translate: func(lang string) func(string, ...any) string { return cat.Match(lang).T },
		BaseURL:   cfg.BaseURL, RetryBase: cfg.MailRetryBase, PollInterval: opt.JobPollInterval, Log: s.Log,
		Inbound: proc, Tokens: s.MailTokens, WebhookPayload: s.Handlers.WebhookPayload, WebhookSealer: s.Handlers.WebhookSealer})
	if err != nil {
		return err
	}
	s.Handlers.Limiter = auth.NewLimiter(s.Redis, prefix)
	s.Handlers.Limits = auth.DefaultLimits()
	// Staff TOTP (issue 4 ★): pending state in Redis, secrets sealed under their own HKDF key.
	s.Handlers.TOTP = auth.NewSecondFactor(s.Redis, prefix)
	if s.Handlers.TOTPSealer, err = providers.NewSealerFor(cfg.SecretKey, providers.TOTPSealerInfo); err != nil {
		return err
	}
	if cfg.Production() {
		stored, err := s.Store.PortalSwitchFirstStart(ctx)
		if err != nil {
			return err
		}
		if stored {
			s.Log.Warn("new install: the customer portal is off until an admin switches it on (setting portal_enabled)")
		}
	}
	return nil
}

// StartJobs starts this instance's job workers (mail). Run calls it; tests that need mail call
// it themselves. Calling it twice is a no-op.
func (s *Server) StartJobs(ctx context.Context) error {
	if s.jobsStarted || s.Jobs == nil {
		return nil
	}
	if err := s.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	s.jobsStarted = true
	return nil
}

// StopJobs lets the running jobs finish (up to timeout) and stops the workers.
func (s *Server) StopJobs(timeout time.Duration) {
	if !s.jobsStarted {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.Jobs.Stop(ctx)
	s.jobsStarted = false
}
