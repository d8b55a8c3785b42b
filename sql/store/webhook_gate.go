package store

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
)

// webhookGate remembers which event types an enabled webhook subscribes to, so that a ticket
// change with nobody listening costs no query (the customer reply is a hot path, issue 18). It
// serves only while its owner says a change will be heard (SetWebhookGateLive: the server's
// PostgreSQL listener, told by migration 00026's trigger of every change to webhooks, whoever
// made it); otherwise — the CLI, jobs without a listener, a lost connection — every event asks
// PostgreSQL as before. A read that raced with a change is not kept (generation check). A stale
// "yes" costs one job that finds no subscriber; a stale "no" cannot outlive the notice.
type webhookGate struct {
	mu     sync.Mutex
	live   bool
	gen    uint64
	events map[string]bool // nil: not loaded
}

// SetWebhookGateLive tells the store whether changes to webhooks are being heard (true: the
// subscriber set may be kept in memory) and forgets what it kept.
func (s *Store) SetWebhookGateLive(live bool) {
	g := s.webhookGate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.live, g.events = live, nil
	g.gen++
}

// WebhooksChanged forgets the kept subscriber set (a webhook was created, changed or deleted:
// this instance at once, the others when the notice reaches them).
func (s *Store) WebhooksChanged() {
	g := s.webhookGate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = nil
	g.gen++
}

// webhookWanted reports whether an enabled webhook subscribes to event, from memory when the
// gate is live and loaded, else from PostgreSQL through q (the event's transaction).
func (s *Store) webhookWanted(ctx context.Context, q pgx.Tx, event string) (bool, error) {
	g := s.webhookGate
	g.mu.Lock()
	live, gen, events := g.live, g.gen, g.events
	g.mu.Unlock()
	if live && events != nil {
		return events[event], nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT unnest(events) FROM webhooks WHERE enabled`)
	if err != nil {
		return false, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, err
	}
	loaded := make(map[string]bool, len(names))
	for _, n := range names {
		loaded[n] = true
	}
	g.mu.Lock()
	if g.live && g.gen == gen {
		g.events = loaded
	}
	g.mu.Unlock()
	return loaded[event], nil
}
