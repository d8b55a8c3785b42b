package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
)

// Guest links (issue 16.3): a ticket's notification mail may carry a link that opens that one
// ticket for its recipient without an account — read and reply, nothing else. The link is a
// 256-bit random token; only its SHA-256 is stored (ticket_guest_links), with the ticket, the
// recipient contact, an expiry and a revocation time. Access through a link is the recipient's
// own Viewer confined to the one ticket (Viewer.OnlyTicket), so a link never reaches more than
// its recipient could see signed in, and loses the ticket the moment they do.

// GuestSettings are the settings of guest links.
type GuestSettings struct {
	// GuestLinksEnabled puts guest links in ticket notification mails and lets them open; off,
	// every link (old ones too) answers 404.
	GuestLinksEnabled bool
	// GuestLinkDays is how long a new link stays valid, in days (1 to 90).
	GuestLinkDays int64
}

// GuestLinkTTL is the validity of a link minted now.
func (s Settings) GuestLinkTTL() time.Duration {
	return time.Duration(max(s.GuestLinkDays, 1)) * 24 * time.Hour
}

func init() {
	defineSettings(
		BoolSetting("guest_links_enabled", "guest_links", false, func(s *Settings) *bool { return &s.GuestLinksEnabled }),
		IntSetting("guest_link_days", "guest_links", 1, 90, 7, func(s *Settings) *int64 { return &s.GuestLinkDays }),
	)
}

// GuestRef names what a notification mail's guest link opens: one ticket, for one recipient.
type GuestRef struct {
	TicketID  int64 `json:"ticket_id"`
	ContactID int64 `json:"contact_id"`
}

// GuestLink is a live guest link (never its token).
type GuestLink struct {
	ID, TicketID, ContactID int64
	ExpiresAt               time.Time
}

// GuestViewer is the Viewer of a guest link: its recipient as the portal would see them under
// st, confined to the link's ticket. ct must be the link's contact.
func GuestViewer(l GuestLink, ct Contact, st Settings) Viewer {
	v := NewViewer(ct.ID, ct.CompanyID, st, "")
	v.OnlyTicket = l.TicketID
	return v
}

// GuestLinkMint creates a guest link for ref valid for ttl and returns its token (43 characters,
// base64url) — the only time the token exists outside the mail. The recipient must see the
// ticket now (their Viewer under the current settings) and their portal account must not be
// disabled. Errors: ErrNotFound (guest links off, recipient without access: the mail goes
// without a link), database errors.
func (s *Store) GuestLinkMint(ctx context.Context, ref GuestRef, ttl time.Duration) (string, GuestLink, error) {
	tok := newLinkToken()
	l := GuestLink{TicketID: ref.TicketID, ContactID: ref.ContactID}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		st, err := settingsIn(ctx, tx)
		if err != nil {
			return err
		}
		if !st.GuestLinksEnabled {
			return ErrNotFound
		}
		var companyID int64
		var disabled bool
		if err := tx.QueryRow(ctx, `SELECT coalesce(c.company_id, 0), coalesce(pa.status = 'disabled', false)
			FROM contacts c LEFT JOIN portal_accounts pa ON pa.contact_id = c.id WHERE c.id = $1`, ref.ContactID).Scan(&companyID, &disabled); err != nil {
			return notFound(err)
		}
		if disabled {
			return ErrNotFound
		}
		v := NewViewer(ref.ContactID, companyID, st, "")
		args := []any{ref.TicketID}
		scope := v.detailScope(&args)
		var visible bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil {
			return err
		}
		if !visible {
			return ErrNotFound
		}
		l.ExpiresAt = time.Now().Add(ttl).UTC().Truncate(time.Microsecond)
		l.ID, err = db.New(tx).TicketGuestLinkInsert(ctx, db.TicketGuestLinkInsertParams{TicketID: ref.TicketID, ContactID: ref.ContactID,
			TokenHash: HashToken(tok), ExpiresAt: l.ExpiresAt})
		return err
	})
	if err != nil {
		return "", GuestLink{}, fmt.Errorf("guest link for ticket %d: %w", ref.TicketID, err)
	}
	return tok, l, nil
}

// GuestLinkDiscard forgets a link whose mail could not be sent (its token reached nobody).
func (s *Store) GuestLinkDiscard(ctx context.Context, id int64) error {
	return db.New(s.Pool).TicketGuestLinkDelete(ctx, id)
}

// GuestLinkOpen returns the live link whose token is token and records its use. Errors:
// ErrNotFound for a token that is malformed, unknown (forged), expired or revoked, or whose
// recipient's portal account is disabled — one answer for all.
func (s *Store) GuestLinkOpen(ctx context.Context, token string) (GuestLink, error) {
	if len(token) != 43 {
		return GuestLink{}, fmt.Errorf("guest link: %w", ErrNotFound)
	}
	r, err := db.New(s.Pool).TicketGuestLinkByHash(ctx, HashToken(token))
	if err != nil {
		return GuestLink{}, fmt.Errorf("guest link: %w", notFound(err))
	}
	return GuestLink{ID: r.ID, TicketID: r.TicketID, ContactID: r.ContactID, ExpiresAt: r.ExpiresAt}, nil
}

// GuestLinkLive returns link id while it is live (not expired, not revoked, its recipient's
// account not disabled); every request of a guest session asks. Errors: ErrNotFound.
func (s *Store) GuestLinkLive(ctx context.Context, id int64) (GuestLink, error) {
	r, err := db.New(s.Pool).TicketGuestLinkLive(ctx, id)
	if err != nil {
		return GuestLink{}, fmt.Errorf("guest link %d: %w", id, notFound(err))
	}
	return GuestLink{ID: r.ID, TicketID: r.TicketID, ContactID: r.ContactID, ExpiresAt: r.ExpiresAt}, nil
}

// GuestLinkStatus is what the inbox shows of a ticket's guest links.
type GuestLinkStatus struct {
	// Live counts the links that still open the ticket; Until is when the last of them expires.
	Live  int64
	Until time.Time
}

// GuestLinkStatusGet returns how many live guest links ticketID has (staff only).
func (s *Store) GuestLinkStatusGet(ctx context.Context, ticketID int64) (GuestLinkStatus, error) {
	r, err := db.New(s.Pool).TicketGuestLinkCountLive(ctx, ticketID)
	if err != nil {
		return GuestLinkStatus{}, fmt.Errorf("guest links of ticket %d: %w", ticketID, err)
	}
	return GuestLinkStatus{Live: r.Live, Until: r.Until}, nil
}

// GuestLinksRevoke revokes every live guest link of a ticket for staff (the inbox's "Revoke
// guest links") and writes an audit row naming how many. Open guest sessions end with their
// next request. It returns the number revoked. Errors: ErrNotFound (no such ticket).
func (s *Store) GuestLinksRevoke(ctx context.Context, staff Staff, ticketID int64) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets WHERE id = $1`, ticketID).Scan(&one); err != nil {
			return notFound(err)
		}
		sid := &staff.ID
		if staff.ID == 0 {
			sid = nil
		}
		var err error
		if n, err = db.New(tx).TicketGuestLinkRevokeTicket(ctx, db.TicketGuestLinkRevokeTicketParams{TicketID: ticketID, StaffID: sid}); err != nil {
			return err
		}
		return auditTx(ctx, tx, staff, "ticket:"+strconv.FormatInt(ticketID, 10)+":guest_links", "live="+strconv.FormatInt(n, 10), "revoked")
	})
	if err != nil {
		return 0, fmt.Errorf("revoke guest links of ticket %d: %w", ticketID, err)
	}
	return n, nil
}

// GuestLinksPurge deletes links that expired or were revoked more than 30 days ago.
func (s *Store) GuestLinksPurge(ctx context.Context) (int64, error) {
	n, err := db.New(s.Pool).TicketGuestLinkPurge(ctx)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("purge guest links: %w", err)
	}
	return n, nil
}
