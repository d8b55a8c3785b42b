package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Principal kinds a session may carry.
const (
	KindAnonymous = "anon"    // a pre-sign-in session: only a CSRF token (login CSRF defence)
	KindContact   = "contact" // a customer
	KindStaff     = "staff"   // an agent or admin
)

// AnonymousIdle is the idle timeout of a pre-sign-in session (it only carries a CSRF token and
// binds a started SSO flow to the browser).
const AnonymousIdle = 2 * time.Hour

// Session is one browser session as stored in Redis (OWASP Session Management Cheat Sheet;
// ASVS 5.0 V7). The id is never logged.
type Session struct {
	ID          string
	Kind        string
	PrincipalID int64
	CreatedAt   time.Time
	CSRFToken   string
	// Provider is the slug of the identity provider whose sign-in opened the session ("" for
	// a password or e-mailed link sign-in); sign-out uses it for a JWT app's remote logout URL.
	Provider string
}

// Authenticated reports whether the session belongs to a signed-in principal.
func (s *Session) Authenticated() bool {
	return s != nil && s.Kind != KindAnonymous && s.PrincipalID != 0
}

// Sessions stores sessions in Redis: key <prefix>s:<id> is a hash whose TTL is the idle timeout,
// refreshed on each request; <prefix>a:<kind>:<id> is the set of a principal's session ids.
type Sessions struct {
	rdb      redis.UniversalClient
	prefix   string
	lifetime time.Duration
}

// NewSessions returns a session store. prefix namespaces the keys (e.g. "portico:"); lifetime is
// the absolute session lifetime (NIST SP 800-63B §4.2.3: 12 h at AAL2).
func NewSessions(rdb redis.UniversalClient, prefix string, lifetime time.Duration) *Sessions {
	return &Sessions{rdb: rdb, prefix: prefix, lifetime: lifetime}
}

// NewToken returns 32 bytes from crypto/rand, base64url without padding (43 characters).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms (Go ≥1.24 crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Sessions) key(id string) string { return s.prefix + "s:" + id }
func (s *Sessions) setKey(kind string, id int64) string {
	return s.prefix + "a:" + kind + ":" + strconv.FormatInt(id, 10)
}

// ErrNoSession is returned by Load when the id is unknown, idle-expired or past its lifetime.
var ErrNoSession = errors.New("no session")

// Load returns the session with id and slides its idle timeout to idle. Errors: ErrNoSession
// (unknown, expired by idle timeout or absolute lifetime: the record is then deleted), or a
// Redis error.
func (s *Sessions) Load(ctx context.Context, id string, idle time.Duration) (*Session, error) {
	if len(id) != 43 { // only ids we issued (fixation defence: strict acceptance)
		return nil, ErrNoSession
	}
	pipe := s.rdb.Pipeline()
	get := pipe.HGetAll(ctx, s.key(id))
	pipe.Expire(ctx, s.key(id), idle)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("session load: %w", err)
	}
	m := get.Val()
	if len(m) == 0 {
		return nil, ErrNoSession
	}
	sess := &Session{ID: id, Kind: m["kind"], CSRFToken: m["csrf"], Provider: m["sso"]}
	sess.PrincipalID, _ = strconv.ParseInt(m["pid"], 10, 64)
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	sess.CreatedAt = time.Unix(created, 0)
	if time.Since(sess.CreatedAt) > s.lifetime || sess.CSRFToken == "" {
		_ = s.Destroy(ctx, sess)
		return nil, ErrNoSession
	}
	return sess, nil
}

// Create stores a new session for the principal (kind, id) with a fresh id and CSRF token.
// For KindAnonymous, pid is 0. The idle timeout is idle.
func (s *Sessions) Create(ctx context.Context, kind string, pid int64, idle time.Duration) (*Session, error) {
	return s.CreateVia(ctx, kind, pid, idle, "")
}

// CreateVia is Create for a sign-in through the identity provider slug (kept as the session's
// Provider; "" = none).
func (s *Sessions) CreateVia(ctx context.Context, kind string, pid int64, idle time.Duration, provider string) (*Session, error) {
	sess := &Session{ID: NewToken(), Kind: kind, PrincipalID: pid, CreatedAt: time.Now(), CSRFToken: NewToken(), Provider: provider}
	pipe := s.rdb.TxPipeline()
	fields := []any{"kind", kind, "pid", pid, "created", sess.CreatedAt.Unix(), "csrf", sess.CSRFToken}
	if provider != "" {
		fields = append(fields, "sso", provider)
	}
	pipe.HSet(ctx, s.key(sess.ID), fields...)
	pipe.Expire(ctx, s.key(sess.ID), idle)
	if kind != KindAnonymous {
		pipe.SAdd(ctx, s.setKey(kind, pid), sess.ID)
		pipe.Expire(ctx, s.setKey(kind, pid), s.lifetime)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("session create: %w", err)
	}
	return sess, nil
}

// Destroy deletes the session (sign-out). A nil session is a no-op.
func (s *Sessions) Destroy(ctx context.Context, sess *Session) error {
	if sess == nil {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, s.key(sess.ID))
	if sess.Kind != KindAnonymous {
		pipe.SRem(ctx, s.setKey(sess.Kind, sess.PrincipalID), sess.ID)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// RevokeAll deletes every session of the principal ("sign out everywhere", password change).
// It returns how many sessions were ended.
func (s *Sessions) RevokeAll(ctx context.Context, kind string, pid int64) (int, error) {
	ids, err := s.rdb.SMembers(ctx, s.setKey(kind, pid)).Result()
	if err != nil {
		return 0, err
	}
	keys := []string{s.setKey(kind, pid)}
	for _, id := range ids {
		keys = append(keys, s.key(id))
	}
	n, err := s.rdb.Del(ctx, keys...).Result()
	if n > 0 {
		n-- // the set itself
	}
	return int(n), err
}

// CheckCSRF reports whether token equals the session's CSRF token (constant time). A missing
// session or token never matches. OWASP CSRF Prevention Cheat Sheet: synchronizer token.
func (s *Session) CheckCSRF(token string) bool {
	if s == nil || s.CSRFToken == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// maxDraftRunes bounds each kept field (a reply is at most 20,000 characters).
const maxDraftRunes = 20000

// DraftTTL is how long a draft kept across a sign-in survives.
const DraftTTL = time.Hour

// SaveDraft keeps the form fields a customer sent after their session had expired (a reply to
// ticket ticketID, or the support form for ticketID 0), so that they are waiting in the form
// after the customer signs in again. owner is a secret the browser that sent them keeps (a
// cookie, see handlers.DraftCookie): only that browser gets them back, so a link can never
// plant text in someone else's form. It returns a random single-use id.
func (s *Sessions) SaveDraft(ctx context.Context, ticketID int64, owner string, fields map[string]string) (string, error) {
	for k, v := range fields {
		if r := []rune(v); len(r) > maxDraftRunes {
			fields[k] = string(r[:maxDraftRunes])
		}
	}
	b, err := json.Marshal(draft{Ticket: ticketID, Owner: owner, Fields: fields})
	if err != nil {
		return "", err
	}
	id := NewToken()
	return id, s.rdb.Set(ctx, s.prefix+"draft:"+id, b, DraftTTL).Err()
}

type draft struct {
	Ticket int64             `json:"ticket"`
	Owner  string            `json:"owner"`
	Fields map[string]string `json:"fields"`
}

// TakeDraft returns and deletes the fields kept under id for ticket ticketID, when owner is the
// secret they were saved with (nil when unknown, expired, kept for another form, or asked for by
// another browser: a link can never plant text in another ticket's form or another person's).
func (s *Sessions) TakeDraft(ctx context.Context, id, owner string, ticketID int64) map[string]string {
	if len(id) != 43 || len(owner) != 43 {
		return nil
	}
	v, err := s.rdb.Get(ctx, s.prefix+"draft:"+id).Bytes()
	if err != nil {
		return nil
	}
	var d draft
	if json.Unmarshal(v, &d) != nil || d.Ticket != ticketID || subtle.ConstantTimeCompare([]byte(d.Owner), []byte(owner)) != 1 {
		return nil
	}
	s.rdb.Del(ctx, s.prefix+"draft:"+id)
	return d.Fields
}
