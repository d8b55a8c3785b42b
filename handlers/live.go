package handlers

import (
	"bufio"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"portico/metrics"
	"portico/sql/store"
)

// Live fans ticket-change notices out to the ticket pages open on this instance. Notices travel
// over Redis pub/sub (channel <prefix>ticket:<id>), so a change made on any instance reaches a
// page streamed by any other. A notice carries no content: each page then fetches what changed
// through its own Viewer scope.
type Live struct {
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger

	mu    sync.Mutex
	subs  map[int64]map[chan struct{}]struct{}
	ready chan struct{}
	// done closes when the instance shuts down: open streams end so shutdown need not wait.
	done <-chan struct{}
}

// NewLive starts the instance's one pattern subscription; it stops when ctx ends. The returned
// Live is ready once Redis confirmed the subscription.
func NewLive(ctx context.Context, rdb redis.UniversalClient, prefix string, log *slog.Logger) *Live {
	l := &Live{rdb: rdb, prefix: prefix, log: log, subs: map[int64]map[chan struct{}]struct{}{}, ready: make(chan struct{}), done: ctx.Done()}
	ps := rdb.PSubscribe(ctx, prefix+"ticket:*")
	go func() {
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
			log.Error("live updates: subscribe", "err", err)
		}
		close(l.ready)
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return
				}
				id, err := strconv.ParseInt(strings.TrimPrefix(msg.Channel, prefix+"ticket:"), 10, 64)
				if err == nil {
					l.notify(id)
				}
			}
		}
	}()
	return l
}

// Ready is closed once the subscription is active (tests wait on it).
func (l *Live) Ready() <-chan struct{} { return l.ready }

// Publish tells every instance that ticket id changed (new message, stage, owner…).
func (l *Live) Publish(ctx context.Context, id int64) {
	if l == nil {
		return
	}
	if err := l.rdb.Publish(ctx, l.prefix+"ticket:"+strconv.FormatInt(id, 10), "changed").Err(); err != nil {
		l.log.Warn("live updates: publish", "ticket_id", id, "err", err)
	}
}

func (l *Live) notify(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // a notice is already pending for this page
		}
	}
}

func (l *Live) subscribe(id int64) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	if l.subs[id] == nil {
		l.subs[id] = map[chan struct{}]struct{}{}
	}
	l.subs[id][ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs[id], ch)
		if len(l.subs[id]) == 0 {
			delete(l.subs, id)
		}
		l.mu.Unlock()
	}
}

// streamLifetime ends each event stream before the server's write timeout; the browser
// reconnects, and every (re)connection starts with a "changed" event so nothing is missed.
const streamLifetime = 25 * time.Second

// TicketEvents streams server-sent events for an open ticket page (GET /tickets/:id/events):
// an event "changed" at once and after every change of the ticket, and a comment every 10 s.
// Outside the viewer's scope: 404 (nothing subscribed).
func (h *Handlers) TicketEvents(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	return h.ticketEvents(c, id, h.viewer(c, ""), nil)
}

// ticketEvents streams the events of ticket id to viewer v (TicketEvents); recheck, when set,
// is asked on every change too and ends the stream when it fails (a guest link revoked).
func (h *Handlers) ticketEvents(c *fiber.Ctx, id int64, v store.Viewer, recheck func(context.Context) error) error {
	if err := h.Store.TicketVisible(c.UserContext(), v, id); err != nil {
		return err
	}
	// The stream outlives the request's context; its checks get their own bounded ones.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), streamLifetime+5*time.Second)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	notices, unsubscribe := h.Live.subscribe(id)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		defer cancel()
		metrics.LiveStream(1)
		defer metrics.LiveStream(-1)
		send := func(s string) bool {
			if _, err := w.WriteString(s); err != nil {
				return false
			}
			return w.Flush() == nil
		}
		if !send("retry: 2000\nevent: changed\ndata: sync\n\n") {
			return
		}
		keepalive := time.NewTicker(10 * time.Second)
		defer keepalive.Stop()
		end := time.NewTimer(streamLifetime)
		defer end.Stop()
		for {
			select {
			case <-notices:
				// Scope is checked again on every change: a participant removed (or a ticket
				// filtered away) loses the stream at once, not at its next reconnect.
				if h.Store.TicketVisible(ctx, v, id) != nil || (recheck != nil && recheck(ctx) != nil) {
					return
				}
				if !send("event: changed\ndata: ticket\n\n") {
					return
				}
			case <-keepalive.C:
				if !send(": keepalive\n\n") {
					return
				}
			case <-end.C:
				return
			case <-h.Live.done:
				// This instance is shutting down: the browser reconnects at once, and the load
				// balancer sends it to an instance that stays.
				send("retry: 250\n\n")
				return
			}
		}
	})
	return nil
}

// TicketMessagesAfter returns what changed on a ticket page since the last message shown
// (GET /tickets/:id/messages?after=N&state=open|closed): the newer public messages to append,
// and out-of-band updates of the status, the last activity date and the marker of the last
// message shown; when the ticket's state is no longer the page's, also of the close button and
// the reply box.
func (h *Handlers) TicketMessagesAfter(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	return h.messagesAfter(c, id, h.portalSurface(c, id))
}

// messagesAfter is TicketMessagesAfter on a surface (the portal, or a guest link).
func (h *Handlers) messagesAfter(c *fiber.Ctx, id int64, surf ticketSurface) error {
	VaryHTMX(c)
	after, _ := strconv.ParseInt(c.Query("after"), 10, 64)
	ch, err := h.Store.TicketChangesForViewer(c.UserContext(), surf.Viewer, id, after)
	if err != nil {
		return err
	}
	if !IsHTMX(c) { // a plain request: the whole page holds the same
		return c.Redirect(surf.Base, fiber.StatusSeeOther)
	}
	p := h.newPage(c, "", nil)
	var tv *ticketView
	if surf.Guest != nil {
		tv = h.guestTicketView(c, p, ch)
	} else {
		tv = h.ticketView(c, p, ch)
	}
	// The page says which state it shows; when the ticket was closed or reopened since, its
	// actions and reply box are swapped too (otherwise the box is left alone: typing goes on).
	if state := c.Query("state"); state != "" && state != tv.State {
		tv.StateChanged, tv.Reply.OOB = true, true
	}
	tv.LastMessageID = after
	if n := len(ch.Messages); n > 0 {
		tv.LastMessageID = ch.Messages[n-1].ID
	}
	p.Data = tv
	return h.renderFragment(c, fiber.StatusOK, "tickets/changes", p)
}
