package store

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// Satisfaction (issue 16.4): when a ticket closes and the setting csat_enabled is on, its
// requester is asked "How did we do?" on the ticket page and in the closing mail, whose two
// links (good, bad) open a page that records the vote only when its form is posted: a mail
// scanner fetching the links records nothing. One vote per close (ticket_ratings is unique by
// ticket and closed_at).

// Rating scores.
const (
	ScoreGood = "good"
	ScoreBad  = "bad"
)

// MailTicketClosed tells the requester their ticket was closed and asks how we did (keys
// MailTicketClosed…); sent only when csat_enabled is on.
const MailTicketClosed = "ticket_closed"

// MaxRatingCommentRunes bounds a rating's comment.
const MaxRatingCommentRunes = 2000

// RatingRef names one close of a ticket and the contact asked about it: what a rating link is
// bound to.
type RatingRef struct {
	TicketID  int64 `json:"ticket_id"`
	ContactID int64 `json:"contact_id"`
	// ClosedAt is the close, in microseconds since 1970 (PostgreSQL's precision).
	ClosedAt int64 `json:"closed_at"`
}

// RatingLinkInfo is the HKDF info of the rating-link key (one key per use of PORTICO_SECRET_KEY).
const RatingLinkInfo = "portico csat link v1"

// RatingLinks signs and checks rating link tokens: base64url of "ticket.contact.closedAt" and
// the first 128 bits of its HMAC-SHA256 under a key derived from PORTICO_SECRET_KEY. A token
// opens nothing but the vote of that one close.
type RatingLinks struct{ key []byte }

// NewRatingLinks derives the key from secretKey. Errors: a key shorter than 16 bytes.
func NewRatingLinks(secretKey []byte) (*RatingLinks, error) {
	if len(secretKey) < 16 {
		return nil, errors.New("PORTICO_SECRET_KEY is too short to sign rating links")
	}
	k, err := hkdf.Key(sha256.New, secretKey, nil, RatingLinkInfo, 32)
	if err != nil {
		return nil, err
	}
	return &RatingLinks{key: k}, nil
}

func (l *RatingLinks) mac(payload string) []byte {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte(payload))
	return h.Sum(nil)[:16]
}

// Token returns the link token of ref.
func (l *RatingLinks) Token(ref RatingRef) string {
	payload := fmt.Sprintf("%d.%d.%d", ref.TicketID, ref.ContactID, ref.ClosedAt)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(l.mac(payload))
}

// Parse checks a token in constant time and returns what it names; ok is false for anything
// forged, truncated or malformed.
func (l *RatingLinks) Parse(token string) (RatingRef, bool) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok || len(token) > 200 {
		return RatingRef{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, l.mac(string(payload))) {
		return RatingRef{}, false
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 3 {
		return RatingRef{}, false
	}
	var ref RatingRef
	var errs [3]error
	ref.TicketID, errs[0] = strconv.ParseInt(parts[0], 10, 64)
	ref.ContactID, errs[1] = strconv.ParseInt(parts[1], 10, 64)
	ref.ClosedAt, errs[2] = strconv.ParseInt(parts[2], 10, 64)
	if errors.Join(errs[:]...) != nil {
		return RatingRef{}, false
	}
	return ref, true
}

// enqueueRatingRequest mails the requester of a ticket that just closed "How did we do?" with
// the rating links, when csat_enabled is on and they may see the ticket; in tx, after the close.
func enqueueRatingRequest(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	st, err := settingsIn(ctx, tx)
	if err != nil || !st.CSATEnabled {
		return err
	}
	var email, name, lang, subject string
	var contactID, companyID int64
	var closedAt time.Time
	err = tx.QueryRow(ctx, `SELECT c.id, coalesce(c.company_id, 0), c.email, c.name, coalesce(nullif(c.language, ''), t.language), t.subject, t.closed_at
		FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = $1 AND t.is_closed AND t.closed_at IS NOT NULL AND NOT c.undeliverable`, ticketID).
		Scan(&contactID, &companyID, &email, &name, &lang, &subject, &closedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	v := NewViewer(contactID, companyID, st, "")
	args := []any{ticketID}
	scope := v.detailScope(&args)
	var visible bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.id = $1 AND `+scope+`)`, args...).Scan(&visible); err != nil || !visible {
		return err
	}
	return EnqueueMail(ctx, tx, MailJob{Template: MailTicketClosed, To: email, Name: name, Lang: lang,
		Path: "/tickets/" + strconv.FormatInt(ticketID, 10), Ticket: subject,
		Rating: &RatingRef{TicketID: ticketID, ContactID: contactID, ClosedAt: closedAt.UnixMicro()}})
}

// validRating checks a vote. Errors: *ValidationError (score: RatingScoreInvalid, comment:
// RatingCommentTooLong).
func validRating(score, comment string) (string, error) {
	if score != ScoreGood && score != ScoreBad {
		return "", Invalid("score", "RatingScoreInvalid")
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) || strings.ContainsRune(comment, 0) || utf8.RuneCountInString(comment) > MaxRatingCommentRunes {
		return "", Invalid("comment", "RatingCommentTooLong")
	}
	return comment, nil
}

// insertRating records the vote for the ticket's current close. Errors: ErrConflict (already
// voted for this close).
func (s *Store) insertRating(ctx context.Context, tx pgx.Tx, ticketID, contactID int64, closedAt time.Time, score, comment string) error {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO ticket_ratings (ticket_id, closed_at, contact_id, score, comment, inbox_id, owner_id)
		SELECT t.id, $2, $3, $4, $5,
			(SELECT cv.inbox_id FROM conversations cv WHERE cv.ticket_id = t.id ORDER BY cv.created_at, cv.id LIMIT 1), t.owner_id
		FROM tickets t WHERE t.id = $1
		ON CONFLICT (ticket_id, closed_at) DO NOTHING RETURNING id`, ticketID, closedAt, contactID, score, comment).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("rating of ticket %d: already given: %w", ticketID, ErrConflict)
	}
	if err != nil {
		return err
	}
	return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.SatisfactionRated, TicketID: ticketID, RatingID: id, ContactID: contactID})
}

// TicketRateForViewer records the viewer's vote on a closed ticket they hold (requester or
// company) for its current close. Errors: ErrNotFound (outside the manage scope, or not
// closed), ErrConflict (already rated), *ValidationError.
func (s *Store) TicketRateForViewer(ctx context.Context, v Viewer, ticketID int64, score, comment string) error {
	comment, err := validRating(score, comment)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		args := []any{ticketID}
		scope := v.manageScope(&args)
		var closedAt time.Time
		if err := tx.QueryRow(ctx, `SELECT t.closed_at FROM tickets t WHERE t.id = $1 AND t.is_closed AND t.closed_at IS NOT NULL AND `+scope+` FOR UPDATE`,
			args...).Scan(&closedAt); err != nil {
			return fmt.Errorf("rate ticket %d: %w", ticketID, notFound(err))
		}
		return s.insertRating(ctx, tx, ticketID, v.ContactID, closedAt, score, comment)
	})
}

// RatingLink is what a rating link's page shows.
type RatingLink struct {
	Subject string
	// Rated is the vote already given for this close ("" = none yet).
	Rated string
}

// RatingLinkGet returns the ticket a valid link names, while that close is the ticket's
// current one and the contact still its requester. It records nothing. Errors: ErrNotFound.
func (s *Store) RatingLinkGet(ctx context.Context, ref RatingRef) (RatingLink, error) {
	var r RatingLink
	err := s.Pool.QueryRow(ctx, `SELECT t.subject, coalesce((SELECT score FROM ticket_ratings r WHERE r.ticket_id = t.id AND r.closed_at = t.closed_at), '')
		FROM tickets t WHERE t.id = $1 AND t.requester_id = $2 AND t.is_closed AND t.closed_at = $3`,
		ref.TicketID, ref.ContactID, time.UnixMicro(ref.ClosedAt)).Scan(&r.Subject, &r.Rated)
	if err != nil {
		return r, fmt.Errorf("rating link for ticket %d: %w", ref.TicketID, notFound(err))
	}
	return r, nil
}

// TicketRateByLink records the vote of a rating link (after its page's form was posted).
// Errors: ErrNotFound (the close is no longer current, or the contact no longer the
// requester), ErrConflict (already rated), *ValidationError.
func (s *Store) TicketRateByLink(ctx context.Context, ref RatingRef, score, comment string) error {
	comment, err := validRating(score, comment)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		closedAt := time.UnixMicro(ref.ClosedAt)
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets WHERE id = $1 AND requester_id = $2 AND is_closed AND closed_at = $3 FOR UPDATE`,
			ref.TicketID, ref.ContactID, closedAt).Scan(&one); err != nil {
			return fmt.Errorf("rate ticket %d by link: %w", ref.TicketID, notFound(err))
		}
		return s.insertRating(ctx, tx, ref.TicketID, ref.ContactID, closedAt, score, comment)
	})
}

// Rating is one vote as staff see it.
type Rating struct {
	TicketID          int64
	Subject           string
	Score, Comment    string
	ContactName       string
	Inbox, Agent      string
	ClosedAt, RatedAt time.Time
}

// TicketRatings returns a ticket's votes, newest first (staff only).
func (s *Store) TicketRatings(ctx context.Context, ticketID int64) ([]Rating, error) {
	return s.ratings(ctx, `WHERE r.ticket_id = $1 ORDER BY r.created_at DESC, r.id DESC`, ticketID)
}

// RatingList returns every vote given in [from, to), newest first, at most 10000 (staff only,
// for the report's CSV).
func (s *Store) RatingList(ctx context.Context, from, to time.Time) ([]Rating, error) {
	return s.ratings(ctx, `WHERE r.created_at >= $1 AND r.created_at < $2 ORDER BY r.created_at DESC, r.id DESC LIMIT 10000`, from, to)
}

func (s *Store) ratings(ctx context.Context, where string, args ...any) ([]Rating, error) {
	rows, err := s.Pool.Query(ctx, `SELECT r.ticket_id, t.subject, r.score, r.comment, coalesce(nullif(c.name, ''), c.email, ''),
			coalesce(i.name, ''), coalesce(su.name, ''), r.closed_at, r.created_at
		FROM ticket_ratings r JOIN tickets t ON t.id = r.ticket_id
		LEFT JOIN contacts c ON c.id = r.contact_id
		LEFT JOIN inboxes i ON i.id = r.inbox_id
		LEFT JOIN staff_users su ON su.id = r.owner_id `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("ratings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rating, error) {
		var x Rating
		err := r.Scan(&x.TicketID, &x.Subject, &x.Score, &x.Comment, &x.ContactName, &x.Inbox, &x.Agent, &x.ClosedAt, &x.RatedAt)
		return x, err
	})
}

// RatingGroup is one line of the report: a period, inbox or agent with its good and bad votes.
type RatingGroup struct {
	Label     string
	Good, Bad int
}

// Score is the share of good votes in percent (0 when there are none).
func (g RatingGroup) Score() int {
	if g.Good+g.Bad == 0 {
		return 0
	}
	return (100*g.Good + (g.Good+g.Bad)/2) / (g.Good + g.Bad)
}

// RatingReport is the admins' satisfaction report over a period.
type RatingReport struct {
	Total   RatingGroup
	ByWeek  []RatingGroup // oldest first, labelled with the week's Monday (YYYY-MM-DD)
	ByInbox []RatingGroup
	ByAgent []RatingGroup
}

// RatingReportGet counts the votes given in [from, to): in total, by ISO week, by inbox and by
// the ticket's owner when voted ("" = unassigned, unknown inbox).
func (s *Store) RatingReportGet(ctx context.Context, from, to time.Time) (RatingReport, error) {
	var rep RatingReport
	group := func(expr string) ([]RatingGroup, error) {
		rows, err := s.Pool.Query(ctx, `SELECT `+expr+` AS label, count(*) FILTER (WHERE r.score = 'good'), count(*) FILTER (WHERE r.score = 'bad')
			FROM ticket_ratings r LEFT JOIN inboxes i ON i.id = r.inbox_id LEFT JOIN staff_users su ON su.id = r.owner_id
			WHERE r.created_at >= $1 AND r.created_at < $2 GROUP BY 1 ORDER BY 1`, from, to)
		if err != nil {
			return nil, fmt.Errorf("rating report: %w", err)
		}
		return pgx.CollectRows(rows, pgx.RowToStructByPos[RatingGroup])
	}
	var err error
	if rep.ByWeek, err = group(`to_char(date_trunc('week', r.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`); err != nil {
		return rep, err
	}
	if rep.ByInbox, err = group(`coalesce(i.name, '')`); err != nil {
		return rep, err
	}
	if rep.ByAgent, err = group(`coalesce(su.name, '')`); err != nil {
		return rep, err
	}
	for _, g := range rep.ByWeek {
		rep.Total.Good += g.Good
		rep.Total.Bad += g.Bad
	}
	return rep, nil
}
