package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/riverqueue/river"

	"portico/mail"
	"portico/sql/store"
)

// InboundWorker processes one stored inbound mail (store.InboundJob) with inbound.Processor:
// parse, thread, and add it to its ticket. A temporary failure is retried with backoff; the
// mail stays "received" (and listed to agents) if every attempt fails.
type InboundWorker struct {
	river.WorkerDefaults[store.InboundJob]
	cfg Config
}

// Work processes the mail of job.
func (w *InboundWorker) Work(ctx context.Context, job *river.Job[store.InboundJob]) error {
	if w.cfg.Inbound == nil {
		return errors.New("inbound mail processing is not configured on this instance")
	}
	_, err := w.cfg.Inbound.Process(ctx, job.Args.ID)
	if err != nil {
		lvl := slog.LevelWarn
		if job.Attempt >= job.MaxAttempts {
			lvl = slog.LevelError
			_ = w.cfg.Store.InboundFinish(context.WithoutCancel(ctx), job.Args.ID, store.InboundFailed, "processing", err.Error(), 0)
		}
		w.cfg.Log.Log(ctx, lvl, "inbound mail processing failed", "inbound_id", job.Args.ID, "attempt", job.Attempt, "err", err)
	}
	return err
}

// ReplyMailWorker sends an agent's reply on an email ticket as a threaded mail
// (store.ReplyMailJob): From the inbox, Reply-To the signed reply address, the stored
// Message-ID, In-Reply-To/References to the conversation's earlier mails, and the ticket's link.
type ReplyMailWorker struct {
	river.WorkerDefaults[store.ReplyMailJob]
	cfg Config
}

// Work sends the reply of job.
func (w *ReplyMailWorker) Work(ctx context.Context, job *river.Job[store.ReplyMailJob]) error {
	r, err := w.cfg.Store.ReplyMailGet(ctx, job.Args.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		w.cfg.Log.Info("reply mail not sent: the message is gone or no longer an email reply", "message_id", job.Args.MessageID)
		return nil
	}
	if err != nil {
		return err
	}
	st, err := w.cfg.Settings(ctx)
	if err != nil {
		return err
	}
	T := w.cfg.Translate(r.Lang)
	portal := st.PageTitle
	if portal == "" {
		portal = T("CustomerPortal")
	}
	base := strings.TrimRight(w.cfg.BaseURL, "/")
	link := base + "/tickets/" + strconv.FormatInt(r.TicketID, 10)
	subject := r.Subject
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	lang := r.Lang
	if lang == "" {
		lang = "en"
	}
	v := mail.View{Lang: lang, Portal: portal, Color: st.BrandColor, Subject: subject,
		Paragraphs: strings.Split(strings.ReplaceAll(r.Body, "\r\n", "\n"), "\n\n"),
		Action:     T("MailReplyAction"), Link: link,
		After:  []string{T("MailReplyAfter")},
		Footer: T("MailFooter", "Portal", portal, "URL", base)}
	msg, err := w.cfg.Renderer.Render(r.To, r.ToName, v)
	if err != nil {
		return river.JobCancel(err)
	}
	msg.From, msg.FromName = r.From, r.FromName
	if w.cfg.Tokens != nil {
		msg.ReplyTo = w.cfg.Tokens.ReplyAddress(r.From, r.TicketID)
	}
	msg.MessageID, msg.InReplyTo, msg.References = r.MessageID, r.InReplyTo, r.References
	if err := w.cfg.Sender.Send(ctx, msg); err != nil {
		w.cfg.Log.Warn("reply mail send failed", "message_id", job.Args.MessageID, "attempt", job.Attempt, "err", err)
		return fmt.Errorf("reply mail: %w", err)
	}
	w.cfg.Log.Info("reply mail sent", "message_id", job.Args.MessageID, "ticket_id", r.TicketID)
	return nil
}
