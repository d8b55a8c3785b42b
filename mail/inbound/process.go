package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"portico/sql/store"
)

// Processor turns one stored inbound mail into its outcome: a message on a ticket, a bounce
// counted on a contact, or a mail held or failed with its reason. It is what the
// "portico_inbound_mail" job runs; running it twice for one mail changes nothing the second
// time.
type Processor struct {
	Store  *store.Store
	Tokens *Tokens
	// Settings returns the current portal settings (attachment limits, reopen rule).
	Settings func(context.Context) (store.Settings, error)
	Limits   Limits
	Log      *slog.Logger
}

// Process handles inbound mail id. A returned error is temporary (database, blob store): the
// job is retried. A mail that cannot be read is recorded as failed with its reason, not retried.
func (p *Processor) Process(ctx context.Context, id int64) (store.InboundResult, error) {
	m, err := p.Store.InboundGet(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.InboundResult{}, nil
		}
		return store.InboundResult{}, err
	}
	if m.Status != store.InboundReceived {
		return store.InboundResult{Status: m.Status, Reason: m.Reason, TicketID: m.TicketID}, nil
	}
	raw, err := p.Store.InboundRaw(ctx, m)
	if err != nil {
		return store.InboundResult{}, err
	}
	parsed, err := Parse(raw, p.Limits)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return store.InboundResult{Status: store.InboundFailed, Reason: pe.Code},
				p.Store.InboundFinish(ctx, id, store.InboundFailed, pe.Code, pe.Detail, 0)
		}
		return store.InboundResult{}, err
	}
	if b := parsed.Bounce; b != nil {
		detail := strings.TrimSpace(b.Status + " " + b.Diagnostic)
		return store.InboundResult{Status: store.InboundIgnored, Reason: store.ReasonBounce},
			p.Store.InboundBounce(ctx, id, b.Recipients, b.Hard, detail)
	}
	rcpts := append([]string{m.Recipient}, parsed.Recipients...)
	d := store.InboundDelivery{ID: id, InboxID: m.InboxID, FromAddr: parsed.From.Addr, FromName: parsed.From.Name,
		MessageID: parsed.MessageID, Subject: parsed.Subject, HTML: parsed.HTML, Auto: parsed.Auto != "", Cc: parsed.Cc}
	if m.Source == store.SourceImport {
		if err := p.historic(ctx, &d, parsed); err != nil {
			return store.InboundResult{}, err
		}
	}
	for _, r := range rcpts {
		if d.Outgoing {
			break // the inbox's own mail: its recipients are customers, not inboxes or tokens
		}
		if r == "" {
			continue
		}
		if t, res := p.Tokens.Check(r); res == TokenValid && d.TokenTicketID == 0 {
			d.TokenTicketID = t
		}
		if d.InboxID == 0 {
			if e, err := p.Store.InboxEmailByAddress(ctx, r); err == nil {
				d.InboxID = e.InboxID
			} else if !errors.Is(err, store.ErrNotFound) {
				return store.InboundResult{}, err
			}
		}
	}
	refs := slices.Clone(parsed.InReplyTo)
	for i := len(parsed.References) - 1; i >= 0; i-- {
		refs = append(refs, parsed.References[i])
	}
	d.References = refs
	d.Body = Trim(parsed.Text)
	var notes []string
	if len(parsed.Files) > 0 {
		st, err := p.Settings(ctx)
		if err != nil {
			return store.InboundResult{}, err
		}
		batch, err := p.Store.NewUploadBatch(store.LimitsFrom(st))
		if err != nil {
			return store.InboundResult{}, err
		}
		defer batch.Discard(ctx)
		for _, f := range parsed.Files {
			if err := batch.UploadBytes(ctx, f.Name, f.Data); err != nil {
				var ve *store.ValidationError
				if errors.As(err, &ve) {
					notes = append(notes, fmt.Sprintf("attachment %q refused: %s", f.Name, ve.Fields["files"]))
					continue
				}
				return store.InboundResult{}, err
			}
		}
		d.Files = batch
	}
	res, err := p.Store.InboundDeliver(ctx, d)
	if err != nil {
		return res, err
	}
	if len(notes) > 0 || len(parsed.Problems) > 0 {
		p.Log.Info("inbound mail processed with notes", "inbound_id", id, "notes", strings.Join(append(notes, parsed.Problems...), "; "))
	}
	p.Log.Info("inbound mail", "inbound_id", id, "status", res.Status, "reason", res.Reason, "ticket_id", res.TicketID, "new_ticket", res.NewTicket)
	return res, nil
}

// historic sets what a mail of the history import carries besides the live rules: its Date as
// the message time (a date in the future counts as now), and whether the inbox itself sent it
// (From is the inbox's address): then the first To/Cc recipient that is not an inbox address is
// the customer.
func (p *Processor) historic(ctx context.Context, d *store.InboundDelivery, parsed *Mail) error {
	d.Historic = true
	if !parsed.Date.IsZero() && parsed.Date.Before(time.Now().Add(time.Minute)) {
		d.Date = parsed.Date
	}
	if d.InboxID == 0 {
		return nil
	}
	e, err := p.Store.InboxEmailGet(ctx, d.InboxID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(BaseAddress(parsed.From.Addr), e.Address) {
		return nil
	}
	d.Outgoing = true
	for _, r := range parsed.Recipients {
		if strings.EqualFold(BaseAddress(r), e.Address) {
			continue
		}
		if _, err := p.Store.InboxEmailByAddress(ctx, r); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d.CustomerAddr = r
		break
	}
	return nil
}

// HeaderInfo is what a receiver reads from a raw mail's header before storing it.
type HeaderInfo struct{ MessageID, Sender, Subject string }

// PeekHeader reads the Message-ID, From address and Subject of raw without parsing the body
// (for InboundStore's dedup key and the agents' list). A header it cannot read gives empty
// fields: the mail is still stored and the processor records why it failed.
func PeekHeader(raw []byte) HeaderInfo {
	m, err := Parse(headerOnly(raw), Limits{MaxParts: 1})
	if err != nil || m == nil {
		return HeaderInfo{MessageID: peekMessageID(raw)}
	}
	return HeaderInfo{MessageID: m.MessageID, Sender: m.From.Addr, Subject: m.Subject}
}

func headerOnly(raw []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := strings.Index(string(raw[:min(len(raw), 1<<20)]), sep); i >= 0 {
			return raw[:i+len(sep)]
		}
	}
	return raw[:min(len(raw), 256<<10)]
}

func peekMessageID(raw []byte) string {
	h := string(headerOnly(raw))
	for _, l := range strings.Split(h, "\n") {
		if len(l) > 11 && strings.EqualFold(l[:11], "message-id:") {
			return strings.Trim(strings.TrimSpace(l[11:]), "<>")
		}
	}
	return ""
}
