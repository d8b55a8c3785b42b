package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := LoadFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != EnvDevelopment || c.Addr != ":3000" || c.DatabaseURL != DefaultDatabaseURL || c.RedisURL != DefaultRedisURL {
		t.Errorf("defaults: %+v", c)
	}
	if c.MetricsAddr != "" || c.ShutdownTimeout != 20*time.Second || c.ShutdownDelay != 0 {
		t.Errorf("operations defaults: metrics %q, shutdown timeout %v, delay %v", c.MetricsAddr, c.ShutdownTimeout, c.ShutdownDelay)
	}
	if !strings.HasPrefix(c.SecretKeySource, "generated:") || len(c.SecretKey) != 32 {
		t.Fatalf("dev key: %q %d", c.SecretKeySource, len(c.SecretKey))
	}
	// The generated key is kept: a second start reads the same one.
	c2, err := LoadFrom(env(nil))
	if err != nil || string(c2.SecretKey) != string(c.SecretKey) || !strings.HasPrefix(c2.SecretKeySource, "file:") {
		t.Fatalf("second load: %v %q", err, c2.SecretKeySource)
	}
	if fi, _ := os.Stat(filepath.Join(".", DevSecretFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", fi.Mode().Perm())
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	t.Chdir(t.TempDir())
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"env":                           {map[string]string{"PORTICO_ENV": "staging"}, "PORTICO_ENV"},
		"addr":                          {map[string]string{"PORTICO_ADDR": "3000"}, "PORTICO_ADDR"},
		"metrics addr":                  {map[string]string{"PORTICO_METRICS_ADDR": "9100"}, "PORTICO_METRICS_ADDR"},
		"metrics on the public address": {map[string]string{"PORTICO_METRICS_ADDR": ":3000"}, "PORTICO_METRICS_ADDR"},
		"base url":                      {map[string]string{"PORTICO_BASE_URL": "localhost"}, "PORTICO_BASE_URL"},
		"database":                      {map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		"redis":                         {map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		"short key":                     {map[string]string{"PORTICO_SECRET_KEY": "abcd"}, "PORTICO_SECRET_KEY"},
		"non-hex key":                   {map[string]string{"PORTICO_SECRET_KEY": strings.Repeat("zz", 32)}, "PORTICO_SECRET_KEY"},
		"prod no key":                   {map[string]string{"PORTICO_ENV": "production", "PORTICO_BASE_URL": "https://x.example"}, "PORTICO_SECRET_KEY"},
		"proxies":                       {map[string]string{"PORTICO_TRUSTED_PROXIES": "10.0.0.1, not-an-ip"}, "PORTICO_TRUSTED_PROXIES"},
		"lifetime":                      {map[string]string{"PORTICO_SESSION_LIFETIME": "1s"}, "PORTICO_SESSION_LIFETIME"},
		"log level":                     {map[string]string{"PORTICO_LOG_LEVEL": "loud"}, "PORTICO_LOG_LEVEL"},
	} {
		_, err := LoadFrom(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line naming %s", name, err, tc.want)
		}
	}
}

func TestProductionAndMaskedDump(t *testing.T) {
	key := strings.Repeat("0f", 32)
	c, err := LoadFrom(env(map[string]string{"PORTICO_ENV": "production", "PORTICO_SECRET_KEY": key,
		"PORTICO_BASE_URL": "https://support.example.com/", "DATABASE_URL": "postgres://app:hunter2@db/portico"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Production() || !c.SecureCookies() || c.BaseURL != "https://support.example.com" {
		t.Errorf("production config: %+v", c)
	}
	if c.ShutdownDelay != 5*time.Second {
		t.Errorf("production shutdown delay %v, want 5s (the load balancer sees /readyz fail first)", c.ShutdownDelay)
	}
	for k, v := range c.Dump() {
		if strings.Contains(v, "hunter2") || strings.Contains(v, key) {
			t.Errorf("dump %s leaks a secret: %q", k, v)
		}
	}
}

func TestNewSecretKeyParses(t *testing.T) {
	a, b := NewSecretKey(), NewSecretKey()
	if a == b || len(a) != 64 {
		t.Fatalf("keys %q %q", a, b)
	}
	if _, err := ParseSecretKey(a); err != nil {
		t.Fatal(err)
	}
}

func TestProductionOverPlainHTTPWarns(t *testing.T) {
	c, err := LoadFrom(env(map[string]string{"PORTICO_ENV": "production", "PORTICO_SECRET_KEY": strings.Repeat("0f", 32)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecureCookies() || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "PORTICO_BASE_URL") {
		t.Fatalf("secure %v, warnings %q", c.SecureCookies(), c.Warnings)
	}
}

// TestFileVariants: NAME_FILE supplies a value (trimmed) when NAME is unset, and a NAME_FILE
// that cannot be read stops the start with one line naming it, for every option (a missing
// DATABASE_URL_FILE must not fall back to the local default database).
func TestFileVariants(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.WriteFile(db, []byte("postgres://app:pw@db.internal/portico\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFrom(env(map[string]string{"DATABASE_URL_FILE": db}))
	if err != nil || c.DatabaseURL != "postgres://app:pw@db.internal/portico" {
		t.Fatalf("DATABASE_URL_FILE: %v %q", err, c.DatabaseURL)
	}
	c, err = LoadFrom(env(map[string]string{"DATABASE_URL": "postgres://direct/x", "DATABASE_URL_FILE": db}))
	if err != nil || c.DatabaseURL != "postgres://direct/x" {
		t.Fatalf("the variable wins over its file: %v %q", err, c.DatabaseURL)
	}
	for _, o := range options {
		_, err := LoadFrom(env(map[string]string{o.name + "_FILE": filepath.Join(dir, "missing")}))
		if err == nil || !strings.Contains(err.Error(), o.name+"_FILE") || strings.Contains(err.Error(), "\n") {
			t.Errorf("unreadable %s_FILE: err = %v, want one line naming it", o.name, err)
		}
	}
}

// TestDerivedDefaults: with little environment every option's set
// function accepts its default (LoadFrom succeeds in development) and the derived defaults
// follow the earlier options.
func TestDerivedDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := LoadFrom(env(map[string]string{"PORTICO_ADDR": ":8080"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://localhost:8080" || c.MailFrom != "Portico <portico@localhost>" || c.LogLevel != "info" ||
		c.SessionLifetime != DefaultSessionLifetime || c.MailRetryBase != time.Second || !strings.HasPrefix(c.BlobURL, "file://") {
		t.Fatalf("derived defaults: %+v", c)
	}
	c, err = LoadFrom(env(map[string]string{"PORTICO_BASE_URL": "https://help.example.com/", "PORTICO_LOG_LEVEL": "DEBUG",
		"PORTICO_TRUSTED_PROXIES": " 10.0.0.1 , ,10.1.0.0/16", "PORTICO_SESSION_LIFETIME": "1h", "PORTICO_MAIL_RETRY_BASE": "5ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "https://help.example.com" || c.MailFrom != "Portico <portico@help.example.com>" || c.LogLevel != "debug" ||
		len(c.TrustedProxies) != 2 || c.SessionLifetime != time.Hour || c.MailRetryBase != 5*time.Millisecond {
		t.Fatalf("parsed values: %+v", c)
	}
}
