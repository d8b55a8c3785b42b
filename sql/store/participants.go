package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
	"portico/webhook"
)

// Participants (issue 16.1): people besides the requester who see a ticket. Who reaches a
// ticket as a participant is decided by the one Viewer predicate (viewer.go: detailScope,
// replyScope, the "shared" list view); this file adds and removes the rows it reads.

// Ways a participant was added (ticket_participants.added_via).
const (
	AddedByAgent  = "agent"
	AddedByPortal = "portal"
	AddedByEmail  = "email"
)

// MailTicketShared tells a contact that a ticket was shared with them (keys MailTicketShared…).
const MailTicketShared = "ticket_shared"

// Participant is one participant of a ticket.
type Participant struct {
	ContactID   int64
	Email, Name string
	// AddedVia is AddedByAgent, AddedByPortal or AddedByEmail; AddedBy names who added them.
	AddedVia, AddedBy string
	CreatedAt         time.Time
}

// participantList lists a ticket's ($1) participants, oldest first, with how they were added
// (the columns scanParticipant reads). The caller has checked that whoever asks may see the
// ticket (staff, or a Viewer through detailScope); not in sql/queries because the ticket page
// queues it into its one batch (ticketForViewer), which sqlc's generated methods cannot join.
const participantList = `SELECT tp.contact_id, c.email, c.name, tp.added_via, tp.created_at,
    coalesce(nullif(ac.name, ''), ac.email, su.name, '')::text AS added_by
FROM ticket_participants tp
JOIN contacts c ON c.id = tp.contact_id
LEFT JOIN contacts ac ON ac.id = tp.added_by_contact_id
LEFT JOIN staff_users su ON su.id = tp.added_by_staff_id
WHERE tp.ticket_id = $1
ORDER BY tp.created_at, tp.contact_id`

// scanParticipant reads one row of participantList.
func scanParticipant(r pgx.CollectableRow) (Participant, error) {
	var p Participant
	err := r.Scan(&p.ContactID, &p.Email, &p.Name, &p.AddedVia, &p.CreatedAt, &p.AddedBy)
	return p, err
}

func participantsOf(ctx context.Context, q querier, ticketID int64) ([]Participant, error) {
	rows, err := q.Query(ctx, participantList, ticketID)
	if err == nil {
		var out []Participant
		if out, err = pgx.CollectRows(rows, scanParticipant); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("participants of ticket %d: %w", ticketID, err)
}

// InboxParticipantList returns a ticket's participants for staff (no Viewer: /admin only).
func (s *Store) InboxParticipantList(ctx context.Context, ticketID int64) ([]Participant, error) {
	return participantsOf(ctx, s.Pool, ticketID)
}

// sharingAllows applies the ticket_sharing policy: may a requester of company sharerCompany
// add the contact of targetCompany with address email (targetCompany 0 = none or not yet a
// contact)?
func sharingAllows(st Settings, sharerCompany, targetCompany int64, email string) bool {
	colleague := sharerCompany != 0 && targetCompany == sharerCompany
	switch st.TicketSharing {
	case SharingCompany:
		return colleague
	case SharingDomains:
		_, domain, _ := strings.Cut(strings.ToLower(email), "@")
		return colleague || slices.ContainsFunc(st.TicketSharingDomains, func(d string) bool {
			return strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(d), "@"), domain)
		})
	case SharingAnyone:
		return true
	}
	return false
}

// contactForShare returns the contact with address email, creating it (no company) when
// create is true; found is false when there is none and none was made.
func (s *Store) contactForShare(ctx context.Context, tx pgx.Tx, email, name string, create bool) (id, company int64, found bool, err error) {
	err = tx.QueryRow(ctx, `SELECT id, coalesce(company_id, 0) FROM contacts WHERE lower(email) = lower($1)`, email).Scan(&id, &company)
	if err == nil {
		return id, company, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, err
	}
	if !create {
		return 0, 0, false, nil
	}
	var inserted bool
	err = tx.QueryRow(ctx, `INSERT INTO contacts (email, name) VALUES ($1, $2)
		ON CONFLICT (lower(email)) DO UPDATE SET email = contacts.email RETURNING id, coalesce(company_id, 0), xmax = 0`,
		email, CleanName(clip(name, 200))).Scan(&id, &company, &inserted)
	if err == nil && inserted {
		err = s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: id})
	}
	return id, company, err == nil, err
}

// addParticipant inserts the row and, unless quiet, enqueues MailTicketShared to the new
// participant naming who shared it (by). It reports whether a row was added.
func addParticipant(ctx context.Context, tx pgx.Tx, ticketID, contactID int64, via string, byContact, byStaff *int64, by string, quiet bool) (bool, error) {
	var requester *int64
	var subject string
	if err := tx.QueryRow(ctx, `SELECT requester_id, subject FROM tickets WHERE id = $1`, ticketID).Scan(&requester, &subject); err != nil {
		return false, notFound(err)
	}
	if requester != nil && *requester == contactID {
		return false, nil // the requester sees the ticket already
	}
	n, err := db.New(tx).TicketParticipantInsert(ctx, db.TicketParticipantInsertParams{TicketID: ticketID, ContactID: contactID,
		AddedVia: via, AddedByContactID: byContact, AddedByStaffID: byStaff})
	if err != nil || n == 0 || quiet {
		return n > 0, err
	}
	var email, name, lang string
	if err := tx.QueryRow(ctx, `SELECT c.email, c.name, coalesce(nullif(c.language, ''), t.language) FROM contacts c, tickets t
		WHERE c.id = $1 AND t.id = $2 AND NOT c.undeliverable`, contactID, ticketID).Scan(&email, &name, &lang); errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	} else if err != nil {
		return true, err
	}
	return true, EnqueueMail(ctx, tx, MailJob{Template: MailTicketShared, To: email, Name: name, Lang: lang,
		Path: "/tickets/" + strconv.FormatInt(ticketID, 10), Ticket: subject, By: by, Guest: &GuestRef{TicketID: ticketID, ContactID: contactID}})
}

// TicketShareForViewer adds the contact with address email as a participant of a ticket the
// viewer holds as requester or through their company ("Share with"), under the ticket_sharing
// policy of st: a colleague of the viewer's company, or (domains, anyone) an address the admin
// allows, which becomes a contact when it is none yet. The new participant is mailed a link.
// Errors: ErrNotFound (outside the viewer's manage scope, or sharing off); *ValidationError
// for field "email": EmailInvalid, ShareNotAllowed (the policy refuses the address; the same
// answer whether or not it is a contact), ShareAlready (requester or participant already).
func (s *Store) TicketShareForViewer(ctx context.Context, v Viewer, st Settings, ticketID int64, email string) (Participant, error) {
	if st.TicketSharing == SharingOff || st.TicketSharing == "" {
		return Participant{}, fmt.Errorf("share ticket %d: %w", ticketID, ErrNotFound)
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return Participant{}, err
	}
	var p Participant
	err = s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.manageScope(&args)
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+` FOR UPDATE`, args...).Scan(&one); err != nil {
			return notFound(err)
		}
		var targetCompany int64
		err := tx.QueryRow(ctx, `SELECT coalesce(company_id, 0) FROM contacts WHERE lower(email) = lower($1)`, email).Scan(&targetCompany)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !sharingAllows(st, v.CompanyID, targetCompany, email) {
			return Invalid("email", "ShareNotAllowed")
		}
		id, _, _, err := s.contactForShare(ctx, tx, email, "", true)
		if err != nil {
			return err
		}
		var by string
		if err := tx.QueryRow(ctx, `SELECT coalesce(nullif(name, ''), email) FROM contacts WHERE id = $1`, v.ContactID).Scan(&by); err != nil {
			return err
		}
		added, err := addParticipant(ctx, tx, ticketID, id, AddedByPortal, &v.ContactID, nil, by, false)
		if err != nil {
			return err
		}
		if !added {
			return Invalid("email", "ShareAlready")
		}
		p = Participant{ContactID: id, Email: email, AddedVia: AddedByPortal, AddedBy: by}
		return nil
	})
	if err != nil {
		return Participant{}, fmt.Errorf("share ticket %d: %w", ticketID, err)
	}
	return p, nil
}

// TicketParticipantRemoveForViewer removes participant contactID from a ticket: the viewer
// holds the ticket (requester or company), or removes themselves ("Stop sharing with me").
// Access ends with the row: the next request of that contact, on any path, answers 404.
// Errors: ErrNotFound (outside scope, or no such participant).
func (s *Store) TicketParticipantRemoveForViewer(ctx context.Context, v Viewer, ticketID, contactID int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.manageScope(&args)
		if contactID == v.ContactID {
			args = []any{ticketID}
			scope = v.detailScope(&args)
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+` FOR UPDATE`, args...).Scan(&one); err != nil {
			return fmt.Errorf("remove participant of ticket %d: %w", ticketID, notFound(err))
		}
		n, err := db.New(tx).TicketParticipantDelete(ctx, db.TicketParticipantDeleteParams{TicketID: ticketID, ContactID: contactID})
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("remove participant %d of ticket %d: %w", contactID, ticketID, err)
		}
		return nil
	})
}

// InboxParticipantAdd adds the contact with address email (created when unknown) as a
// participant of a ticket, for staff (no sharing policy: agents decide), and mails them a
// link. Errors: *ValidationError (email: EmailInvalid, ShareAlready), ErrNotFound (ticket).
func (s *Store) InboxParticipantAdd(ctx context.Context, staff Staff, ticketID int64, email string) (Participant, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Participant{}, err
	}
	var p Participant
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE`, ticketID).Scan(&one); err != nil {
			return notFound(err)
		}
		id, _, _, err := s.contactForShare(ctx, tx, email, "", true)
		if err != nil {
			return err
		}
		added, err := addParticipant(ctx, tx, ticketID, id, AddedByAgent, nil, &staff.ID, staff.Name, false)
		if err != nil {
			return err
		}
		if !added {
			return Invalid("email", "ShareAlready")
		}
		p = Participant{ContactID: id, Email: email, AddedVia: AddedByAgent, AddedBy: staff.Name}
		return nil
	})
	if err != nil {
		return Participant{}, fmt.Errorf("add participant to ticket %d: %w", ticketID, err)
	}
	return p, nil
}

// InboxParticipantRemove removes a participant for staff. Errors: ErrNotFound.
func (s *Store) InboxParticipantRemove(ctx context.Context, ticketID, contactID int64) error {
	n, err := db.New(s.Pool).TicketParticipantDelete(ctx, db.TicketParticipantDeleteParams{TicketID: ticketID, ContactID: contactID})
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove participant %d of ticket %d: %w", contactID, ticketID, err)
	}
	return nil
}

// addCcParticipants adds the Cc addresses of a mail from senderID (of company senderCompany)
// on ticketID as participants (AddedByEmail, no notice: they had the mail), when the sender
// holds the ticket (requester or company, not a participant) and the ticket_sharing policy
// allows each address. Addresses of inboxes, the sender and the requester are skipped; an
// unknown address becomes a contact only when allowNew (the inbox creates contacts).
func (s *Store) addCcParticipants(ctx context.Context, tx pgx.Tx, st Settings, ticketID, senderID, senderCompany int64, cc []string, allowNew bool) error {
	if len(cc) == 0 || st.TicketSharing == SharingOff || st.TicketSharing == "" {
		return nil
	}
	v := NewViewer(senderID, senderCompany, st, "")
	args := []any{ticketID}
	scope := v.manageScope(&args)
	var holds bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&holds); err != nil || !holds {
		return err
	}
	for _, raw := range cc {
		email, err := NormalizeEmail(raw)
		if err != nil {
			continue
		}
		var inbox bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbox_email WHERE lower(address) = lower($1))`, baseAddress(email)).Scan(&inbox); err != nil {
			return err
		}
		if inbox {
			continue
		}
		id, company, found, err := s.contactForShare(ctx, tx, email, "", false)
		if err != nil {
			return err
		}
		if id == senderID || !sharingAllows(st, senderCompany, company, email) {
			continue
		}
		if !found {
			if !allowNew {
				continue
			}
			if id, _, _, err = s.contactForShare(ctx, tx, email, "", true); err != nil {
				return err
			}
		}
		if _, err := addParticipant(ctx, tx, ticketID, id, AddedByEmail, &senderID, nil, "", true); err != nil {
			return err
		}
	}
	return nil
}

// enqueueParticipantNotices enqueues MailTicketReply (the agent's public answer) for every
// participant of the ticket who may see it under the current settings (admin filters), in tx.
func enqueueParticipantNotices(ctx context.Context, tx pgx.Tx, ticketID int64, answer string) error {
	rows, err := tx.Query(ctx, `SELECT c.id, coalesce(c.company_id, 0), c.email, c.name, coalesce(nullif(c.language, ''), t.language), t.subject
		FROM ticket_participants tp JOIN contacts c ON c.id = tp.contact_id JOIN tickets t ON t.id = tp.ticket_id
		WHERE tp.ticket_id = $1 AND NOT c.undeliverable ORDER BY tp.created_at, c.id`, ticketID)
	if err != nil {
		return err
	}
	type rcpt struct {
		id, company                int64
		email, name, lang, subject string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rcpt, error) {
		var x rcpt
		err := r.Scan(&x.id, &x.company, &x.email, &x.name, &x.lang, &x.subject)
		return x, err
	})
	if err != nil || len(list) == 0 {
		return err
	}
	st, err := settingsIn(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range list {
		v := NewViewer(r.id, r.company, st, "")
		args := []any{ticketID}
		scope := v.detailScope(&args)
		var visible bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil {
			return err
		}
		if !visible {
			continue
		}
		if err := EnqueueMail(ctx, tx, MailJob{Template: MailTicketReply, To: r.email, Name: r.name, Lang: r.lang,
			Path: "/tickets/" + strconv.FormatInt(ticketID, 10), Ticket: r.subject, Quote: answer, Guest: &GuestRef{TicketID: ticketID, ContactID: r.id}}); err != nil {
			return err
		}
	}
	return nil
}
