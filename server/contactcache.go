package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/sql/store"
)

// contactChannel is the PostgreSQL NOTIFY channel of migration 00013: a contact's id, or "*"
// for a company change, whenever a contact or company is updated, deleted or truncated.
const contactChannel = "portico_contact_changed"

// contactCache holds the signed-in contacts (id, email, name, company, language) in process,
// so that a request learns who its viewer is without a PostgreSQL query (issue 18). It is
// coherent across instances through PostgreSQL LISTEN/NOTIFY: the triggers of migration 00013
// announce every change, however it was made, and each instance's listener drops the entry.
// The cache serves entries only while its listener is connected: when the connection drops it
// is emptied and bypassed (every request reads PostgreSQL) until LISTEN is back, so a change
// is never missed. A read that raced with an invalidation is not stored (generation check).
// Sessions, not this cache, carry sign-outs and disabled accounts (they destroy the sessions).
type contactCache struct {
	mu   sync.RWMutex
	m    map[int64]store.Contact
	gen  uint64 // bumped on every invalidation
	live bool   // the listener is connected: entries may be served and stored
	// tokens are the API tokens by SHA-256 of the token (tokencache.go), under the same lock,
	// generation and listener.
	tokens map[[32]byte]*cachedToken
}

// maxCachedContacts bounds the cache; past it the cache is emptied (a crude but safe bound:
// the next requests reload what they need).
const maxCachedContacts = 100_000

// get returns the cached contact and whether it was there, and the generation to pass to put.
func (cc *contactCache) get(id int64) (store.Contact, bool, uint64) {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	if !cc.live {
		return store.Contact{}, false, cc.gen
	}
	ct, ok := cc.m[id]
	return ct, ok, cc.gen
}

// put stores ct when nothing was invalidated since get returned gen and the listener is up.
func (cc *contactCache) put(ct store.Contact, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.live || gen != cc.gen {
		return
	}
	if len(cc.m) >= maxCachedContacts {
		clear(cc.m)
	}
	cc.m[ct.ID] = ct
}

// invalidate drops what a notification payload names: a contact's id (that contact and its
// API tokens), "t" and a token's id (that token), anything else ("*") everything.
func (cc *contactCache) invalidate(payload string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	if tok, ok := strings.CutPrefix(payload, "t"); ok {
		if id, err := strconv.ParseInt(tok, 10, 64); err == nil {
			cc.dropTokens(func(t *cachedToken) bool { return t.p.TokenID == id })
			return
		}
	}
	if id, err := strconv.ParseInt(payload, 10, 64); err == nil {
		delete(cc.m, id)
		cc.dropTokens(func(t *cachedToken) bool { return t.p.ContactID == id })
		return
	}
	clear(cc.m)
	clear(cc.tokens)
}

// setLive empties the cache and marks the listener connected (true) or gone (false).
func (cc *contactCache) setLive(live bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	clear(cc.m)
	clear(cc.tokens)
	cc.live = live
}

// isLive reports whether the listener is connected (tests wait for it).
func (cc *contactCache) isLive() bool {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	return cc.live
}

// contactGet is Store.ContactGet through the contact cache. Errors: those of ContactGet.
func (s *Server) contactGet(ctx context.Context, id int64) (store.Contact, error) {
	ct, ok, gen := s.contacts.get(id)
	if ok {
		return ct, nil
	}
	ct, err := s.Store.ContactGetSignedIn(ctx, id)
	if err == nil {
		s.contacts.put(ct, gen)
	}
	return ct, err
}

// listenContacts keeps a dedicated connection LISTENing on contactChannel until ctx ends,
// reconnecting after a second when it drops (the cache is bypassed meanwhile).
func (s *Server) listenContacts(ctx context.Context) {
	for {
		err := s.listenContactsOnce(ctx)
		s.contacts.setLive(false)
		s.Store.SetWebhookGateLive(false)
		if ctx.Err() != nil {
			return
		}
		s.Log.Warn("contact cache listener lost; reading contacts from PostgreSQL until it is back", "dependency", "postgres", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// contactListenerName is the listener connection's application_name (pg_stat_activity).
const contactListenerName = "portico-contact-listener"

// contactPing is how long the listener waits for a notice before it pings its connection.
const contactPing = 15 * time.Second

func (s *Server) listenContactsOnce(ctx context.Context) error {
	cfg := s.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = contactListenerName
	connectCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+contactChannel); err != nil {
		return err
	}
	s.contacts.setLive(true)
	s.Store.SetWebhookGateLive(true)
	for {
		// A silent half-open connection would leave the cache serving stale entries: wait at
		// most contactPing for a notice, then prove the connection alive.
		waitCtx, cancel := context.WithTimeout(ctx, contactPing)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && n.Payload == "w":
			s.Store.WebhooksChanged() // migration 00026: the webhooks table changed
		case err == nil:
			s.contacts.invalidate(n.Payload)
		case errors.Is(err, context.DeadlineExceeded):
			pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
