package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"portico/webhook"
)

// Inbound mail statuses (inbound_mails.status).
const (
	InboundReceived  = "received"  // stored, its job not done yet
	InboundProcessed = "processed" // a message on a ticket
	InboundHeld      = "held"      // waiting for an agent (reason says why)
	InboundFailed    = "failed"    // could not be read (reason says why)
	InboundIgnored   = "ignored"   // a bounce or an automatic mail that belongs to no ticket
	InboundDiscarded = "discarded" // an agent threw it away
)

// SourceImport is inbound_mails.source of the mails `portico import mail` loads: processed with
// the historic rules (see InboundDelivery.Historic).
const SourceImport = "import"

// Reasons a mail is held, failed or ignored (inbound_mails.reason; catalogue "MailReason…").
const (
	ReasonSenderMismatch = "sender_mismatch" // a valid reply token, but the sender may not see the ticket
	ReasonUnknownSender  = "unknown_sender"  // the inbox creates no contacts for unknown senders
	ReasonRateLimited    = "rate_limited"    // too many mails from one sender in a short time
	ReasonAutoReply      = "auto_reply"      // an automatic mail that belongs to no ticket
	ReasonBounce         = "bounce"          // a delivery-status report
	ReasonNoInbox        = "no_inbox"        // sent to no inbox's address
	ReasonUndeliverable  = "undeliverable"   // a contact's address bounced: reply not sent
	ReasonAlreadyPresent = "already_present" // an imported mail that is already a message (e.g. sent by Portico)
	ReasonNoCustomer     = "no_customer"     // an imported mail the inbox sent that names no customer and joins no ticket
)

// HardBounceLimit is how many hard bounces mark a contact's address undeliverable.
const HardBounceLimit = 3

// InboundRateLimit is how many mails one sender may send in InboundRateWindow before further
// mails are held (a runaway loop between two robots stops here).
const (
	InboundRateLimit  = 20
	InboundRateWindow = 10 * time.Minute
)

// InboundMail is one row of inbound_mails.
type InboundMail struct {
	ID                int64
	MessageID         string
	InboxID           int64
	Source, Recipient string
	Sender, Subject   string
	SizeBytes         int64
	SHA256, BlobKey   string
	Status, Reason    string
	Detail            string
	TicketID          int64
	ReceivedAt        time.Time
	ProcessedAt       *time.Time
}

// InboundNew is a raw mail to store, with what the receiver read from its header.
type InboundNew struct {
	// Source is lmtp, smtp, imap, stdin or import.
	Source string
	// InboxID is the inbox the mail was sent to (0 = decide from Recipient when processing).
	InboxID int64
	// Recipient is the envelope or header recipient that named the inbox.
	Recipient string
	// MessageID is the Message-ID header without angle brackets ("" = none: dedup by hash).
	MessageID, Sender, Subject string
	Raw                        []byte
	// JobDelay postpones the processing job (0 = at once). The history import processes its
	// mails itself, in date order; the delayed job only finishes a mail whose import died.
	JobDelay time.Duration
}

// InboundJob is the River job that processes one stored inbound mail (kind
// "portico_inbound_mail").
type InboundJob struct {
	ID int64 `json:"id"`
}

// Kind is River's job kind.
func (InboundJob) Kind() string { return "portico_inbound_mail" }

// InboundMaxAttempts is how often processing is tried before the mail is left as received
// (and listed as failed to agents).
const InboundMaxAttempts = 10

func enqueueInbound(ctx context.Context, tx pgx.Tx, id int64, delay time.Duration) error {
	c, err := inserter()
	if err != nil {
		return err
	}
	opts := &river.InsertOpts{MaxAttempts: InboundMaxAttempts}
	if delay > 0 {
		opts.ScheduledAt = time.Now().Add(delay)
	}
	_, err = c.InsertTx(ctx, tx, InboundJob{ID: id}, opts)
	return err
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// InboundStore stores a raw mail before anything else is done with it: the bytes go to the
// blob store, then one transaction inserts the inbound_mails row and its processing job. A mail
// already stored (same Message-ID, else same SHA-256 of the raw bytes) is not stored again:
// duplicate is true and the earlier row is returned. If the process dies after the blob write
// and before the commit, the sender (MTA, IMAP server) still holds the mail and retries; the
// orphaned blob is harmless. Errors: no blob store, a blob or database failure (the caller must
// then answer "try again later", never "accepted").
func (s *Store) InboundStore(ctx context.Context, in InboundNew) (InboundMail, bool, error) {
	sum := sha256.Sum256(in.Raw)
	hash := hex.EncodeToString(sum[:])
	key := "sha256:" + hash
	if id := strings.TrimSpace(in.MessageID); id != "" && len(id) < 900 {
		key = "mid:" + id
	}
	if m, err := s.inboundByKey(ctx, s.Pool, key); err == nil {
		return m, true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return m, false, err
	}
	if s.Blobs == nil {
		return InboundMail{}, false, errors.New("inbound mail: no blob store configured")
	}
	blobKey := "inbound/" + time.Now().UTC().Format("2006/01/02") + "/" + hash[:16] + "-" + randomKey()[:8] + ".eml"
	if err := s.Blobs.WriteAll(ctx, blobKey, in.Raw, &blob.WriterOptions{ContentType: "message/rfc822"}); err != nil {
		return InboundMail{}, false, fmt.Errorf("inbound mail: store raw: %w", err)
	}
	var m InboundMail
	dup := false
	var inbox *int64
	if in.InboxID != 0 {
		inbox = &in.InboxID
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO inbound_mails (dedup_key, message_id, inbox_id, source, recipient, sender, subject, size_bytes, sha256, blob_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`,
			key, clip(in.MessageID, 900), inbox, in.Source, clip(in.Recipient, 320), clip(in.Sender, 320), clip(in.Subject, 300),
			len(in.Raw), hash, blobKey).Scan(&m.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			dup = true
			return nil
		}
		if err != nil {
			return err
		}
		return enqueueInbound(ctx, tx, m.ID, in.JobDelay)
	})
	if err != nil || dup {
		_ = s.Blobs.Delete(context.WithoutCancel(ctx), blobKey)
	}
	if err != nil {
		return InboundMail{}, false, fmt.Errorf("inbound mail: %w", err)
	}
	if dup {
		m, err = s.inboundByKey(ctx, s.Pool, key)
		return m, true, err
	}
	m, err = s.InboundGet(ctx, m.ID)
	return m, false, err
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const inboundCols = `id, message_id, coalesce(inbox_id, 0), source, recipient, sender, subject, size_bytes, sha256, blob_key,
	status, reason, detail, coalesce(ticket_id, 0), received_at, processed_at`

func scanInbound(r pgx.Row) (InboundMail, error) {
	var m InboundMail
	err := r.Scan(&m.ID, &m.MessageID, &m.InboxID, &m.Source, &m.Recipient, &m.Sender, &m.Subject, &m.SizeBytes, &m.SHA256,
		&m.BlobKey, &m.Status, &m.Reason, &m.Detail, &m.TicketID, &m.ReceivedAt, &m.ProcessedAt)
	return m, notFound(err)
}

func (s *Store) inboundByKey(ctx context.Context, q rowQuerier, key string) (InboundMail, error) {
	return scanInbound(q.QueryRow(ctx, `SELECT `+inboundCols+` FROM inbound_mails WHERE dedup_key = $1`, key))
}

// InboundGet returns one inbound mail. Errors: ErrNotFound.
func (s *Store) InboundGet(ctx context.Context, id int64) (InboundMail, error) {
	m, err := scanInbound(s.Pool.QueryRow(ctx, `SELECT `+inboundCols+` FROM inbound_mails WHERE id = $1`, id))
	if err != nil {
		return m, fmt.Errorf("inbound mail %d: %w", id, err)
	}
	return m, nil
}

// InboundRaw returns the raw bytes of an inbound mail (staff only: the full original). Errors:
// ErrNotFound (also for a blob gone missing).
func (s *Store) InboundRaw(ctx context.Context, m InboundMail) ([]byte, error) {
	if s.Blobs == nil {
		return nil, fmt.Errorf("inbound mail %d: %w", m.ID, ErrNotFound)
	}
	b, err := s.Blobs.ReadAll(ctx, m.BlobKey)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("inbound mail %d blob: %w", m.ID, ErrNotFound)
	}
	return b, err
}

// InboundFinish records an outcome without a message: held, failed or ignored with its reason
// code and a detail, optionally the ticket it concerns. Only a mail still "received" changes.
func (s *Store) InboundFinish(ctx context.Context, id int64, status, reason, detail string, ticketID int64) error {
	var t *int64
	if ticketID != 0 {
		t = &ticketID
	}
	_, err := s.Pool.Exec(ctx, `UPDATE inbound_mails SET status = $2, reason = $3, detail = $4, ticket_id = $5, processed_at = now()
		WHERE id = $1 AND status = 'received'`, id, status, reason, clip(detail, 1000), t)
	return err
}

// InboxEmail is an inbox's email settings (inbox_email).
type InboxEmail struct {
	InboxID          int64
	InboxName        string
	Address          string
	DisplayName      string
	AllowNewContacts bool
	IMAPEnabled      bool
	IMAPHost         string
	IMAPPort         int
	IMAPSecurity     string
	IMAPUser         string
	// IMAPSecret is the sealed password (never shown; "" keeps the stored one on update).
	IMAPSecret []byte
	IMAPFolder string
	IMAPMoveTo string
	UpdatedAt  time.Time
}

const inboxEmailCols = `e.inbox_id, i.name, e.address, e.display_name, e.allow_new_contacts, e.imap_enabled, e.imap_host, e.imap_port,
	e.imap_security, e.imap_user, e.imap_secret, e.imap_folder, e.imap_move_to, e.updated_at`

func scanInboxEmail(r pgx.Row) (InboxEmail, error) {
	var e InboxEmail
	err := r.Scan(&e.InboxID, &e.InboxName, &e.Address, &e.DisplayName, &e.AllowNewContacts, &e.IMAPEnabled, &e.IMAPHost, &e.IMAPPort,
		&e.IMAPSecurity, &e.IMAPUser, &e.IMAPSecret, &e.IMAPFolder, &e.IMAPMoveTo, &e.UpdatedAt)
	return e, notFound(err)
}

// InboxEmailByAddress returns the inbox whose address is addr (case-insensitive, without its
// plus-address detail). Errors: ErrNotFound.
func (s *Store) InboxEmailByAddress(ctx context.Context, addr string) (InboxEmail, error) {
	return scanInboxEmail(s.Pool.QueryRow(ctx, `SELECT `+inboxEmailCols+` FROM inbox_email e JOIN inboxes i ON i.id = e.inbox_id
		WHERE lower(e.address) = lower($1)`, baseAddress(addr)))
}

// InboxEmailGet returns an inbox's email settings. Errors: ErrNotFound (the inbox has none).
func (s *Store) InboxEmailGet(ctx context.Context, inboxID int64) (InboxEmail, error) {
	return scanInboxEmail(s.Pool.QueryRow(ctx, `SELECT `+inboxEmailCols+` FROM inbox_email e JOIN inboxes i ON i.id = e.inbox_id
		WHERE e.inbox_id = $1`, inboxID))
}

// InboxEmailList returns every inbox's email settings, by inbox id.
func (s *Store) InboxEmailList(ctx context.Context) ([]InboxEmail, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+inboxEmailCols+` FROM inbox_email e JOIN inboxes i ON i.id = e.inbox_id ORDER BY e.inbox_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxEmail, error) { return scanInboxEmail(r) })
}

func baseAddress(addr string) string {
	local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok {
		return strings.ToLower(strings.TrimSpace(addr))
	}
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	return local + "@" + domain
}

func inboxEmailAudit(e InboxEmail) string {
	return fmt.Sprintf("address=%s name=%q new_contacts=%t imap=%t host=%s port=%d security=%s user=%s folder=%s move_to=%s password=%s",
		e.Address, e.DisplayName, e.AllowNewContacts, e.IMAPEnabled, e.IMAPHost, e.IMAPPort, e.IMAPSecurity, e.IMAPUser, e.IMAPFolder, e.IMAPMoveTo,
		map[bool]string{true: "set", false: "none"}[len(e.IMAPSecret) > 0])
}

// InboxEmailSet creates or replaces an inbox's email settings, audited as "inbox-mail:<id>"
// (the password only as set/none). A nil IMAPSecret keeps the stored one. Errors:
// *ValidationError (address, imap_host, imap_port, imap_security), ErrNotFound (inbox),
// ErrConflict (another inbox has the address).
func (s *Store) InboxEmailSet(ctx context.Context, editor Staff, e InboxEmail) (InboxEmail, error) {
	fields := map[string]string{}
	e.Address = strings.TrimSpace(e.Address)
	if a, err := NormalizeEmail(e.Address); err != nil || strings.Contains(strings.SplitN(a, "@", 2)[0], "+") {
		fields["address"] = "MailAddressInvalid"
	} else {
		e.Address = a
	}
	if e.IMAPSecurity == "" {
		e.IMAPSecurity = "tls"
	}
	switch e.IMAPSecurity {
	case "tls", "starttls", "none":
	default:
		fields["imap_security"] = "MailSecurityInvalid"
	}
	if e.IMAPPort == 0 {
		e.IMAPPort = map[string]int{"tls": 993, "starttls": 143, "none": 143}[e.IMAPSecurity]
	}
	if e.IMAPPort < 1 || e.IMAPPort > 65535 {
		fields["imap_port"] = "MailPortInvalid"
	}
	e.IMAPHost = strings.TrimSpace(e.IMAPHost)
	if e.IMAPEnabled && (e.IMAPHost == "" || strings.TrimSpace(e.IMAPUser) == "") {
		fields["imap_host"] = "MailIMAPIncomplete"
	}
	if e.IMAPFolder = strings.TrimSpace(e.IMAPFolder); e.IMAPFolder == "" {
		e.IMAPFolder = "INBOX"
	}
	if len(fields) > 0 {
		return e, &ValidationError{Fields: fields}
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var before InboxEmail
		b, err := scanInboxEmail(tx.QueryRow(ctx, `SELECT `+inboxEmailCols+` FROM inbox_email e JOIN inboxes i ON i.id = e.inbox_id
			WHERE e.inbox_id = $1 FOR UPDATE OF e`, e.InboxID))
		had := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		before = b
		if e.IMAPSecret == nil && had {
			e.IMAPSecret = before.IMAPSecret
		}
		_, err = tx.Exec(ctx, `INSERT INTO inbox_email (inbox_id, address, display_name, allow_new_contacts, imap_enabled, imap_host, imap_port,
				imap_security, imap_user, imap_secret, imap_folder, imap_move_to)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (inbox_id) DO UPDATE SET address = $2, display_name = $3, allow_new_contacts = $4, imap_enabled = $5, imap_host = $6,
				imap_port = $7, imap_security = $8, imap_user = $9, imap_secret = $10, imap_folder = $11, imap_move_to = $12, updated_at = now()`,
			e.InboxID, e.Address, e.DisplayName, e.AllowNewContacts, e.IMAPEnabled, e.IMAPHost, e.IMAPPort, e.IMAPSecurity,
			strings.TrimSpace(e.IMAPUser), nilIfEmpty(e.IMAPSecret), e.IMAPFolder, strings.TrimSpace(e.IMAPMoveTo))
		if isUnique(err) {
			return fmt.Errorf("address %s: %w", e.Address, ErrConflict)
		}
		if err != nil {
			if strings.Contains(err.Error(), "inbox_email_inbox_id_fkey") {
				return ErrNotFound
			}
			return err
		}
		bs := ""
		if had {
			bs = inboxEmailAudit(before)
		}
		return auditTx(ctx, tx, editor, "inbox-mail:"+strconv.FormatInt(e.InboxID, 10), bs, inboxEmailAudit(e))
	})
	if err != nil {
		return e, fmt.Errorf("inbox %d mail settings: %w", e.InboxID, err)
	}
	return s.InboxEmailGet(ctx, e.InboxID)
}

// InboundDelivery is a parsed inbound mail ready to join a ticket (built by inbound.Processor).
type InboundDelivery struct {
	// ID is the inbound_mails row.
	ID int64
	// InboxID is the inbox the mail was sent to.
	InboxID int64
	// FromAddr and FromName are the sender.
	FromAddr, FromName string
	// TokenTicketID is the ticket of a valid reply token (0 = none).
	TokenTicketID int64
	// References are the In-Reply-To and References ids, newest first.
	References []string
	// MessageID is the mail's Message-ID ("" = none).
	MessageID string
	Subject   string
	// Body is the trimmed text, HTML the sanitised HTML ("" = none).
	Body, HTML string
	// Auto is true for an automatic mail: it never reopens, never opens a ticket.
	Auto bool
	// Files are the mail's attachments, already in the blob store (nil = none).
	Files *UploadBatch
	// Historic marks a mail of the history import (`portico import mail`): Date becomes the
	// message's (and a new ticket's) time, it never reopens a ticket, counts toward no sender's
	// rate limit, and a mail whose Message-ID is already on a message is ignored
	// (ReasonAlreadyPresent). Like every inbound mail it notifies nobody.
	Historic bool
	// Date is the mail's Date header (zero = now); used only when Historic.
	Date time.Time
	// Outgoing marks an imported mail the inbox itself sent: it becomes a staff message (author
	// "Support team") on the ticket it refers to, else a new ticket whose requester is
	// CustomerAddr (ReasonNoCustomer when there is none). No sender check applies.
	Outgoing                   bool
	CustomerAddr, CustomerName string
	// Cc are the mail's Cc addresses: added as participants when the sender holds the ticket
	// and the ticket_sharing policy allows them (issue 16.1).
	Cc []string
}

// InboundResult is where a delivered mail went.
type InboundResult struct {
	// Status is InboundProcessed, InboundHeld or InboundIgnored.
	Status, Reason string
	TicketID       int64
	MessageID      int64
	// NewTicket is true when the mail opened a ticket.
	NewTicket bool
}

// InboundDeliver puts a parsed mail on its ticket in one transaction, following the threading
// rules of ARCHITECTURE.md: the ticket of a valid reply token, else the ticket of a message the
// mail refers to (In-Reply-To/References), else a new ticket (channel email) in the mail's inbox
// with the sender's contact as requester and their primary company. The sender must pass the
// same Viewer predicate as in the portal: a valid token with another sender is held for an
// agent (ReasonSenderMismatch); a reference the sender may not see opens a new ticket instead.
// An unknown sender gets a contact only when the inbox allows it (else ReasonUnknownSender).
// Automatic mail never opens a ticket (ReasonAutoReply) and never reopens one; more than
// InboundRateLimit mails from one sender within InboundRateWindow are held
// (ReasonRateLimited). The inbound row is locked and must still be "received": a retried job
// returns the first outcome and adds nothing twice. Errors: database failures (retry).
func (s *Store) InboundDeliver(ctx context.Context, d InboundDelivery) (InboundResult, error) {
	var res InboundResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var status, reason string
		var ticket *int64
		if err := tx.QueryRow(ctx, `SELECT status, reason, ticket_id FROM inbound_mails WHERE id = $1 FOR UPDATE`, d.ID).Scan(&status, &reason, &ticket); err != nil {
			return notFound(err)
		}
		if status != InboundReceived {
			res.Status, res.Reason = status, reason
			if ticket != nil {
				res.TicketID = *ticket
			}
			return nil
		}
		finish := func(st, why string, ticketID int64) error {
			res.Status, res.Reason, res.TicketID = st, why, ticketID
			var t *int64
			if ticketID != 0 {
				t = &ticketID
			}
			_, err := tx.Exec(ctx, `UPDATE inbound_mails SET status = $2, reason = $3, ticket_id = $4, processed_at = now(), inbox_id = coalesce(inbox_id, $5) WHERE id = $1`,
				d.ID, st, why, t, nullID(d.InboxID))
			return err
		}
		var at *time.Time // the message's time (nil = now)
		if d.Historic {
			if !d.Date.IsZero() {
				at = &d.Date
			}
			if d.MessageID != "" {
				var t int64
				err := tx.QueryRow(ctx, `SELECT ticket_id FROM messages WHERE email_message_id = $1 LIMIT 1`, clip(d.MessageID, 900)).Scan(&t)
				if err == nil {
					return finish(InboundIgnored, ReasonAlreadyPresent, t)
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
		} else {
			var recent int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM inbound_mails WHERE lower(sender) = lower($1) AND id <> $2
				AND received_at > now() - $3::interval AND status IN ('processed', 'held', 'ignored') AND source <> 'import'`,
				d.FromAddr, d.ID, strconv.Itoa(int(InboundRateWindow.Seconds()))+" seconds").Scan(&recent); err != nil {
				return err
			}
			if recent >= InboundRateLimit {
				return finish(InboundHeld, ReasonRateLimited, 0)
			}
		}
		// The customer of the mail: its sender, or for a mail the inbox sent, its recipient.
		partyAddr, partyName := d.FromAddr, d.FromName
		if d.Outgoing {
			partyAddr, partyName = d.CustomerAddr, d.CustomerName
		}
		st, err := settingsIn(ctx, tx)
		if err != nil {
			return err
		}
		var contactID, companyID int64
		if partyAddr != "" {
			err = tx.QueryRow(ctx, `SELECT id, coalesce(company_id, 0) FROM contacts WHERE lower(email) = lower($1)`, partyAddr).Scan(&contactID, &companyID)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		maySee := func(ticketID int64) (bool, error) {
			if contactID == 0 {
				return false, nil
			}
			v := NewViewer(contactID, companyID, st, "")
			args := []any{ticketID}
			scope := v.replyScope(&args) // a participant writes only when the admin allows
			var ok bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&ok)
			return ok, err
		}
		target := int64(0)
		if d.TokenTicketID != 0 {
			ok, err := maySee(d.TokenTicketID)
			if err != nil {
				return err
			}
			if !ok {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)`, d.TokenTicketID).Scan(&exists); err != nil {
					return err
				}
				if exists {
					return finish(InboundHeld, ReasonSenderMismatch, d.TokenTicketID)
				}
			} else {
				target = d.TokenTicketID
			}
		}
		if target == 0 && len(d.References) > 0 {
			var refTicket int64
			err := tx.QueryRow(ctx, `SELECT ticket_id FROM messages WHERE email_message_id = ANY($1) ORDER BY id DESC LIMIT 1`, d.References).Scan(&refTicket)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if refTicket != 0 && d.Outgoing {
				target = refTicket // the inbox's own reply: staff may add to any ticket
			} else if refTicket != 0 {
				if ok, err := maySee(refTicket); err != nil {
					return err
				} else if ok {
					target = refTicket
				}
			}
		}
		if target == 0 && d.Auto {
			return finish(InboundIgnored, ReasonAutoReply, 0)
		}
		if target == 0 && d.InboxID == 0 {
			return finish(InboundHeld, ReasonNoInbox, 0)
		}
		if d.Outgoing && target == 0 && partyAddr == "" {
			return finish(InboundHeld, ReasonNoCustomer, 0)
		}
		if contactID == 0 && (!d.Outgoing || target == 0) {
			var allow bool
			err := tx.QueryRow(ctx, `SELECT allow_new_contacts FROM inbox_email WHERE inbox_id = $1`, d.InboxID).Scan(&allow)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if !allow {
				return finish(InboundHeld, ReasonUnknownSender, 0)
			}
			addr, err := NormalizeEmail(partyAddr)
			if err != nil && d.Outgoing {
				return finish(InboundHeld, ReasonNoCustomer, 0)
			}
			if err != nil {
				return finish(InboundFailed, "no_from", 0)
			}
			var inserted bool
			if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name) VALUES ($1, $2)
				ON CONFLICT (lower(email)) DO UPDATE SET email = contacts.email RETURNING id, coalesce(company_id, 0), xmax = 0`,
				addr, CleanName(clip(partyName, 200))).Scan(&contactID, &companyID, &inserted); err != nil {
				return err
			}
			if inserted && !d.Historic {
				if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: contactID}); err != nil {
					return err
				}
			}
		}
		subject := clip(strings.TrimSpace(d.Subject), MaxSubjectRunes)
		if subject == "" {
			subject = "(no subject)"
		}
		body := clip(d.Body, MaxReplyRunes)
		if strings.TrimSpace(body) == "" && (d.Files == nil || len(d.Files.Files) == 0) {
			body = "(empty)"
		}
		var convID, fromStage int64
		var wasClosed bool
		if target == 0 {
			var stageID, pipelineID int64
			if err := tx.QueryRow(ctx, `SELECT s.id, s.pipeline_id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
				WHERE NOT s.is_closed ORDER BY p.position, p.id, s.position, s.id LIMIT 1`).Scan(&stageID, &pipelineID); err != nil {
				return fmt.Errorf("no open stage: %w", err)
			}
			if err := tx.QueryRow(ctx, `INSERT INTO tickets (subject, description, pipeline_id, stage_id, channel, requester_id, company_id,
					created_at, last_activity_at)
				VALUES ($1, $2, $3, $4, 'email', $5, $6, coalesce($7, now()), coalesce($7, now())) RETURNING id`,
				subject, body, pipelineID, stageID, contactID, nullID(companyID), at).Scan(&target); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel, created_at) VALUES ($1, $2, 'email', coalesce($3, now())) RETURNING id`,
				target, d.InboxID, at).Scan(&convID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, summary, created_at) VALUES ($1, 'ticket', $2, $3, coalesce($4, now()))`,
				contactID, target, subject, at); err != nil {
				return err
			}
			res.NewTicket = true
		} else {
			var closed bool
			var pipelineID int64
			if err := tx.QueryRow(ctx, `SELECT is_closed, pipeline_id, stage_id FROM tickets WHERE id = $1 FOR UPDATE`, target).Scan(&closed, &pipelineID, &fromStage); err != nil {
				return notFound(err)
			}
			wasClosed = closed
			err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE ticket_id = $1 ORDER BY (channel = 'email') DESC, created_at, id LIMIT 1`, target).Scan(&convID)
			if errors.Is(err, pgx.ErrNoRows) {
				inbox := d.InboxID
				if inbox == 0 {
					err = tx.QueryRow(ctx, `SELECT id FROM inboxes WHERE is_default`).Scan(&inbox)
				}
				if err == nil || errors.Is(err, pgx.ErrNoRows) {
					err = tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel) VALUES ($1, $2, 'email') RETURNING id`, target, inbox).Scan(&convID)
				}
			}
			if err != nil {
				return fmt.Errorf("conversation: %w", err)
			}
			if d.Historic {
				// History never reopens a ticket; its activity time only moves forward.
				if _, err := tx.Exec(ctx, `UPDATE tickets SET last_activity_at = greatest(last_activity_at, coalesce($2, now())) WHERE id = $1`,
					target, at); err != nil {
					return err
				}
			} else if !d.Auto {
				if closed && st.ReopenOnReply {
					_, err = tx.Exec(ctx, `UPDATE tickets SET last_activity_at = now(), is_closed = false, closed_at = NULL,
						stage_id = (SELECT id FROM stages WHERE pipeline_id = $2 AND NOT is_closed ORDER BY position, id LIMIT 1)
						WHERE id = $1`, target, pipelineID)
				} else {
					_, err = tx.Exec(ctx, `UPDATE tickets SET last_activity_at = now() WHERE id = $1`, target)
				}
				if err != nil {
					return err
				}
			}
		}
		var html *string
		if d.HTML != "" {
			h := clip(d.HTML, 4*MaxReplyRunes)
			html = &h
		}
		var mid *string
		if d.MessageID != "" {
			m := clip(d.MessageID, 900)
			mid = &m
		}
		author := nullID(contactID)
		if d.Outgoing {
			author = nil // a staff message ("Support team"): no staff user is known
		}
		if err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body, email_message_id, inbound_mail_id, email_from, body_html, created_at)
			VALUES ($1, $2, 'public', $3, $4, $5, $6, $7, $8, coalesce($9, now())) RETURNING id`,
			convID, target, author, body, mid, d.ID, clip(d.FromAddr, 320), html, at).Scan(&res.MessageID); err != nil {
			return err
		}
		if _, err := insertAttachments(ctx, tx, d.Files, target, res.MessageID); err != nil {
			return err
		}
		if !d.Outgoing {
			if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, message_id, summary, created_at) VALUES ($1, 'email', $2, $3, $4, coalesce($5, now()))`,
				contactID, target, res.MessageID, subject, at); err != nil {
				return err
			}
		}
		if !d.Historic { // an imported mailbox's history is not news
			ev := WebhookEvent{Type: webhook.MessageAdded, TicketID: target, MessageID: res.MessageID}
			if res.NewTicket {
				ev.Type = webhook.TicketCreated
			}
			if err := s.emitWebhook(ctx, tx, ev); err != nil {
				return err
			}
			if !res.NewTicket && wasClosed && st.ReopenOnReply && !d.Auto { // only a reopen moves it
				if err := s.emitStageChange(ctx, tx, target, fromStage, wasClosed); err != nil {
					return err
				}
			}
		}
		if !d.Auto && !d.Historic && !d.Outgoing && len(d.Cc) > 0 {
			var allowNew bool
			if err := tx.QueryRow(ctx, `SELECT allow_new_contacts FROM inbox_email WHERE inbox_id = $1`, d.InboxID).Scan(&allowNew); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err := s.addCcParticipants(ctx, tx, st, target, contactID, companyID, d.Cc, allowNew); err != nil {
				return err
			}
		}
		return finish(InboundProcessed, "", target)
	})
	if err != nil {
		return InboundResult{}, fmt.Errorf("inbound mail %d: %w", d.ID, err)
	}
	if d.Files != nil && res.MessageID != 0 {
		d.Files.done = true
	}
	return res, nil
}

// InboundBounce records a delivery-status report: each failed recipient that is a contact gets
// its bounce counted (a hard bounce adds one; HardBounceLimit of them mark the address
// undeliverable, shown to agents) and the mail is ignored with ReasonBounce — never a message.
func (s *Store) InboundBounce(ctx context.Context, id int64, recipients []string, hard bool, detail string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM inbound_mails WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return notFound(err)
		}
		if status != InboundReceived {
			return nil
		}
		inc := 0
		if hard {
			inc = 1
		}
		for _, r := range recipients {
			if _, err := tx.Exec(ctx, `UPDATE contacts SET hard_bounces = hard_bounces + $2, last_bounce_at = now(), last_bounce_reason = $3,
					undeliverable = undeliverable OR hard_bounces + $2 >= $4
				WHERE lower(email) = lower($1)`, baseAddressKeepPlus(r), inc, clip(detail, 300), HardBounceLimit); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE inbound_mails SET status = 'ignored', reason = 'bounce', detail = $2, processed_at = now() WHERE id = $1`,
			id, clip(detail, 1000))
		return err
	})
}

func baseAddressKeepPlus(a string) string { return strings.Trim(strings.TrimSpace(a), "<>") }

// InboundListFilter selects inbound mails for the agents' list.
type InboundListFilter struct {
	// Statuses to list (empty = held and failed).
	Statuses []string
	Limit    int
}

// InboundList returns inbound mails by status, newest first (at most Limit, default 100).
func (s *Store) InboundList(ctx context.Context, f InboundListFilter) ([]InboundMail, error) {
	if len(f.Statuses) == 0 {
		f.Statuses = []string{InboundHeld, InboundFailed}
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+inboundCols+` FROM inbound_mails WHERE status = ANY($1) ORDER BY received_at DESC, id DESC LIMIT $2`,
		f.Statuses, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboundMail, error) { return scanInbound(r) })
}

// InboundRetry puts a held, failed or ignored mail back to "received" and enqueues its job
// again, audited as "inbound-mail:<id>". With force the processor skips the sender check that
// held it (an agent decided the sender may add to the ticket). Errors: ErrNotFound,
// ErrConflict (processed or discarded).
func (s *Store) InboundRetry(ctx context.Context, editor Staff, id int64) error {
	return s.inboundAct(ctx, editor, id, InboundReceived)
}

// InboundDiscard marks a held, failed or ignored mail discarded (it stays listed as such, its
// raw bytes kept), audited. Errors: ErrNotFound, ErrConflict.
func (s *Store) InboundDiscard(ctx context.Context, editor Staff, id int64) error {
	return s.inboundAct(ctx, editor, id, InboundDiscarded)
}

func (s *Store) inboundAct(ctx context.Context, editor Staff, id int64, to string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var status, reason string
		if err := tx.QueryRow(ctx, `SELECT status, reason FROM inbound_mails WHERE id = $1 FOR UPDATE`, id).Scan(&status, &reason); err != nil {
			return fmt.Errorf("inbound mail %d: %w", id, notFound(err))
		}
		switch status {
		case InboundHeld, InboundFailed, InboundIgnored:
		case InboundReceived:
			if to == InboundReceived {
				return nil
			}
		default:
			return fmt.Errorf("inbound mail %d is %s: %w", id, status, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE inbound_mails SET status = $2, processed_at = CASE WHEN $2 = 'discarded' THEN now() END WHERE id = $1`, id, to); err != nil {
			return err
		}
		if to == InboundReceived {
			if err := enqueueInbound(ctx, tx, id, 0); err != nil {
				return err
			}
		}
		action := map[string]string{InboundReceived: "retry", InboundDiscarded: "discard"}[to]
		return auditTx(ctx, tx, editor, "inbound-mail:"+strconv.FormatInt(id, 10), status+" "+reason, action)
	})
}

// InboundRawForMessage returns the full original mail a message came in as (staff only).
// Errors: ErrNotFound (not an email message, or the blob is gone).
func (s *Store) InboundRawForMessage(ctx context.Context, messageID int64) (InboundMail, []byte, error) {
	var id int64
	if err := s.Pool.QueryRow(ctx, `SELECT inbound_mail_id FROM messages WHERE id = $1 AND inbound_mail_id IS NOT NULL`, messageID).Scan(&id); err != nil {
		return InboundMail{}, nil, fmt.Errorf("message %d original: %w", messageID, notFound(err))
	}
	m, err := s.InboundGet(ctx, id)
	if err != nil {
		return m, nil, err
	}
	b, err := s.InboundRaw(ctx, m)
	return m, b, err
}

// UploadBytes adds an in-memory file to the batch (Add for a reader).
func (b *UploadBatch) UploadBytes(ctx context.Context, name string, data []byte) error {
	return b.Add(ctx, name, bytes.NewReader(data))
}

// nullID maps 0 to SQL NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
