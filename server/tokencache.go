package server

import (
	"context"
	"crypto/sha256"
	"time"

	"portico/sql/store"
)

// cachedToken is one API token's principal as APIAuthenticate last returned it, and when this
// instance last recorded a use of it (last_used_at is touched at most once a minute).
type cachedToken struct {
	p       store.APIPrincipal
	touched time.Time
}

// maxCachedTokens bounds the token cache; past it the cache is emptied, as for contacts.
const maxCachedTokens = 10_000

// tokenTouchEvery is how often a token served from the cache has its last-used time recorded.
const tokenTouchEvery = time.Minute

// dropTokens removes the tokens for which drop is true; the caller holds cc.mu.
func (cc *contactCache) dropTokens(drop func(*cachedToken) bool) {
	for k, t := range cc.tokens {
		if drop(t) {
			delete(cc.tokens, k)
		}
	}
}

// getToken returns the cached principal of the token hash h when the listener is up and the
// token has not expired by now, whether it is due a last-used touch, and the generation for
// putToken.
func (cc *contactCache) getToken(h [32]byte, now time.Time) (p store.APIPrincipal, ok, touch bool, gen uint64) {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	if !cc.live {
		return store.APIPrincipal{}, false, false, cc.gen
	}
	t, ok := cc.tokens[h]
	if !ok || (t.p.ExpiresAt != nil && !now.Before(*t.p.ExpiresAt)) {
		return store.APIPrincipal{}, false, false, cc.gen
	}
	return t.p, true, now.Sub(t.touched) >= tokenTouchEvery, cc.gen
}

// putToken stores p for the token hash h (just authenticated, and so touched at now) when
// nothing was invalidated since getToken returned gen and the listener is up.
func (cc *contactCache) putToken(h [32]byte, p store.APIPrincipal, now time.Time, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.live || gen != cc.gen {
		return
	}
	if cc.tokens == nil || len(cc.tokens) >= maxCachedTokens {
		cc.tokens = map[[32]byte]*cachedToken{}
	}
	cc.tokens[h] = &cachedToken{p: p, touched: now}
}

// touchedToken records that the token hash h had its last-used time written at now.
func (cc *contactCache) touchedToken(h [32]byte, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if t, ok := cc.tokens[h]; ok {
		t.touched = now
	}
}

// apiAuthenticate is Store.APIAuthenticate through the in-process token cache (issue 18): a
// cached, unexpired token answers without PostgreSQL except for its once-a-minute last-used
// touch. The cache is coherent across instances like the contact cache: migration 00024's
// triggers announce every revocation, expiry, scope or account-status change on the contact
// channel, and the listener drops the token before the next request can use it; while the
// listener is down every request reads PostgreSQL. Errors: those of Store.APIAuthenticate and
// Store.APITokenTouch.
func (s *Server) apiAuthenticate(ctx context.Context, token string) (store.APIPrincipal, error) {
	h := sha256.Sum256([]byte(token))
	now := time.Now()
	p, ok, touch, gen := s.contacts.getToken(h, now)
	if ok {
		if touch {
			if err := s.Store.APITokenTouch(ctx, p.TokenID); err != nil {
				return store.APIPrincipal{}, err
			}
			s.contacts.touchedToken(h, now)
		}
		return p, nil
	}
	p, err := s.Store.APIAuthenticate(ctx, token)
	if err == nil {
		s.contacts.putToken(h, p, now, gen)
	}
	return p, err
}
