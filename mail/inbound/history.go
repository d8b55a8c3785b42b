package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-maildir"
	"github.com/emersion/go-mbox"
	"github.com/schollz/progressbar/v3"

	"portico/sql/store"
	"portico/sql/store/seed"
)

// ImportJobDelay is how long the processing job of an imported mail waits. The importer
// processes its mails itself, in date order, right after storing them; the job only finishes
// the mails of an import that died and was not run again.
const ImportJobDelay = 24 * time.Hour

// Importer loads a shared mailbox's past conversations (an mbox file or a Maildir) into
// tickets through the same path as live mail: each message is stored raw first
// (store.InboundStore, source "import", deduplicated by Message-ID, else by the hash of its
// bytes), then processed by the Processor with the same parsing and threading rules, as
// history (store.InboundDelivery.Historic: the Date header is the message time, nothing is
// mailed, nothing reopens). Mails the inbox itself sent (From is its address) become staff
// messages. Running an import again adds nothing; it finishes what a killed run left.
type Importer struct {
	Store     *store.Store
	Processor *Processor
	// InboxID and Address are the inbox the mailbox belongs to and its email address.
	InboxID int64
	Address string
	// MaxBytes bounds one message (0 = 25 MiB); a larger one is reported and skipped.
	MaxBytes int64
	// Progress, when non-nil, receives progress bars (storing, then processing).
	Progress io.Writer
	// Report, when non-nil, is called for each message that did not become a message on a
	// ticket, with its 1-based number in the mailbox, where it is (mbox: "offset N"; Maildir:
	// "cur/FILE") and why, in English.
	Report func(n int, where, msg string)
}

// ImportSummary counts what an import did.
type ImportSummary struct {
	// Messages is the number of messages read from the mailbox.
	Messages int
	// Imported messages are now on a ticket; NewTickets of them opened one.
	Imported, NewTickets int
	// Duplicates were imported or received before (nothing added).
	Duplicates int
	// Held wait for an agent (unknown sender, sender mismatch, no customer); Ignored are
	// automatic mails and bounces that belong to no ticket.
	Held, Ignored int
	// Bad messages could not be read or stored (too large, no From, broken header).
	Bad int
}

func (s ImportSummary) String() string {
	return fmt.Sprintf("messages: %d, imported: %d (new tickets: %d), already present: %d, held: %d, ignored: %d, bad: %d",
		s.Messages, s.Imported, s.NewTickets, s.Duplicates, s.Held, s.Ignored, s.Bad)
}

// historyItem is one stored message waiting for processing.
type historyItem struct {
	n         int
	where     string
	id        int64
	date      time.Time
	messageID string
	refs      []string
	state     int // 0 waiting, 1 being processed (a reference cycle), 2 done
}

type historyRun struct {
	im    *Importer
	sum   ImportSummary
	items []*historyItem
}

// Mbox imports every message of an mbox file (read with github.com/emersion/go-mbox: "From "
// separator lines, ">From " quoting undone). size is the file's size for the progress bar (0 =
// unknown). Errors: a file that is not an mbox at all, database or blob-store failures (run it
// again: nothing is imported twice); a bad message is reported and skipped.
func (im *Importer) Mbox(ctx context.Context, r io.Reader, size int64) (ImportSummary, error) {
	run := &historyRun{im: im}
	var bar *progressbar.ProgressBar
	if im.Progress != nil {
		bar = seed.NewProgressBar(im.Progress, size, "storing", true)
		pr := progressbar.NewReader(r, bar)
		r = &pr
	}
	off := &separatorOffsets{r: r, lineStart: true}
	mr := mbox.NewReader(off)
	for n := 1; ; n++ {
		msg, err := mr.NextMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return run.sum, fmt.Errorf("message %d: %w", n, err)
		}
		where := "offset ?"
		if n <= len(off.offsets) {
			where = fmt.Sprintf("offset %d", off.offsets[n-1])
		}
		if err := run.add(ctx, n, where, msg); err != nil {
			return run.sum, err
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return run.process(ctx)
}

// Maildir imports every message of the Maildir dir: cur/ through github.com/emersion/go-maildir
// and new/ read in place (the mailbox is not changed), in file-name order. Errors: dir is not a
// Maildir, database or blob-store failures; a bad message is reported and skipped.
func (im *Importer) Maildir(ctx context.Context, dir string) (ImportSummary, error) {
	run := &historyRun{im: im}
	md := maildir.Dir(dir)
	keys, err := md.Keys()
	if err != nil && len(keys) == 0 {
		return run.sum, fmt.Errorf("maildir %s: %w", dir, err)
	}
	type file struct{ rel, path string }
	var files []file
	for _, k := range keys {
		p, err := md.Filename(k)
		if err != nil {
			return run.sum, fmt.Errorf("maildir %s: %w", dir, err)
		}
		files = append(files, file{filepath.Join("cur", filepath.Base(p)), p})
	}
	news, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return run.sum, fmt.Errorf("maildir %s: %w", dir, err)
	}
	for _, e := range news {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files = append(files, file{filepath.Join("new", e.Name()), filepath.Join(dir, "new", e.Name())})
	}
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i].rel) < filepath.Base(files[j].rel) })
	var bar *progressbar.ProgressBar
	if im.Progress != nil {
		bar = seed.NewProgressBar(im.Progress, int64(len(files)), "storing", false)
	}
	for i, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			run.bad(i+1, f.rel, err.Error())
			continue
		}
		err = run.add(ctx, i+1, f.rel, fh)
		fh.Close()
		if err != nil {
			return run.sum, err
		}
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	return run.process(ctx)
}

func (r *historyRun) report(n int, where, msg string) {
	if r.im.Report != nil {
		r.im.Report(n, where, msg)
	}
}

func (r *historyRun) bad(n int, where, msg string) {
	r.sum.Bad++
	r.report(n, where, msg)
}

// add stores message n (raw bytes from rd) and queues it for processing. A returned error
// stops the import (storage is failing); a message that cannot be stored for its own sake is
// reported.
func (r *historyRun) add(ctx context.Context, n int, where string, rd io.Reader) error {
	r.sum.Messages++
	acc := &Acceptor{Store: r.im.Store, MaxBytes: r.im.MaxBytes}
	raw, err := acc.ReadLimited(rd)
	if errors.Is(err, ErrTooLarge) {
		r.bad(n, where, fmt.Sprintf("larger than %d bytes", acc.maxBytes()))
		return nil
	}
	if err != nil {
		r.bad(n, where, "cannot be read: "+err.Error())
		return nil
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		r.bad(n, where, "empty message")
		return nil
	}
	it := &historyItem{n: n, where: where}
	in := store.InboundNew{Source: store.SourceImport, InboxID: r.im.InboxID, Recipient: r.im.Address, Raw: raw, JobDelay: ImportJobDelay}
	if h, err := Parse(headerOnly(raw), Limits{MaxParts: 1}); err == nil && h != nil {
		in.MessageID, in.Sender, in.Subject = h.MessageID, h.From.Addr, h.Subject
		it.date, it.messageID = h.Date, h.MessageID
		it.refs = append(append(it.refs, h.InReplyTo...), h.References...)
	} else {
		in.MessageID = peekMessageID(raw)
	}
	m, dup, err := r.im.Store.InboundStore(ctx, in)
	if err != nil {
		return fmt.Errorf("message %d (%s): %w", n, where, err)
	}
	it.id = m.ID
	if dup && m.Status != store.InboundReceived {
		switch m.Status {
		case store.InboundHeld, store.InboundFailed:
			r.outcome(it, m.Status, m.Reason, m.Detail, true)
		default:
			r.sum.Duplicates++
		}
		return nil
	}
	r.items = append(r.items, it)
	return nil
}

// process processes the stored messages in date order (file order for equal or missing
// dates); a message another refers to is processed first, so a reply whose clock ran early
// still finds its thread.
func (r *historyRun) process(ctx context.Context) (ImportSummary, error) {
	sort.SliceStable(r.items, func(i, j int) bool {
		a, b := r.items[i].date, r.items[j].date
		if a.IsZero() || b.IsZero() {
			return !a.IsZero() && b.IsZero()
		}
		return a.Before(b)
	})
	byID := map[string]*historyItem{}
	for _, it := range r.items {
		if it.messageID != "" {
			if _, ok := byID[it.messageID]; !ok {
				byID[it.messageID] = it
			}
		}
	}
	var bar *progressbar.ProgressBar
	if r.im.Progress != nil && len(r.items) > 0 {
		bar = seed.NewProgressBar(r.im.Progress, int64(len(r.items)), "processing", false)
	}
	var visit func(*historyItem) error
	visit = func(it *historyItem) error {
		if it.state != 0 {
			return nil
		}
		it.state = 1
		for _, ref := range it.refs {
			if dep := byID[ref]; dep != nil && dep != it {
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		res, err := r.im.Processor.Process(ctx, it.id)
		if err != nil {
			return fmt.Errorf("message %d (%s): %w", it.n, it.where, err)
		}
		it.state = 2
		detail := ""
		if res.Status == store.InboundFailed {
			if m, err := r.im.Store.InboundGet(ctx, it.id); err == nil {
				detail = m.Detail
			}
		}
		r.outcome(it, res.Status, res.Reason, detail, false)
		if res.NewTicket {
			r.sum.NewTickets++
		}
		if bar != nil {
			_ = bar.Add(1)
		}
		return nil
	}
	for _, it := range r.items {
		if err := visit(it); err != nil {
			return r.sum, err
		}
	}
	return r.sum, nil
}

// outcome counts (and reports) where message it went.
func (r *historyRun) outcome(it *historyItem, status, reason, detail string, earlier bool) {
	why := reasonText[reason]
	if why == "" {
		why = reason
	}
	if detail != "" {
		why = detail
	}
	if earlier {
		why += " (as in an earlier import)"
	}
	switch status {
	case store.InboundProcessed:
		r.sum.Imported++
	case store.InboundHeld:
		r.sum.Held++
		r.report(it.n, it.where, "held for an agent: "+why)
	case store.InboundFailed:
		r.bad(it.n, it.where, why)
	case store.InboundIgnored:
		if reason == store.ReasonAlreadyPresent {
			r.sum.Duplicates++
			return
		}
		r.sum.Ignored++
		r.report(it.n, it.where, "ignored: "+why)
	default: // received (processing failed) or discarded
		r.bad(it.n, it.where, status+" "+why)
	}
}

// reasonText says a reason code in the operator's words (the CLI speaks English).
var reasonText = map[string]string{
	store.ReasonSenderMismatch: "the sender may not see the ticket its reply address names",
	store.ReasonUnknownSender:  "the sender is not a contact and the inbox creates no contacts",
	store.ReasonRateLimited:    "too many mails from this sender",
	store.ReasonAutoReply:      "an automatic reply that belongs to no ticket",
	store.ReasonBounce:         "a delivery-status report (bounce)",
	store.ReasonNoInbox:        "sent to no inbox's address",
	store.ReasonNoCustomer:     "sent by the inbox to no customer, and part of no ticket",
	store.ReasonAlreadyPresent: "already a message on a ticket",
	"no_from":                  "no From address",
}

// separatorOffsets passes an mbox through and records the byte offset of every line that
// starts with "From " (each is where go-mbox starts a message), so that errors can name the
// offset of their message.
type separatorOffsets struct {
	r         io.Reader
	pos       int64
	lineStart bool
	match     int   // bytes of "From " matched at the current line's start (-1: no match)
	start     int64 // offset of the current line
	offsets   []int64
}

func (s *separatorOffsets) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for _, b := range p[:n] {
		if s.lineStart {
			s.start, s.match, s.lineStart = s.pos, 0, false
		}
		if s.match >= 0 {
			if b == "From "[s.match] {
				s.match++
				if s.match == len("From ") {
					s.offsets = append(s.offsets, s.start)
					s.match = -1
				}
			} else {
				s.match = -1
			}
		}
		if b == '\n' {
			s.lineStart = true
		}
		s.pos++
	}
	return n, err
}
