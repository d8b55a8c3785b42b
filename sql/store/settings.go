package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ticket permission modes (setting ticket_permissions).
const (
	PermissionsOwn     = "own"
	PermissionsCompany = "company"
)

// Settings are the portal settings, with their defaults applied.
type Settings struct {
	// TicketPermissions is "own" (tickets the contact requested) or "company" (also every ticket
	// of the contact's primary company).
	TicketPermissions string
	// IdleTimeout signs a customer out after this long without a request (5m to 720h).
	IdleTimeout time.Duration
	// ShowCustomStages shows the stage name instead of Open/Closed.
	ShowCustomStages bool
	// TicketsLabel renames "Tickets" everywhere in the portal; empty means the translated default.
	TicketsLabel string
	// PageTitle is the browser-tab title; empty means the translated "Customer portal".
	PageTitle string
	// AllowReplyOnClosed lets customers reply on closed tickets.
	AllowReplyOnClosed bool
}

// DefaultSettings are used for every key not stored.
var DefaultSettings = Settings{
	TicketPermissions: PermissionsOwn,
	IdleTimeout:       30 * time.Minute,
}

// settingDef declares one setting: its parser (validation) and how it lands in Settings.
type settingDef struct {
	parse func(string) (any, error)
	apply func(*Settings, json.RawMessage) error
}

var settingDefs = map[string]settingDef{
	"ticket_permissions": {
		parse: func(v string) (any, error) {
			v = strings.ToLower(strings.TrimSpace(v))
			if v != PermissionsOwn && v != PermissionsCompany {
				return nil, fmt.Errorf("must be %q or %q", PermissionsOwn, PermissionsCompany)
			}
			return v, nil
		},
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.TicketPermissions) },
	},
	"idle_timeout": {
		parse: func(v string) (any, error) {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("must be a duration such as 30m or 24h")
			}
			if d < 5*time.Minute || d > 30*24*time.Hour {
				return nil, fmt.Errorf("must be between 5m and 720h (30 days)")
			}
			return d.String(), nil
		},
		apply: func(s *Settings, raw json.RawMessage) error {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			d, err := time.ParseDuration(v)
			s.IdleTimeout = d
			return err
		},
	},
	"show_custom_stages": {
		parse: parseBool,
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.ShowCustomStages) },
	},
	"allow_reply_on_closed": {
		parse: parseBool,
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.AllowReplyOnClosed) },
	},
	"tickets_label": {
		parse: textSetting(40),
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.TicketsLabel) },
	},
	"page_title": {
		parse: textSetting(80),
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.PageTitle) },
	},
}

func parseBool(v string) (any, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("must be true or false")
	}
	return b, nil
}

func textSetting(max int) func(string) (any, error) {
	return func(v string) (any, error) {
		v = strings.TrimSpace(v)
		if len([]rune(v)) > max {
			return nil, fmt.Errorf("must be at most %d characters", max)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("must be one line")
		}
		return v, nil
	}
}

// SettingKeys lists the known setting keys, sorted.
func SettingKeys() []string {
	keys := make([]string, 0, len(settingDefs))
	for k := range settingDefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SettingsGet returns the portal settings with defaults for unset keys.
func (s *Store) SettingsGet(ctx context.Context) (Settings, error) {
	out := DefaultSettings
	rows, err := s.Pool.Query(ctx, `SELECT key, value FROM portal_settings`)
	if err != nil {
		return out, fmt.Errorf("settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var raw json.RawMessage
		if err := rows.Scan(&key, &raw); err != nil {
			return out, err
		}
		if def, ok := settingDefs[key]; ok {
			if err := def.apply(&out, raw); err != nil {
				return out, fmt.Errorf("setting %s: %w", key, err)
			}
		}
	}
	return out, rows.Err()
}

// SettingsRaw returns every known key with its stored or default value, as text.
func (s *Store) SettingsRaw(ctx context.Context) (map[string]string, error) {
	st, err := s.SettingsGet(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"ticket_permissions":    st.TicketPermissions,
		"idle_timeout":          st.IdleTimeout.String(),
		"show_custom_stages":    strconv.FormatBool(st.ShowCustomStages),
		"allow_reply_on_closed": strconv.FormatBool(st.AllowReplyOnClosed),
		"tickets_label":         st.TicketsLabel,
		"page_title":            st.PageTitle,
	}, nil
}

// SettingSet validates value for key and stores it. Errors: an unknown key, or a
// *ValidationError-free plain error describing why the value is refused.
func (s *Store) SettingSet(ctx context.Context, key, value string) error {
	def, ok := settingDefs[key]
	if !ok {
		return fmt.Errorf("unknown setting %q (known: %s)", key, strings.Join(SettingKeys(), ", "))
	}
	v, err := def.parse(value)
	if err != nil {
		return fmt.Errorf("%s %v", key, err)
	}
	raw, _ := json.Marshal(v)
	_, err = s.Pool.Exec(ctx, `INSERT INTO portal_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, key, raw)
	return err
}

// SettingsCache serves Settings to every request, reading PostgreSQL at most once per TTL, so
// a change made on any instance is seen by all within TTL (default 1 s) without a restart.
type SettingsCache struct {
	store *Store
	ttl   time.Duration
	mu    sync.Mutex
	val   Settings
	at    time.Time
}

// NewSettingsCache returns a cache over s with the given time-to-live (0 = 1 s).
func NewSettingsCache(s *Store, ttl time.Duration) *SettingsCache {
	if ttl <= 0 {
		ttl = time.Second
	}
	return &SettingsCache{store: s, ttl: ttl}
}

// Get returns the current settings. On a database error it returns the last good value when
// there is one (and the error otherwise).
func (c *SettingsCache) Get(ctx context.Context) (Settings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.val, nil
	}
	v, err := c.store.SettingsGet(ctx)
	if err != nil {
		if !c.at.IsZero() {
			return c.val, nil
		}
		return v, err
	}
	c.val, c.at = v, time.Now()
	return v, nil
}

// Invalidate drops the cached value so the next Get reads the database.
func (c *SettingsCache) Invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}
