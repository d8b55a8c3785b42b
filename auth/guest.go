package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// GuestSession is the browser session a guest link opens (issue 16.3): it names one ticket, the
// link's recipient and the link, and carries its own CSRF token. It lives in its own key space
// (<prefix>g:<id>), apart from Sessions, so a guest session id is never a customer or staff
// session, whatever cookie it is put in; it grants nothing beyond the guest routes of its
// ticket, which re-check the link on every request.
type GuestSession struct {
	ID                          string
	TicketID, ContactID, LinkID int64
	CSRFToken                   string
	CreatedAt                   time.Time
}

// CheckCSRF reports whether token is this guest session's CSRF token (constant time).
func (g *GuestSession) CheckCSRF(token string) bool {
	if g == nil || g.CSRFToken == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(g.CSRFToken)) == 1
}

// GuestSessions stores guest sessions in Redis under <prefix>g:<id>, a hash whose TTL is the
// idle timeout (never past the link's expiry), slid on each request.
type GuestSessions struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewGuestSessions returns the guest session store; prefix namespaces the keys ("portico:").
func NewGuestSessions(rdb redis.UniversalClient, prefix string) *GuestSessions {
	return &GuestSessions{rdb: rdb, prefix: prefix}
}

func (g *GuestSessions) key(id string) string { return g.prefix + "g:" + id }

// Create stores a new guest session with a fresh id (32 random bytes) and CSRF token for the
// link linkID of contactID on ticketID; it lasts ttl without use. Errors: Redis errors.
func (g *GuestSessions) Create(ctx context.Context, ticketID, contactID, linkID int64, ttl time.Duration) (*GuestSession, error) {
	s := &GuestSession{ID: NewToken(), TicketID: ticketID, ContactID: contactID, LinkID: linkID, CSRFToken: NewToken(), CreatedAt: time.Now()}
	pipe := g.rdb.TxPipeline()
	pipe.HSet(ctx, g.key(s.ID), "tid", ticketID, "cid", contactID, "lid", linkID, "csrf", s.CSRFToken, "created", s.CreatedAt.Unix())
	pipe.Expire(ctx, g.key(s.ID), ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("guest session create: %w", err)
	}
	return s, nil
}

// Load returns the guest session id and slides its TTL to ttl. Errors: ErrNoSession (unknown,
// expired, malformed id), Redis errors.
func (g *GuestSessions) Load(ctx context.Context, id string, ttl time.Duration) (*GuestSession, error) {
	if len(id) != 43 {
		return nil, ErrNoSession
	}
	pipe := g.rdb.Pipeline()
	get := pipe.HGetAll(ctx, g.key(id))
	pipe.Expire(ctx, g.key(id), ttl)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("guest session load: %w", err)
	}
	m := get.Val()
	if len(m) == 0 || m["csrf"] == "" {
		return nil, ErrNoSession
	}
	s := &GuestSession{ID: id, CSRFToken: m["csrf"]}
	s.TicketID, _ = strconv.ParseInt(m["tid"], 10, 64)
	s.ContactID, _ = strconv.ParseInt(m["cid"], 10, 64)
	s.LinkID, _ = strconv.ParseInt(m["lid"], 10, 64)
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	s.CreatedAt = time.Unix(created, 0)
	if s.TicketID == 0 || s.ContactID == 0 || s.LinkID == 0 {
		return nil, ErrNoSession
	}
	return s, nil
}

// Destroy deletes the guest session (its link was revoked or expired).
func (g *GuestSessions) Destroy(ctx context.Context, id string) error {
	return g.rdb.Del(ctx, g.key(id)).Err()
}
