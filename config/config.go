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
func LoadFrom(getenv Getenv) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		// *_FILE variants for secrets and URLs with credentials.
		if p := strings.TrimSpace(getenv(name + "_FILE")); p != "" {
			if b, err := os.ReadFile(p); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		return def
	}
	c := &Config{
		Env:             get("PORTICO_ENV", EnvDevelopment),
		Addr:            get("PORTICO_ADDR", DefaultAddr),
		BaseURL:         strings.TrimRight(get("PORTICO_BASE_URL", ""), "/"),
		DatabaseURL:     get("DATABASE_URL", DefaultDatabaseURL),
		RedisURL:        get("REDIS_URL", DefaultRedisURL),
		ReadTimeout:     15 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     120 * time.Second,
		BodyLimit:       1 << 20,
		SessionLifetime: DefaultSessionLifetime,
		LogLevel:        strings.ToLower(get("PORTICO_LOG_LEVEL", "info")),
		BlobURL:         get("PORTICO_BLOB_URL", ""),
		SMTPURL:         get("PORTICO_SMTP_URL", ""),
		MailFrom:        get("PORTICO_MAIL_FROM", ""),
		MailRetryBase:   time.Second,
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		return nil, fmt.Errorf("PORTICO_ENV must be %q or %q, got %q", EnvDevelopment, EnvProduction, c.Env)
	}
	if c.BaseURL == "" {
		host := c.Addr
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		c.BaseURL = "http://" + host
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("PORTICO_BASE_URL must be an absolute http(s) URL, got %q", c.BaseURL)
	}
	if c.Env == EnvProduction && !strings.HasPrefix(c.BaseURL, "https://") {
		c.Warnings = append(c.Warnings, "PORTICO_BASE_URL is not https: session cookies go without Secure and the __Host- prefix, and no HSTS is sent; serve Portico behind TLS and set an https:// base URL")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return nil, fmt.Errorf("PORTICO_ADDR must be host:port or :port, got %q", c.Addr)
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("DATABASE_URL must be a postgres:// URL")
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		return nil, errors.New("REDIS_URL must be a redis://, rediss:// or unix:// URL")
	}
	if v := get("PORTICO_SESSION_LIFETIME", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Minute || d > 90*24*time.Hour {
			return nil, fmt.Errorf("PORTICO_SESSION_LIFETIME must be a duration between 5m and 2160h, got %q", v)
		}
		c.SessionLifetime = d
	}
	if c.BlobURL == "" {
		abs, err := filepath.Abs(filepath.Join("data", "blobs"))
		if err != nil {
			return nil, fmt.Errorf("PORTICO_BLOB_URL: %v", err)
		}
		c.BlobURL = "file://" + filepath.ToSlash(abs) + "?create_dir=1&no_tmp_dir=1"
	}
	if u, err := url.Parse(c.BlobURL); err != nil || (u.Scheme != "file" && u.Scheme != "s3" && u.Scheme != "mem") {
		return nil, errors.New("PORTICO_BLOB_URL must be a file:///dir or s3://bucket URL")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("PORTICO_LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if v := get("PORTICO_TRUSTED_PROXIES", ""); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if net.ParseIP(p) == nil {
				if _, _, err := net.ParseCIDR(p); err != nil {
					return nil, fmt.Errorf("PORTICO_TRUSTED_PROXIES: %q is neither an IP nor a CIDR", p)
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	key := get("PORTICO_SECRET_KEY", "")
	switch {
	case key != "":
		b, err := ParseSecretKey(key)
		if err != nil {
			return nil, err
		}
		c.SecretKey, c.SecretKeySource = b, "env"
	case c.Env == EnvProduction:
		return nil, errors.New("PORTICO_SECRET_KEY is required in production (run `portico secret` to make one)")
	default:
		b, src, err := devSecret(DevSecretFile)
		if err != nil {
			return nil, fmt.Errorf("PORTICO_SECRET_KEY: cannot keep a development key in %s: %v", DevSecretFile, err)
		}
		c.SecretKey, c.SecretKeySource = b, src
	}
	if err := c.loadMail(get); err != nil {
		return nil, err
	}
	return c, nil
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

// loadMail reads and checks PORTICO_SMTP_URL, PORTICO_MAIL_FROM and PORTICO_MAIL_RETRY_BASE.
func (c *Config) loadMail(get func(name, def string) string) error {
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("PORTICO_SMTP_URL must be smtp://[user:pass@]host:port or smtps://…")
		}
		if v := u.Query().Get("starttls"); v != "" && v != "require" && v != "opportunistic" && v != "none" {
			return fmt.Errorf("PORTICO_SMTP_URL: starttls must be require, opportunistic or none, got %q", v)
		}
	}
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" && strings.Contains(u.Hostname(), ".") {
			host = u.Hostname()
		}
		c.MailFrom = "Portico <portico@" + host + ">"
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("PORTICO_MAIL_FROM must be an address such as Support <support@example.com>, got %q", c.MailFrom)
	}
	if v := get("PORTICO_MAIL_RETRY_BASE", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > time.Hour {
			return fmt.Errorf("PORTICO_MAIL_RETRY_BASE must be a duration between 1ms and 1h, got %q", v)
		}
		c.MailRetryBase = d
	}
	return nil
}
