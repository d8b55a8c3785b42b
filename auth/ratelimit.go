package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"portico/metrics"
)

// Limit is a fixed-window limit: at most Max events per Window for one key. Name namespaces
// the counters ("signin", "reset", …).
type Limit struct {
	Name   string
	Max    int
	Window time.Duration
}

// Limits are the brute-force limits of the sign-in flows (OWASP Authentication Cheat Sheet;
// NIST SP 800-63B §5.2.2: at most 100 consecutive failures per account). Failed sign-ins count
// per account and per IP; reset, sign-in-link and registration requests count every request.
// Sign-in failures and mail requests have separate counters, so a locked-out owner can still
// get in by a reset or a sign-in link.
type Limits struct {
	SigninAccount, SigninIP Limit
	MailAccount, MailIP     Limit
	// APIToken counts every request of one API token (customer token or admin key).
	APIToken Limit
	// SCIMToken counts every request of one identity provider's SCIM token.
	SCIMToken Limit
}

// DefaultLimits: 10 failed sign-ins per account and 50 per IP in 15 minutes; 5 mail requests
// (reset, sign-in link, registration) per address and 20 per IP in 15 minutes; 600 API requests
// per token and minute; 1200 SCIM requests per token and minute (an IdP's first sync of a few
// thousand users runs in bursts; Okta and Entra back off on 429).
func DefaultLimits() Limits {
	return Limits{
		SigninAccount: Limit{Name: "signin-acct", Max: 10, Window: 15 * time.Minute},
		SigninIP:      Limit{Name: "signin-ip", Max: 50, Window: 15 * time.Minute},
		MailAccount:   Limit{Name: "mail-acct", Max: 5, Window: 15 * time.Minute},
		MailIP:        Limit{Name: "mail-ip", Max: 20, Window: 15 * time.Minute},
		APIToken:      Limit{Name: "api-token", Max: 600, Window: time.Minute},
		SCIMToken:     Limit{Name: "scim-token", Max: 1200, Window: time.Minute},
	}
}

// Limiter keeps fixed-window counters in Redis, shared by every instance: key
// <prefix>rl:<limit>:<subject> holds the count and expires at the window's end (INCR, and
// PEXPIRE on the first event, in one Lua script).
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewLimiter returns a limiter over rdb with key prefix (e.g. "portico:").
func NewLimiter(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix}
}

// AccountKey is the counter subject for an email address: a SHA-256 of the normalised address,
// so Redis holds no addresses. Known and unknown addresses are counted alike.
func AccountKey(email string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "a:" + hex.EncodeToString(h[:16])
}

// IPKey is the counter subject for a client IP.
func IPKey(ip string) string { return "ip:" + ip }

func (l *Limiter) key(lim Limit, subject string) string {
	return l.prefix + "rl:" + lim.Name + ":" + subject
}

// Blocked reports how long until subject may try again under lim (0 = not blocked).
func (l *Limiter) Blocked(ctx context.Context, lim Limit, subject string) (time.Duration, error) {
	k := l.key(lim, subject)
	pipe := l.rdb.Pipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, fmt.Errorf("rate limit: %w", err)
	}
	n, _ := get.Int()
	if n < lim.Max {
		return 0, nil
	}
	d := ttl.Val()
	if d <= 0 {
		d = lim.Window
	}
	return d, nil
}

// hitScript increments the counter and starts its window on the first event (atomic; works on
// any Redis version and in Cluster, one key).
var hitScript = redis.NewScript(`local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Hit counts one event for subject under lim and returns the count in the current window.
func (l *Limiter) Hit(ctx context.Context, lim Limit, subject string) (int, error) {
	n, err := hitScript.Run(ctx, l.rdb, []string{l.key(lim, subject)}, lim.Window.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("rate limit: %w", err)
	}
	return n, nil
}

// Reset clears subject's counter under lim (after a successful sign-in).
func (l *Limiter) Reset(ctx context.Context, lim Limit, subject string) error {
	return l.rdb.Del(ctx, l.key(lim, subject)).Err()
}

// Check is Blocked over several (limit, subject) pairs: the longest wait, 0 when none blocks.
func (l *Limiter) Check(ctx context.Context, pairs ...any) (time.Duration, error) {
	var worst time.Duration
	for i := 0; i+1 < len(pairs); i += 2 {
		d, err := l.Blocked(ctx, pairs[i].(Limit), pairs[i+1].(string))
		if err != nil {
			return 0, err
		}
		if d > 0 {
			metrics.RateLimited(pairs[i].(Limit).Name)
		}
		worst = max(worst, d)
	}
	return worst, nil
}

// Minutes rounds a wait up to whole minutes (at least 1), for "try again in N minutes".
func Minutes(d time.Duration) int {
	m := int((d + time.Minute - 1) / time.Minute)
	return max(m, 1)
}
