package inbound

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"

	"portico/sql/store"
)

// StoredFlag is the IMAP keyword Portico sets on a mail once it is stored (when the inbox
// moves nothing): such mail is never fetched again, whoever reads the mailbox.
const StoredFlag imap.Flag = "PorticoStored"

// Opener opens sealed inbox secrets (providers.Sealer with its own HKDF key).
type Opener interface {
	Open(slug string, blob []byte) (map[string]string, error)
}

// SecretSlug is the additional data an inbox's sealed IMAP password is bound to.
func SecretSlug(inboxID int64) string { return "inbox:" + strconv.FormatInt(inboxID, 10) }

// Fetchers runs one IMAP fetcher per inbox with IMAP enabled. Exactly one instance fetches a
// mailbox at a time: a fetcher holds a lease in Redis (SET NX with a TTL, renewed while it
// runs, released on stop); the others wait and take over when it lapses. Each mail is stored
// (Acceptor) before it is flagged or moved, and storing is idempotent, so a crash between the
// two fetches it again and adds nothing twice.
type Fetchers struct {
	Store    *store.Store
	Acceptor *Acceptor
	Redis    redis.UniversalClient
	// Prefix is the Redis key prefix of the deployment.
	Prefix string
	Sealer Opener
	// Poll is how often a mailbox without IDLE is searched, and how often the inbox list is
	// re-read (0 = 1 min). LeaseTTL is the lease's lifetime (0 = 60 s).
	Poll, LeaseTTL time.Duration
	Log            *slog.Logger

	mu      sync.Mutex
	running map[int64]runningFetcher
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	id      string
}

type runningFetcher struct {
	cancel  context.CancelFunc
	version time.Time
}

// Start begins supervising the inboxes' fetchers until Stop.
func (f *Fetchers) Start(ctx context.Context) {
	if f.Poll <= 0 {
		f.Poll = time.Minute
	}
	if f.LeaseTTL <= 0 {
		f.LeaseTTL = 60 * time.Second
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	f.id = hex.EncodeToString(b[:])
	f.running = map[int64]runningFetcher{}
	ctx, f.cancel = context.WithCancel(ctx)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			f.reconcile(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.Poll):
			}
		}
	}()
}

// Stop ends every fetcher and releases their leases.
func (f *Fetchers) Stop() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
}

func (f *Fetchers) reconcile(ctx context.Context) {
	list, err := f.Store.InboxEmailList(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.Log.Warn("imap: cannot list inboxes", "err", err)
		}
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[int64]store.InboxEmail{}
	for _, e := range list {
		if e.IMAPEnabled && e.IMAPHost != "" {
			want[e.InboxID] = e
		}
	}
	for id, r := range f.running {
		if e, ok := want[id]; !ok || !e.UpdatedAt.Equal(r.version) {
			r.cancel()
			delete(f.running, id)
		}
	}
	for id, e := range want {
		if _, ok := f.running[id]; ok {
			continue
		}
		c, cancel := context.WithCancel(ctx)
		f.running[id] = runningFetcher{cancel: cancel, version: e.UpdatedAt}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.run(c, e)
		}()
	}
}

func (f *Fetchers) leaseKey(inboxID int64) string {
	return f.Prefix + "imap-lease:" + strconv.FormatInt(inboxID, 10)
}

// renewScript extends the lease only while this instance holds it; releaseScript drops it
// only then.
var (
	renewScript   = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
)

// run fetches one mailbox while it holds the lease, reconnecting after errors.
func (f *Fetchers) run(ctx context.Context, e store.InboxEmail) {
	key := f.leaseKey(e.InboxID)
	for ctx.Err() == nil {
		ok, err := f.Redis.SetNX(ctx, key, f.id, f.LeaseTTL).Result()
		if err != nil || !ok {
			wait(ctx, min(f.Poll, f.LeaseTTL/2))
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { // keep the lease while fetching; stop fetching the moment it is lost
			defer close(done)
			t := time.NewTicker(f.LeaseTTL / 3)
			defer t.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
					n, err := renewScript.Run(lctx, f.Redis, []string{key}, f.id, f.LeaseTTL.Milliseconds()).Int()
					if err != nil || n == 0 {
						f.Log.Warn("imap: lease lost", "inbox_id", e.InboxID, "err", err)
						cancel()
						return
					}
				}
			}
		}()
		err = f.session(lctx, e)
		cancel()
		<-done
		_ = releaseScript.Run(context.WithoutCancel(ctx), f.Redis, []string{key}, f.id).Err()
		if err != nil && ctx.Err() == nil {
			f.Log.Warn("imap: mailbox session ended", "inbox_id", e.InboxID, "host", e.IMAPHost, "err", err)
			wait(ctx, f.Poll)
		}
	}
}

func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Dial connects and logs in to an inbox's IMAP server with password, returning the client
// (the caller logs out). Errors carry the server's answer (imap.Error text) or the network error.
func Dial(ctx context.Context, e store.InboxEmail, password string, opts *imapclient.Options) (*imapclient.Client, error) {
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.Dialer = &net.Dialer{Timeout: 15 * time.Second}
	opts.TLSConfig = &tls.Config{ServerName: e.IMAPHost, MinVersion: tls.VersionTLS12}
	addr := net.JoinHostPort(e.IMAPHost, strconv.Itoa(e.IMAPPort))
	var c *imapclient.Client
	var err error
	switch e.IMAPSecurity {
	case "tls":
		c, err = imapclient.DialTLS(addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Login(e.IMAPUser, password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (f *Fetchers) password(e store.InboxEmail) (string, error) {
	if f.Sealer == nil || len(e.IMAPSecret) == 0 {
		return "", nil
	}
	m, err := f.Sealer.Open(SecretSlug(e.InboxID), e.IMAPSecret)
	if err != nil {
		return "", err
	}
	return m["password"], nil
}

// session connects, then stores new mail, waits (IDLE when offered, else Poll) and repeats
// until ctx ends or the connection fails.
func (f *Fetchers) session(ctx context.Context, e store.InboxEmail) error {
	pw, err := f.password(e)
	if err != nil {
		return err
	}
	notify := make(chan struct{}, 1)
	opts := &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case notify <- struct{}{}:
				default:
				}
			}
		},
	}}
	c, err := Dial(ctx, e, pw, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Select(e.IMAPFolder, nil).Wait(); err != nil {
		return fmt.Errorf("select %s: %w", e.IMAPFolder, err)
	}
	idle := c.Caps().Has(imap.CapIdle)
	for ctx.Err() == nil {
		if _, err := f.FetchNew(ctx, c, e); err != nil {
			return err
		}
		if !idle {
			wait(ctx, f.Poll)
			continue
		}
		cmd, err := c.Idle()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-notify:
		case <-time.After(f.Poll): // a missed notification costs at most one poll
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		if err := cmd.Wait(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// FetchNew stores every mail of the selected folder not yet marked stored, then marks it (moves
// it to IMAPMoveTo when set, else sets \Seen and StoredFlag). A mail over the size limit is
// flagged \Flagged and left in place, logged. It returns how many mails it stored.
func (f *Fetchers) FetchNew(ctx context.Context, c *imapclient.Client, e store.InboxEmail) (int, error) {
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted, StoredFlag}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	n := 0
	for _, uid := range data.AllUIDs() {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		set := imap.UIDSetNum(uid)
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return n, fmt.Errorf("fetch %d: %w", uid, err)
		}
		if len(msgs) == 0 {
			continue
		}
		if msgs[0].RFC822Size > f.Acceptor.maxBytes() {
			f.Log.Warn("imap: mail over the size limit left in the mailbox", "inbox_id", e.InboxID, "uid", uid, "bytes", msgs[0].RFC822Size)
			if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged, StoredFlag}}, nil).Close(); err != nil {
				return n, err
			}
			continue
		}
		raw := msgs[0].FindBodySection(section)
		m, dup, err := f.Acceptor.Accept(ctx, "imap", e.Address, e.InboxID, raw)
		if err != nil {
			return n, fmt.Errorf("store uid %d: %w", uid, err) // not marked: fetched again later
		}
		if e.IMAPMoveTo != "" {
			if _, err := c.Move(set, e.IMAPMoveTo).Wait(); err != nil {
				return n, fmt.Errorf("move uid %d: %w", uid, err)
			}
		} else if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, StoredFlag}}, nil).Close(); err != nil {
			return n, fmt.Errorf("flag uid %d: %w", uid, err)
		}
		if !dup {
			n++
		}
		f.Log.Info("imap: mail stored", "inbox_id", e.InboxID, "uid", uid, "inbound_id", m.ID, "duplicate", dup)
	}
	return n, nil
}

// TestIMAP connects to an inbox's mailbox as configured and reports what the server said: its
// capabilities, the login, and the folder's message count. The error is the server's own
// answer ("NO [AUTHENTICATIONFAILED] …") or the network error, for the admin to read.
func TestIMAP(ctx context.Context, e store.InboxEmail, password string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, e, password, nil)
	if err != nil {
		return "", err
	}
	defer c.Close()
	caps := make([]string, 0, len(c.Caps()))
	for cp := range c.Caps() {
		caps = append(caps, string(cp))
	}
	sel, err := c.Select(e.IMAPFolder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return "", err
	}
	_ = c.Logout().Wait()
	return fmt.Sprintf("OK: logged in as %s; %s holds %d messages; capabilities: %s", e.IMAPUser, e.IMAPFolder, sel.NumMessages,
		strings.Join(sortStrings(caps), " ")), nil
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
