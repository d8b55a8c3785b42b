// Package server is Portico's process and HTTP plumbing: it wires the pools, the store, the
// session store and Fiber in order, holds the one route table, and runs and stops the server.
// It holds no business rules.
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/emersion/go-smtp"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/template/html/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// attachment stores
	_ "gocloud.dev/blob/s3blob"   // s3:// attachment stores

	"portico/auth"
	"portico/auth/providers"
	"portico/config"
	"portico/handlers"
	"portico/jobs"
	"portico/mail/inbound"
	"portico/metrics"
	"portico/partials"
	"portico/sql/migrations"
	"portico/sql/store"
	"portico/static"
)

// Server is one Portico instance.
type Server struct {
	Config   *config.Config
	App      *fiber.App
	Pool     *pgxpool.Pool
	Redis    redis.UniversalClient
	Store    *store.Store
	Settings *store.SettingsCache
	Sessions *auth.Sessions
	Handlers *handlers.Handlers
	Log      *slog.Logger
	// ownsPools is true when New opened the pools (and Close must close them).
	ownsPools bool
	// stopLive ends the live-updates subscription.
	stopLive context.CancelFunc
	// stopSettingsSub ends the settings pub/sub subscriber.
	stopSettingsSub context.CancelFunc
	// contacts caches signed-in contacts, kept coherent by LISTEN (contactcache.go);
	// stopContacts ends its listener.
	contacts     contactCache
	stopContacts func()
	// stopProvidersSub ends the identity-provider pub/sub subscriber (server/providers.go).
	stopProvidersSub context.CancelFunc
	// uploads are the streamed-upload routes (route rule streamedUpload, see routes.go).
	uploads uploadRoutes
	// settingsChannel is the Redis pub/sub channel that announces settings changes.
	settingsChannel string
	// Jobs is the background job queue (outbound mail); StartJobs starts its workers.
	Jobs        *jobs.Queue
	jobsStarted bool
	// Metrics is this instance's Prometheus registry (served on PORTICO_METRICS_ADDR).
	Metrics    *prometheus.Registry
	metricsSrv *http.Server
	// draining is set when a graceful shutdown begins: /readyz answers 503 from then on.
	draining atomic.Bool
	// MailTokens signs and checks the reply addresses of email tickets (issue 13).
	MailTokens *inbound.Tokens
	// mailSealer seals inboxes' IMAP passwords (its own HKDF key, MailSealerInfo).
	mailSealer *providers.Sealer
	// mailServers are the running LMTP/SMTP receivers, fetchers the IMAP fetchers (StartMail).
	mailServers []*smtp.Server
	fetchers    *inbound.Fetchers
	redisPrefix string
	// tracer traces HTTP, SQL and Redis when tracing is on (nil: off); stopTracing flushes and
	// stops the provider New made.
	tracer      trace.TracerProvider
	stopTracing func(context.Context) error
	// ownsRedis is true when New opened the Redis client.
	ownsRedis bool
	// migrationsOK is when /readyz last found the schema current (unix ns; 0 never).
	migrationsOK atomic.Int64
}

// DefaultRedisPrefix starts every Redis key of a deployment (sessions, limits, channels) unless
// Options.RedisPrefix names another; command-line tools that touch sessions use it too.
const DefaultRedisPrefix = "portico:"

// Options tune New for tests: existing pools to reuse and a Redis key prefix.
type Options struct {
	Pool        *pgxpool.Pool
	Redis       redis.UniversalClient
	RedisPrefix string // default DefaultRedisPrefix
	Logger      *slog.Logger
	SettingsTTL time.Duration
	// JobPollInterval is how often idle job workers poll (0 = 1 s); tests shorten it.
	JobPollInterval time.Duration
	// SSOInsecureURLs lets identity providers use http URLs on loopback hosts (in-process test
	// IdPs); SSOHTTPClient replaces their HTTP client.
	SSOInsecureURLs bool
	SSOHTTPClient   *http.Client
	// TracerProvider, when set, traces HTTP, SQL and Redis into it (tests: an in-memory span
	// recorder); else tracing follows cfg.OTLPEndpoint (off when empty). SQL spans need a pool
	// New opens (Pool nil).
	TracerProvider trace.TracerProvider
}

// NewLogger returns the process logger: JSON in production, text in development, to stderr.
func NewLogger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// OpenRedis connects to Redis at url with config.DefaultRedisTimeout and pings it.
func OpenRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	return OpenRedisTimeout(ctx, url, config.DefaultRedisTimeout)
}

// OpenRedisTimeout connects to Redis at url (RedisOptions) and pings it. The client is a
// UniversalClient so that a Sentinel or Cluster URL can replace a single node later.
func OpenRedisTimeout(ctx context.Context, url string, timeout time.Duration) (redis.UniversalClient, error) {
	opt, err := RedisOptions(url, timeout)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", opt.Addr, err)
	}
	return rdb, nil
}

// RedisOptions parses url (REDIS_URL) into client options under which every call has a
// deadline (issue 11): dialling, reading, writing and waiting for a pooled connection each take
// at most timeout (PORTICO_REDIS_TIMEOUT), a context deadline shortens them further, and a
// failed call or dial is retried at most once, so a frozen Redis costs a request at most about
// twice the timeout, never a hang.
func RedisOptions(url string, timeout time.Duration) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = config.DefaultRedisTimeout
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries, opt.DialerRetries = 1, 1
	return opt, nil
}

// ChannelPrefix returns the prefix of a deployment's pub/sub channels: its key prefix and its
// Redis database number ("portico:db2:"). Redis pub/sub ignores database numbers (a message
// published on any database reaches subscribers on all of them), so the number is part of the
// name: two deployments sharing one Redis server, told apart by database or by prefix, never
// hear each other's live updates or settings and provider notices (issue 11).
func ChannelPrefix(rdb redis.UniversalClient, keyPrefix string) string {
	db := 0
	if c, ok := rdb.(*redis.Client); ok {
		db = c.Options().DB
	}
	return keyPrefix + "db" + strconv.Itoa(db) + ":"
}

// New wires an instance: pools (opened unless given), migrations, templates (checked now: a
// broken template fails the boot, not a request), the catalogue, and the Fiber app with its
// middleware and routes. Errors name the failing part.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Server, error) {
	s := &Server{Config: cfg, Pool: opt.Pool, Redis: opt.Redis, Log: opt.Logger}
	if s.Log == nil {
		s.Log = NewLogger(cfg)
	}
	s.Log = requestScoped(s.Log)
	var err error
	s.tracer = opt.TracerProvider
	if s.tracer == nil && cfg.OTLPEndpoint != "" {
		tp, err := newTracerProvider(ctx, cfg.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		s.tracer, s.stopTracing = tp, tp.Shutdown
	}
	if s.Pool == nil {
		pcfg, err := store.PoolConfig(cfg.DatabaseURL, cfg.DBTimeout)
		if err != nil {
			s.Close()
			return nil, err
		}
		if s.tracer != nil {
			tracePool(pcfg, s.tracer)
		}
		if s.Pool, err = store.OpenConfig(ctx, pcfg, cfg.DBTimeout); err != nil {
			s.Close()
			return nil, err
		}
		s.ownsPools = true
	}
	if s.Redis == nil {
		if s.Redis, err = OpenRedisTimeout(ctx, cfg.RedisURL, cfg.RedisTimeout); err != nil {
			s.Close()
			return nil, err
		}
		s.ownsRedis = true
	}
	if s.tracer != nil {
		if err := traceRedis(s.Redis, s.tracer); err != nil {
			s.Close()
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	s.Redis.AddHook(redisErrorHook{}) // failed calls name Redis in the log and the metrics
	if applied, err := migrations.Apply(ctx, s.Pool); err != nil {
		s.Close()
		return nil, err
	} else if len(applied) > 0 {
		s.Log.Info("migrations applied", "files", applied)
	}
	prefix := opt.RedisPrefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	s.redisPrefix = prefix
	s.Store = store.New(s.Pool)
	s.contacts.m = map[int64]store.Contact{}
	contactsCtx, stopContacts := context.WithCancel(context.Background())
	contactsDone := make(chan struct{})
	s.stopContacts = func() { stopContacts(); <-contactsDone }
	go func() { defer close(contactsDone); s.listenContacts(contactsCtx) }()
	s.Metrics = metrics.NewRegistry(metrics.PostgresPool(s.Pool), metrics.RedisPool(s.Redis), metrics.Jobs(s.Pool, ReadyTimeout))
	if s.Store.Blobs, err = blob.OpenBucket(ctx, cfg.BlobURL); err != nil {
		s.Close()
		return nil, fmt.Errorf("PORTICO_BLOB_URL: %w", err)
	}
	s.Settings = store.NewSettingsCache(s.Store, opt.SettingsTTL)
	s.Settings.Log, s.Settings.Timeout = s.Log, cfg.DBTimeout
	s.Sessions = auth.NewSessions(s.Redis, prefix, cfg.SessionLifetime)
	cat, err := handlers.NewCatalogue()
	if err != nil {
		s.Close()
		return nil, err
	}
	versions, err := static.Versions()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Handlers = &handlers.Handlers{Config: cfg, Store: s.Store, Sessions: s.Sessions, Catalogue: cat, Log: s.Log,
		Guests: auth.NewGuestSessions(s.Redis, prefix),
		Assets: func(name string) string { return "/static/" + name + "?v=" + versions[name] }, APIAuthenticate: s.apiAuthenticate,
		APITokenRevoked: func(id int64) { s.contacts.invalidate("t" + strconv.FormatInt(id, 10)) }}
	liveCtx, stopLive := context.WithCancel(context.Background())
	s.stopLive = stopLive
	channels := ChannelPrefix(s.Redis, prefix)
	s.Handlers.Live = handlers.NewLive(liveCtx, s.Redis, channels, s.Log)
	s.settingsChannel = channels + "settings-changed"
	s.Handlers.SettingsChanged = s.publishSettingsChanged
	if err := s.wireAccounts(ctx, cat, prefix, opt); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.subscribeSettings(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.wireProviders(ctx, prefix, opt); err != nil {
		s.Close()
		return nil, err
	}
	engine := html.NewFileSystem(http.FS(partials.FS), ".html")
	engine.AddFunc("ssoButtons", s.Handlers.SSO.Buttons)
	views := handlers.NewViews(engine)
	if err := views.Load(); err != nil {
		s.Close()
		return nil, fmt.Errorf("templates: %w", err)
	}
	if err := partials.Check(engine.Templates); err != nil { // a missing partial fails the boot
		s.Close()
		return nil, err
	}
	s.App = fiber.New(fiber.Config{
		Views:        views,
		ErrorHandler: errorHandler(s.Handlers, s.Log),
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		BodyLimit:    cfg.BodyLimit,
		// Request line and headers up to 8 KiB (fasthttp's default 4 KiB answered a long
		// search link with a bare 431 before any handler could give a page). Not 16 KiB: a
		// newcomer trial saw signed-in staff links of 8–16 KiB wait out the 15 s read timeout
		// (408), a stall not yet explained; past 8 KiB fasthttp answers 431 at once.
		ReadBufferSize: 8 << 10,
		// Uploads stream straight into the blob store: bodies over BodyLimit reach the handler
		// as a stream (only multipart uploads may be that large, see bodyGuard).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		Immutable:                    true,
		DisableStartupMessage:        true,
		EnableTrustedProxyCheck:      true,
		TrustedProxies:               cfg.TrustedProxies,
		ProxyHeader:                  proxyHeader(cfg),
		AppName:                      "Portico",
	})
	s.routes()
	return s, nil
}

func proxyHeader(cfg *config.Config) string {
	if len(cfg.TrustedProxies) > 0 {
		return fiber.HeaderXForwardedFor
	}
	return ""
}

// Run serves on cfg.Addr until ctx is cancelled (SIGTERM or Ctrl-C), then drains: see Serve.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Config.Addr)
	if err != nil {
		return fmt.Errorf("PORTICO_ADDR: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve starts the job workers, the mail receivers and the metrics listener, serves HTTP on ln until ctx is
// cancelled, then shuts down gracefully within cfg.ShutdownDelay + 2 × cfg.ShutdownTimeout
// (Shutdown) and returns nil, or the listener's error if serving failed first.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stopWorkers := func() {
		s.StopMail(s.Config.ShutdownTimeout)
		s.StopJobs(s.Config.ShutdownTimeout)
	}
	if err := s.StartJobs(ctx); err != nil {
		ln.Close()
		return err
	}
	if err := s.StartMail(ctx); err != nil {
		ln.Close()
		stopWorkers()
		return err
	}
	if err := s.startMetrics(); err != nil {
		ln.Close()
		stopWorkers()
		return fmt.Errorf("PORTICO_METRICS_ADDR: %w", err)
	}
	defer s.stopMetrics(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.App.Listener(ln) }()
	select {
	case err := <-errc:
		stopWorkers()
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "delay", s.Config.ShutdownDelay.String(), "timeout", s.Config.ShutdownTimeout.String())
	err := s.Shutdown(s.Config.ShutdownTimeout)
	if lerr := <-errc; lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	return err
}

// Shutdown drains the instance for a rolling restart (issue 11):
//  1. /readyz answers 503 "draining" at once, and for cfg.ShutdownDelay the instance keeps
//     serving, so the load balancer's health check takes it out before its port closes;
//  2. the live-update streams end with a short retry hint (the browser reconnects, through the
//     load balancer, to an instance that stays);
//  3. the listener closes (new connections are refused: a load balancer retries them
//     elsewhere), and the requests in progress get up to timeout to finish;
//  4. the mail receivers stop (StopMail); the job workers stop taking jobs; running ones get up to timeout to finish, then are
//     cancelled and left to River to retry on any instance (River's StopAndCancel).
//
// It returns the HTTP server's error when requests were still running at the deadline.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.draining.Store(true)
	if d := s.Config.ShutdownDelay; d > 0 {
		time.Sleep(d)
	}
	if s.stopLive != nil {
		s.stopLive()
	}
	err := s.App.ShutdownWithTimeout(timeout)
	s.StopMail(timeout)
	s.StopJobs(timeout)
	return err
}

// Draining reports whether Shutdown has begun (the instance answers /readyz with 503).
func (s *Server) Draining() bool { return s.draining.Load() }

// Close stops the settings subscriber, releases the pools New opened and flushes the traces.
func (s *Server) Close() {
	s.StopMail(5 * time.Second)
	s.StopJobs(5 * time.Second)
	if s.stopSettingsSub != nil {
		s.stopSettingsSub()
	}
	if s.stopContacts != nil {
		s.stopContacts() // waits for the listener's connection to close
		s.stopContacts = nil
	}
	if s.stopProvidersSub != nil {
		s.stopProvidersSub()
	}
	if s.stopLive != nil {
		s.stopLive()
	}
	if s.Store != nil && s.Store.Blobs != nil {
		_ = s.Store.Blobs.Close()
	}
	if s.ownsRedis && s.Redis != nil {
		s.Redis.Close()
	}
	if s.ownsPools && s.Pool != nil {
		s.Pool.Close()
	}
	if s.stopTracing != nil { // flush the spans still buffered
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.stopTracing(ctx)
	}
}

// subscribeSettings subscribes to the settings channel (confirmed before it returns, so no
// change published afterwards is missed) and invalidates this instance's SettingsCache on every
// message, until Close. go-redis re-subscribes by itself after a dropped connection.
func (s *Server) subscribeSettings(ctx context.Context) error {
	ps := s.Redis.Subscribe(ctx, s.settingsChannel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return fmt.Errorf("subscribe to %s: %w", s.settingsChannel, err)
	}
	subCtx, cancel := context.WithCancel(context.Background())
	s.stopSettingsSub = func() { cancel(); ps.Close() }
	go func() {
		for {
			msg, err := ps.Receive(subCtx)
			if err != nil {
				if subCtx.Err() != nil || errors.Is(err, redis.ErrClosed) {
					return
				}
				s.Settings.Invalidate() // a gap may have hidden a change
				select {
				case <-subCtx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			if _, ok := msg.(*redis.Message); ok {
				s.Settings.Invalidate()
			}
		}
	}()
	return nil
}

// publishSettingsChanged invalidates this instance's settings cache and tells every other
// instance to do the same.
func (s *Server) publishSettingsChanged(ctx context.Context) error {
	s.Settings.Invalidate()
	return s.Redis.Publish(ctx, s.settingsChannel, "1").Err()
}

// wireProviders builds the identity-provider registry (issue 5) from the identity_providers
// table, loads it, and subscribes to the providers channel so that every instance reloads it
// when an admin changes a provider. A provider that fails to build is logged and left out;
// a SAML provider without an SP key gets one now (generated at first use, then stored).
func (s *Server) wireProviders(ctx context.Context, prefix string, opt Options) error {
	sealer, err := providers.NewSealer(s.Config.SecretKey)
	if err != nil {
		return err
	}
	deps := providers.Deps{BaseURL: s.Config.BaseURL, Flows: auth.NewFlows(s.Redis, prefix), Sealer: sealer,
		HTTPClient: opt.SSOHTTPClient, Log: s.Log, AllowInsecureURLs: opt.SSOInsecureURLs}
	load := func(ctx context.Context) ([]auth.Provider, error) {
		rows, err := s.Store.IdentityProviderList(ctx)
		if err != nil {
			return nil, err
		}
		var out []auth.Provider
		for _, row := range rows {
			var changed bool
			if err := handlers.EditProviderConfig(&row, func(cfg *providers.Config) (err error) {
				changed, err = providers.EnsureSPKey(cfg, sealer, false)
				return err
			}); err != nil {
				s.Log.Error("identity provider unusable", "provider", row.Slug, "err", err)
				continue
			} else if changed {
				if err := s.Store.IdentityProviderUpdate(ctx, store.SystemEditor, row); err != nil {
					s.Log.Error("identity provider: storing SP key", "provider", row.Slug, "err", err)
					continue
				}
			}
			p, err := providers.Build(handlers.ProviderConfig(row), deps)
			if err != nil {
				s.Log.Error("identity provider unusable", "provider", row.Slug, "err", err)
				continue
			}
			out = append(out, p)
		}
		return out, nil
	}
	reg := auth.NewRegistry(load, s.Log)
	if err := reg.Reload(ctx); err != nil {
		return fmt.Errorf("identity providers: %w", err)
	}
	s.Handlers.SSO, s.Handlers.SSODeps = reg, deps
	channel := ChannelPrefix(s.Redis, prefix) + "providers-changed"
	ps := s.Redis.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	subCtx, cancel := context.WithCancel(context.Background())
	s.stopProvidersSub = func() { cancel(); ps.Close() }
	go func() {
		for {
			msg, err := ps.Receive(subCtx)
			if err != nil {
				if subCtx.Err() != nil || errors.Is(err, redis.ErrClosed) {
					return
				}
				select {
				case <-subCtx.Done():
					return
				case <-time.After(time.Second):
				}
				msg = &redis.Message{} // a gap may have hidden a change
			}
			if _, ok := msg.(*redis.Message); ok {
				if err := reg.Reload(subCtx); err != nil && subCtx.Err() == nil {
					s.Log.Error("identity providers reload", "err", err)
				}
			}
		}
	}()
	s.Handlers.ProvidersChanged = func(ctx context.Context) error {
		if err := reg.Reload(ctx); err != nil {
			return err
		}
		return s.Redis.Publish(ctx, channel, "1").Err()
	}
	return nil
}
