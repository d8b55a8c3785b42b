// Package config holds Portico's whole configuration: one struct read from the environment,
// defaulted in one place and validated at start. Nothing else in Portico reads os.Getenv.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Environments Portico knows.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the process configuration. Build it with Load; pass it explicitly.
type Config struct {
	// Env is "development" (default) or "production" (PORTICO_ENV).
	Env string
	// Addr is the listen address, default ":3000" (PORTICO_ADDR).
	Addr string
	// BaseURL is the public URL of the portal, e.g. "https://support.example.com" (PORTICO_BASE_URL).
	// When it is https, cookies get Secure and the __Host- prefix and HSTS is sent.
	BaseURL string
	// DatabaseURL is the PostgreSQL connection string (DATABASE_URL).
	DatabaseURL string
	// RedisURL is the Redis connection string (REDIS_URL).
	RedisURL string
	// SecretKey is 32 random bytes (PORTICO_SECRET_KEY, 64 hex characters). Secret.
	SecretKey []byte
	// SecretKeySource tells where SecretKey came from: "env", "file:<path>" or "generated:<path>".
	SecretKeySource string
	// TrustedProxies are the IPs or CIDRs whose forwarded headers are believed (PORTICO_TRUSTED_PROXIES,
	// comma-separated). Empty: forwarded headers are ignored.
	TrustedProxies []string
	// ReadTimeout, WriteTimeout, IdleTimeout are the HTTP server timeouts.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// BodyLimit is the largest request body read into memory, in bytes (1 MiB); larger bodies
	// are accepted only as streamed multipart uploads, limited by the attachment settings.
	BodyLimit int
	// SessionLifetime is the absolute session lifetime (PORTICO_SESSION_LIFETIME, default 12h).
	SessionLifetime time.Duration
	// Warnings are configuration choices that work but weaken security, logged at start.
	Warnings []string
	// LogLevel is debug, info, warn or error (PORTICO_LOG_LEVEL, default info).
	LogLevel string
	// MetricsAddr is the listen address of the Prometheus metrics endpoint /metrics
	// (PORTICO_METRICS_ADDR, e.g. "127.0.0.1:9100"); empty (the default) serves no metrics. It
	// is a listener of its own, never the public one: keep it on a private network.
	MetricsAddr string
	// OTLPEndpoint turns on OpenTelemetry tracing: spans for HTTP requests, SQL and Redis calls
	// are exported over OTLP/HTTP to this URL, e.g. "http://otel-collector:4318"
	// (OTEL_EXPORTER_OTLP_ENDPOINT, the standard variable; the exporter also honours the other
	// standard OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME variables). Empty (the default): off.
	OTLPEndpoint string
	// ShutdownTimeout bounds a graceful stop (SIGTERM): in-flight requests get this long to
	// finish, then running jobs the same again before they are cancelled and left to another
	// instance (PORTICO_SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long a stopping instance keeps serving while /readyz already answers
	// 503, so that the load balancer stops sending it requests before its listener closes
	// (PORTICO_SHUTDOWN_DELAY, default 5s in production, 0 in development).
	ShutdownDelay time.Duration
	// BlobURL is the attachment store, a gocloud.dev/blob URL (PORTICO_BLOB_URL): file:///dir
	// (default ./data/blobs) or s3://bucket?region=….
	BlobURL string
	// SMTPURL is the outbound mail server (PORTICO_SMTP_URL): smtp://[user:pass@]host:port uses
	// STARTTLS when offered (?starttls=require insists on it), smtps:// is implicit TLS. Empty in
	// development: mail is written to the log; empty in production: mail waits in the queue
	// (retried, never logged) until it is set. Secret (may hold a password).
	SMTPURL string
	// MailFrom is the sender address of outbound mail (PORTICO_MAIL_FROM, default
	// "Portico <portico@HOST>" with the host of BaseURL).
	MailFrom string
	// MailRetryBase scales the mail retry backoff: attempt n waits MailRetryBase × n⁴, at most
	// 6 h (PORTICO_MAIL_RETRY_BASE, default 1s: 1 s, 16 s, 81 s, 4 min, …).
	MailRetryBase time.Duration
	// DBTimeout is the deadline of one request's PostgreSQL work and of opening a connection
	// (PORTICO_DB_TIMEOUT, default 5s): a frozen database answers 503 within it. A request's
	// whole dependency budget is DBTimeout + 2 × RedisTimeout.
	DBTimeout time.Duration
	// RedisTimeout is the deadline of each Redis call: dial, read, write and the wait for a
	// pooled connection (PORTICO_REDIS_TIMEOUT, default 1s).
	RedisTimeout time.Duration
	// MailListen is where `portico serve` receives inbound mail from the site's MTA
	// (PORTICO_MAIL_LISTEN, "" = off): lmtp://host:port for LMTP, smtp://host:port (or a bare
	// host:port) for SMTP.
	MailListen string
	// MailMaxBytes is the largest inbound mail accepted (PORTICO_MAIL_MAX_BYTES, default 25 MiB);
	// a larger one is refused with 552 by the receiver and by `portico mail-in`.
	MailMaxBytes int64
	// IMAPPoll is how often a mailbox without IDLE is polled (PORTICO_IMAP_POLL, default 1m).
	IMAPPoll time.Duration
}

// Defaults used when a variable is unset.
const (
	DefaultAddr            = ":3000"
	DefaultDatabaseURL     = "postgres://postgres@127.0.0.1:5432/portico?sslmode=disable"
	DefaultRedisURL        = "redis://127.0.0.1:6379/0"
	DefaultSessionLifetime = 12 * time.Hour
	// DevSecretFile is where development keeps its generated secret key (git-ignored).
	DevSecretFile = ".portico-secret"
)

// Getenv reads one variable; tests replace it to avoid touching the process environment.
type Getenv func(string) string

// Load reads the configuration from the process environment and validates it.
// It returns an error whose message is one line naming the offending variable.
func Load() (*Config, error) { return LoadFrom(os.Getenv) }

// LoadFrom is Load with an explicit variable source. In development, a missing
// PORTICO_SECRET_KEY is generated once and kept in DevSecretFile (in the working directory).
//
// Every variable in the options table is read the same way (see lookup): the variable itself,
// else the file its NAME_FILE variant names, else the default; then the option's set function
// parses and checks it. Options run in table order, so a default may build on an earlier one
// (PORTICO_BASE_URL on PORTICO_ADDR). Errors: one line naming the variable.
func LoadFrom(getenv Getenv) (*Config, error) {
	c := &Config{
		ReadTimeout:     15 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     120 * time.Second,
		BodyLimit:       1 << 20,
		SessionLifetime: DefaultSessionLifetime,
		MailRetryBase:   time.Second,
		MailMaxBytes:    25 << 20,
		IMAPPoll:        time.Minute,
		DBTimeout:       DefaultDBTimeout,
		RedisTimeout:    DefaultRedisTimeout,
	}
	for _, o := range options {
		v, err := lookup(getenv, o.name)
		if err != nil {
			return nil, err
		}
		if v == "" && o.def != nil {
			v = o.def(c)
		}
		if err := o.set(c, v); err != nil {
			return nil, err
		}
	}
	if c.Env == EnvProduction && !strings.HasPrefix(c.BaseURL, "https://") {
		c.Warnings = append(c.Warnings, "PORTICO_BASE_URL is not https: session cookies go without Secure and the __Host- prefix, and no HSTS is sent; serve Portico behind TLS and set an https:// base URL")
	}
	return c, nil
}

// lookup returns the trimmed value of variable name, else the trimmed content of the file that
// name_FILE names (for secrets and URLs with credentials), else "". A name_FILE that cannot be
// read is an error naming it: a missing DATABASE_URL_FILE must not quietly fall back to the
// local default database.
func lookup(getenv Getenv, name string) (string, error) {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v, nil
	}
	p := strings.TrimSpace(getenv(name + "_FILE"))
	if p == "" {
		return "", nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: cannot read %s: %v", name, p, errors.Unwrap(err))
	}
	return strings.TrimSpace(string(b)), nil
}

// option is one environment variable: its name, its default (nil: none, the empty string) and
// the function that parses, checks and stores a value (possibly empty) in the Config.
type option struct {
	name string
	def  func(*Config) string
	set  func(c *Config, v string) error
}

// value returns a default function for a constant.
func value(s string) func(*Config) string { return func(*Config) string { return s } }

// options is the whole configuration surface, in the order the values are read.
var options = []option{
	{"PORTICO_ENV", value(EnvDevelopment), func(c *Config, v string) error {
		if v != EnvDevelopment && v != EnvProduction {
			return fmt.Errorf("PORTICO_ENV must be %q or %q, got %q", EnvDevelopment, EnvProduction, v)
		}
		c.Env = v
		return nil
	}},
	{"PORTICO_ADDR", value(DefaultAddr), func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("PORTICO_ADDR must be host:port or :port, got %q", v)
		}
		c.Addr = v
		return nil
	}},
	{"PORTICO_BASE_URL", func(c *Config) string {
		host := c.Addr
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		return "http://" + host
	}, func(c *Config, v string) error {
		v = strings.TrimRight(v, "/")
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("PORTICO_BASE_URL must be an absolute http(s) URL, got %q", v)
		}
		c.BaseURL = v
		return nil
	}},
	{"DATABASE_URL", value(DefaultDatabaseURL), func(c *Config, v string) error {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return errors.New("DATABASE_URL must be a postgres:// URL")
		}
		c.DatabaseURL = v
		return nil
	}},
	{"REDIS_URL", value(DefaultRedisURL), func(c *Config, v string) error {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return errors.New("REDIS_URL must be a redis://, rediss:// or unix:// URL")
		}
		c.RedisURL = v
		return nil
	}},
	{"PORTICO_SESSION_LIFETIME", nil, func(c *Config, v string) error {
		return duration(&c.SessionLifetime, "PORTICO_SESSION_LIFETIME", v, 5*time.Minute, 90*24*time.Hour, "5m", "2160h")
	}},
	{"PORTICO_BLOB_URL", nil, func(c *Config, v string) error {
		if v == "" {
			abs, err := filepath.Abs(filepath.Join("data", "blobs"))
			if err != nil {
				return fmt.Errorf("PORTICO_BLOB_URL: %v", err)
			}
			v = "file://" + filepath.ToSlash(abs) + "?create_dir=1&no_tmp_dir=1"
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "file" && u.Scheme != "s3" && u.Scheme != "mem") {
			return errors.New("PORTICO_BLOB_URL must be a file:///dir or s3://bucket URL")
		}
		c.BlobURL = v
		return nil
	}},
	{"PORTICO_LOG_LEVEL", value("info"), func(c *Config, v string) error {
		switch v = strings.ToLower(v); v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("PORTICO_LOG_LEVEL must be debug, info, warn or error, got %q", v)
	}},
	{"PORTICO_METRICS_ADDR", nil, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("PORTICO_METRICS_ADDR must be host:port or :port, got %q", v)
		}
		if v == c.Addr {
			return fmt.Errorf("PORTICO_METRICS_ADDR must differ from PORTICO_ADDR (%q)", c.Addr)
		}
		c.MetricsAddr = v
		return nil
	}},
	{"PORTICO_TRUSTED_PROXIES", nil, func(c *Config, v string) error {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if net.ParseIP(p) == nil {
				if _, _, err := net.ParseCIDR(p); err != nil {
					return fmt.Errorf("PORTICO_TRUSTED_PROXIES: %q is neither an IP nor a CIDR", p)
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
		return nil
	}},
	{"PORTICO_SECRET_KEY", nil, (*Config).setSecretKey},
	{"PORTICO_SMTP_URL", nil, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("PORTICO_SMTP_URL must be smtp://[user:pass@]host:port or smtps://…")
		}
		if st := u.Query().Get("starttls"); st != "" && st != "require" && st != "opportunistic" && st != "none" {
			return fmt.Errorf("PORTICO_SMTP_URL: starttls must be require, opportunistic or none, got %q", st)
		}
		c.SMTPURL = v
		return nil
	}},
	{"PORTICO_MAIL_FROM", func(c *Config) string {
		host := "localhost"
		if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" && strings.Contains(u.Hostname(), ".") {
			host = u.Hostname()
		}
		return "Portico <portico@" + host + ">"
	}, func(c *Config, v string) error {
		if _, err := mail.ParseAddress(v); err != nil {
			return fmt.Errorf("PORTICO_MAIL_FROM must be an address such as Support <support@example.com>, got %q", v)
		}
		c.MailFrom = v
		return nil
	}},
	{"PORTICO_MAIL_RETRY_BASE", nil, func(c *Config, v string) error {
		return duration(&c.MailRetryBase, "PORTICO_MAIL_RETRY_BASE", v, time.Millisecond, time.Hour, "1ms", "1h")
	}},
	{"PORTICO_MAIL_LISTEN", nil, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		hp := v
		if scheme, rest, ok := strings.Cut(v, "://"); ok {
			if scheme != "lmtp" && scheme != "smtp" {
				return fmt.Errorf("PORTICO_MAIL_LISTEN must be lmtp://host:port or smtp://host:port, got %q", v)
			}
			hp = rest
		} else {
			v = "smtp://" + v
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return fmt.Errorf("PORTICO_MAIL_LISTEN must be lmtp://host:port or smtp://host:port, got %q", v)
		}
		c.MailListen = v
		return nil
	}},
	{"PORTICO_MAIL_MAX_BYTES", nil, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 64<<10 || n > 1<<30 {
			return fmt.Errorf("PORTICO_MAIL_MAX_BYTES must be a number of bytes between 65536 and 1073741824, got %q", v)
		}
		c.MailMaxBytes = n
		return nil
	}},
	{"PORTICO_IMAP_POLL", nil, func(c *Config, v string) error {
		return duration(&c.IMAPPoll, "PORTICO_IMAP_POLL", v, time.Second, time.Hour, "1s", "1h")
	}},
	{"PORTICO_DB_TIMEOUT", nil, func(c *Config, v string) error {
		return duration(&c.DBTimeout, "PORTICO_DB_TIMEOUT", v, 100*time.Millisecond, time.Minute, "100ms", "1m")
	}},
	{"PORTICO_REDIS_TIMEOUT", nil, func(c *Config, v string) error {
		return duration(&c.RedisTimeout, "PORTICO_REDIS_TIMEOUT", v, 100*time.Millisecond, time.Minute, "100ms", "1m")
	}},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", nil, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://collector:4318, got %q", v)
		}
		c.OTLPEndpoint = v
		return nil
	}},
	{"PORTICO_SHUTDOWN_TIMEOUT", value("20s"), func(c *Config, v string) error {
		return duration(&c.ShutdownTimeout, "PORTICO_SHUTDOWN_TIMEOUT", v, time.Second, 10*time.Minute, "1s", "10m")
	}},
	{"PORTICO_SHUTDOWN_DELAY", func(c *Config) string {
		if c.Production() {
			return "5s"
		}
		return "0s"
	}, func(c *Config, v string) error {
		return duration(&c.ShutdownDelay, "PORTICO_SHUTDOWN_DELAY", v, 0, 5*time.Minute, "0s", "5m")
	}},
}

// duration parses v into *dst when v is set, within [lo, hi] (spelled loS and hiS in the
// message); an empty v keeps the default already in *dst.
func duration(dst *time.Duration, name, v string, lo, hi time.Duration, loS, hiS string) error {
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return fmt.Errorf("%s must be a duration between %s and %s, got %q", name, loS, hiS, v)
	}
	*dst = d
	return nil
}

// setSecretKey takes PORTICO_SECRET_KEY; without one it refuses production and, in
// development, keeps a generated key in DevSecretFile.
func (c *Config) setSecretKey(v string) error {
	switch {
	case v != "":
		b, err := ParseSecretKey(v)
		if err != nil {
			return err
		}
		c.SecretKey, c.SecretKeySource = b, "env"
	case c.Env == EnvProduction:
		return errors.New("PORTICO_SECRET_KEY is required in production (run `portico secret` to make one)")
	default:
		b, src, err := devSecret(DevSecretFile)
		if err != nil {
			return fmt.Errorf("PORTICO_SECRET_KEY: cannot keep a development key in %s: %v", DevSecretFile, err)
		}
		c.SecretKey, c.SecretKeySource = b, src
	}
	return nil
}

// ParseSecretKey decodes a PORTICO_SECRET_KEY value: exactly 64 hex characters (32 bytes).
func ParseSecretKey(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("PORTICO_SECRET_KEY must be 64 hex characters (32 random bytes; `portico secret` prints one)")
	}
	return b, nil
}

// NewSecretKey returns a fresh key as 64 hex characters, from crypto/rand.
func NewSecretKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms (Go ≥1.24).
	return hex.EncodeToString(b)
}

func devSecret(path string) ([]byte, string, error) {
	abs, _ := filepath.Abs(path)
	if b, err := os.ReadFile(path); err == nil {
		k, err := ParseSecretKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, "", err
		}
		return k, "file:" + abs, nil
	}
	s := NewSecretKey()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	k, _ := ParseSecretKey(s)
	return k, "generated:" + abs, nil
}

// Production reports whether Portico runs in production mode.
func (c *Config) Production() bool { return c.Env == EnvProduction }

// SecureCookies reports whether cookies must carry Secure and the __Host- prefix (https base URL).
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Dump returns the configuration as key/value pairs for logging, with secrets masked.
func (c *Config) Dump() map[string]string {
	return map[string]string{
		"env":              c.Env,
		"addr":             c.Addr,
		"metrics_addr":     c.MetricsAddr,
		"otlp_endpoint":    maskURL(c.OTLPEndpoint),
		"shutdown_timeout": c.ShutdownTimeout.String(),
		"shutdown_delay":   c.ShutdownDelay.String(),
		"base_url":         c.BaseURL,
		"database_url":     maskURL(c.DatabaseURL),
		"redis_url":        maskURL(c.RedisURL),
		"secret_key":       "********",
		"secret_key_from":  c.SecretKeySource,
		"session_lifetime": c.SessionLifetime.String(),
		"trusted_proxies":  strings.Join(c.TrustedProxies, ","),
		"blob_url":         maskURL(c.BlobURL),
		"smtp_url":         maskURL(c.SMTPURL),
		"mail_from":        c.MailFrom,
		"db_timeout":       c.DBTimeout.String(),
		"redis_timeout":    c.RedisTimeout.String(),
		"mail_listen":      c.MailListen,
		"mail_max_bytes":   strconv.FormatInt(c.MailMaxBytes, 10),
		"imap_poll":        c.IMAPPoll.String(),
	}
}

func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "********"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}
