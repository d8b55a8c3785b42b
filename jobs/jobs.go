// Package jobs runs Portico's background work on a PostgreSQL-backed queue
// (github.com/riverqueue/river with the pgx v5 driver): jobs are inserted in the transaction of
// the change that causes them (store.EnqueueMail), so none is lost when an instance dies, and
// any instance may work them: outbound mail, inbound mail, webhooks (webhooks.go), contact
// exports and the hourly purges.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"portico/mail"
	"portico/mail/inbound"
	"portico/metrics"
	"portico/sql/store"
)

// Config is what the queue needs.
type Config struct {
	Pool  *pgxpool.Pool
	Store *store.Store
	// Settings returns the current portal settings (portal name, branding).
	Settings func(context.Context) (store.Settings, error)
	Sender   mail.Sender
	Renderer *mail.Renderer
	// Translate returns the translation function for a language ("" = the default).
	Translate func(lang string) func(id string, args ...any) string
	// BaseURL is the configured public URL links start with (never the request's Host).
	BaseURL string
	// RetryBase scales the backoff: attempt n waits RetryBase × n⁴, at most 6 h.
	RetryBase time.Duration
	// PollInterval is how often idle workers look for jobs besides notifications (0 = 1 s).
	PollInterval time.Duration
	Log          *slog.Logger
	// Inbound processes stored inbound mail (nil = inbound mail jobs wait, e.g. in a tool).
	Inbound *inbound.Processor
	// Tokens signs reply addresses of threaded replies on email tickets.
	Tokens *inbound.Tokens
	// RatingLinks signs the closing mail's satisfaction links (nil = the mail carries none).
	RatingLinks *store.RatingLinks
	// WebhookPayload builds the body of an event's webhook messages (handlers.WebhookPayload:
	// the API's representations); nil = events wait.
	WebhookPayload func(context.Context, store.WebhookEvent) ([]byte, error)
	// WebhookSealer opens the webhooks' signing secrets (nil = deliveries wait).
	WebhookSealer store.SecretSealer
}

// Queue is the job client: it works jobs once started.
type Queue struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
}

// New builds the queue (not started). Errors: a bad River configuration.
func New(cfg Config) (*Queue, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &MailWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &purgeWorker{store: cfg.Store}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &InboundWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &ReplyMailWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &WebhookEventWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &WebhookDeliveryWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &ExportWorker{cfg: cfg}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &purgeExportsWorker{store: cfg.Store}); err != nil {
		return nil, err
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}, store.WebhookQueue: {MaxWorkers: 8}},
		Workers:           workers,
		RetryPolicy:       &backoff{base: cfg.RetryBase},
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(cfg.PollInterval, 100*time.Millisecond),
		Logger:            cfg.Log.With("component", "jobs"),
		JobTimeout:        2 * time.Minute,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return PurgeTokens{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return PurgeExports{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{client: client, log: cfg.Log}, nil
}

// Start begins working jobs until Stop. ctx bounds only the start.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(context.WithoutCancel(ctx)) }

// Stop stops fetching jobs and lets the ones in progress finish until ctx ends; jobs still
// running then have their contexts cancelled (River's StopAndCancel) and get up to
// StopCancelWait more to return: River records each as failed and retries it later on any
// instance, so a stopping instance never holds jobs hostage. It returns ctx's error when jobs
// had to be cancelled.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopCancelWait)
	defer cancel()
	if cerr := q.client.StopAndCancel(hard); cerr != nil {
		return cerr
	}
	return err
}

// StopCancelWait bounds the wait for cancelled jobs to return in Stop.
const StopCancelWait = 5 * time.Second

// backoff is the retry policy: base × n⁴ after the n-th failure, capped at 6 h.
type backoff struct{ base time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	n := float64(len(job.Errors) + 1)
	d := time.Duration(math.Min(float64(b.base)*math.Pow(n, 4), float64(6*time.Hour)))
	return time.Now().Add(d)
}

// MailWorker sends one MailJob: it mints the link's token (so no plain token is ever stored),
// renders the mail in the recipient's language and sends it. A failed send returns the error
// and River retries with backoff; the last failure is logged as an error.
type MailWorker struct {
	river.WorkerDefaults[store.MailJob]
	cfg Config
}

// mailStem returns the stem of a template's catalogue keys: "password_changed" →
// "MailPasswordChanged" (keys MailPasswordChangedSubject, …Body, …Action, …After). Any area may
// add a mail by adding a template name and its keys; none is listed here.
func mailStem(template string) (string, bool) {
	if template == "" {
		return "", false
	}
	var b strings.Builder
	b.WriteString("Mail")
	for _, part := range strings.Split(template, "_") {
		if part == "" {
			return "", false
		}
		for i, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return "", false
			}
			if i == 0 {
				r -= 'a' - 'A'
				if part[0] >= '0' && part[0] <= '9' {
					r = rune(part[0])
				}
			}
			b.WriteRune(r)
		}
	}
	return b.String(), true
}

// Work sends the mail of job.
func (w *MailWorker) Work(ctx context.Context, job *river.Job[store.MailJob]) error {
	a := job.Args
	stem, ok := mailStem(a.Template)
	if !ok {
		return river.JobCancel(fmt.Errorf("unknown mail template %q", a.Template))
	}
	if (a.Template == store.MailReset || a.Template == store.MailMagic) && a.TokenID == 0 {
		// A reset or sign-in-link request: the account is looked up here, not in the request,
		// so the request takes the same time for every address (no account enumeration).
		var ok bool
		var err error
		if a, ok, err = w.cfg.Store.AccountTokenForRequest(ctx, a); err != nil {
			return err
		} else if !ok {
			return nil // no active account: nothing to send, and nobody was told either way
		}
		// A retry repeats this: the earlier attempt's link is voided and a new one made.
	}
	st, err := w.cfg.Settings(ctx)
	if err != nil {
		return err
	}
	T := w.cfg.Translate(a.Lang)
	portal := st.PageTitle
	if portal == "" {
		portal = T("CustomerPortal")
	}
	base := strings.TrimRight(w.cfg.BaseURL, "/")
	v := mail.View{Lang: a.Lang, Portal: portal, Color: st.BrandColor,
		Subject:  T(stem+"Subject", "Portal", portal, "Ticket", a.Ticket, "By", a.By),
		Greeting: T("MailGreeting", "Name", a.Name),
		Footer:   T("MailFooter", "Portal", portal, "URL", base)}
	if v.Lang == "" {
		v.Lang = "en"
	}
	v.Paragraphs = []string{T(stem+"Body", "Portal", portal, "Ticket", a.Ticket, "By", a.By)}
	v.Quote = mail.QuoteParagraphs(a.Quote)
	if a.TokenID != 0 {
		tok, err := w.cfg.Store.AccountTokenMint(ctx, a.TokenID)
		if errors.Is(err, store.ErrNotFound) {
			w.cfg.Log.Info("mail not sent: its link expired or was used before sending", "job_id", job.ID, "template", a.Template)
			return nil
		}
		if err != nil {
			return err
		}
		v.Action, v.Link = T(stem+"Action"), base+a.Path+"?token="+tok
	} else if a.Path != "" {
		v.Action, v.Link = T(stem+"Action"), base+a.Path
	}
	if a.Template == store.MailAlreadyRegistered {
		v.Action, v.Link = T(stem+"Action"), base+"/login"
		v.After = append(v.After, T("MailAlreadyRegisteredReset", "URL", base+"/password/forgot"))
	}
	if a.Rating != nil && w.cfg.RatingLinks != nil {
		// Satisfaction (issue 16.4): each link opens a page whose form records the vote; the
		// link itself records nothing, so a mail scanner that follows it changes nothing.
		q := st.CSATQuestion(v.Lang)
		if q == "" {
			q = T("CSATQuestion")
		}
		v.Paragraphs = append(v.Paragraphs, q)
		rate := base + "/rate/" + w.cfg.RatingLinks.Token(*a.Rating) + "?score="
		v.Choices = []mail.Choice{{Label: T("CSATGood"), Link: rate + store.ScoreGood}, {Label: T("CSATBad"), Link: rate + store.ScoreBad}}
	}
	if after := T(stem+"After", "Portal", portal, "Ticket", a.Ticket); after != stem+"After" {
		v.After = append(v.After, after) // optional
	}
	var guestLink int64
	if a.Guest != nil && st.GuestLinksEnabled {
		// Guest links (issue 16.3): minted now, so the validity starts when the mail leaves and
		// no token ever sits in the queue; the recipient must still see the ticket.
		tok, l, err := w.cfg.Store.GuestLinkMint(ctx, *a.Guest, st.GuestLinkTTL())
		switch {
		case err == nil:
			guestLink = l.ID
			v.Action, v.Link = T("MailGuestAction"), base+"/guest?token="+tok
			v.After = append(v.After, T("MailGuestAfter", "Until", l.ExpiresAt.UTC().Format(time.DateOnly), "URL", base+"/login"))
		case errors.Is(err, store.ErrNotFound): // no access any more, or links just turned off
		default:
			return err
		}
	}
	// discardGuest forgets a minted link whose token reached nobody.
	discardGuest := func() {
		if guestLink != 0 {
			if err := w.cfg.Store.GuestLinkDiscard(context.WithoutCancel(ctx), guestLink); err != nil {
				w.cfg.Log.Warn("guest link not discarded", "job_id", job.ID, "err", err)
			}
		}
	}
	msg, err := w.cfg.Renderer.Render(a.To, a.Name, v)
	if err != nil {
		discardGuest()
		return river.JobCancel(err)
	}
	msg.AutoSubmitted = "auto-generated" // RFC 3834: a notification, not a person's mail
	if err := w.cfg.Sender.Send(ctx, msg); err != nil {
		lvl := slog.LevelWarn
		if job.Attempt >= job.MaxAttempts {
			lvl = slog.LevelError // given up: an operator must look
		}
		w.cfg.Log.Log(ctx, lvl, "mail send failed", "job_id", job.ID, "template", a.Template,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
		metrics.Mail(false)
		discardGuest()
		return err
	}
	metrics.Mail(true)
	w.cfg.Log.Info("mail sent", "job_id", job.ID, "template", a.Template, "attempt", job.Attempt)
	return nil
}

// PurgeTokens is the hourly job that deletes old one-time link tokens, API idempotency keys
// and webhook delivery attempts older than store.WebhookLogDays.
type PurgeTokens struct{}

// Kind is River's job kind.
func (PurgeTokens) Kind() string { return "portico_purge_tokens" }

type purgeWorker struct {
	river.WorkerDefaults[PurgeTokens]
	store *store.Store
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeTokens]) error {
	if _, err := w.store.AccountTokensPurge(ctx); err != nil {
		return err
	}
	if _, err := w.store.GuestLinksPurge(ctx); err != nil { // guest links dead for 30 days
		return err
	}
	if _, err := w.store.APIIdempotencyPurge(ctx); err != nil { // API idempotency keys older than 24 hours
		return err
	}
	_, err := w.store.WebhookDeliveriesPurge(ctx)
	return err
}

// ExportWorker builds one export of a contact's data (store.ExportJob, GDPR art. 15 and 20)
// into a zip in the blob store; the account page follows its progress. A failure is retried
// (store.ExportMaxAttempts in all); the last one marks the export failed.
type ExportWorker struct {
	river.WorkerDefaults[store.ExportJob]
	cfg Config
}

// Timeout lets a large export run longer than a mail (River's default job timeout).
func (w *ExportWorker) Timeout(*river.Job[store.ExportJob]) time.Duration { return 30 * time.Minute }

// Work builds the export of job.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[store.ExportJob]) error {
	err := w.cfg.Store.ContactExportBuild(ctx, job.Args.ExportID, job.Attempt >= job.MaxAttempts)
	if err != nil {
		w.cfg.Log.Warn("contact export failed", "export_id", job.Args.ExportID, "attempt", job.Attempt, "err", err)
		return err
	}
	w.cfg.Log.Info("contact export ready", "export_id", job.Args.ExportID)
	return nil
}

// PurgeExports is the hourly job that deletes contact exports whose download time is over
// (store.ExportLifetime), their zips included.
type PurgeExports struct{}

// Kind is River's job kind.
func (PurgeExports) Kind() string { return "portico_purge_exports" }

type purgeExportsWorker struct {
	river.WorkerDefaults[PurgeExports]
	store *store.Store
}

func (w *purgeExportsWorker) Work(ctx context.Context, _ *river.Job[PurgeExports]) error {
	_, err := w.store.ContactExportsPurge(ctx)
	return err
}
