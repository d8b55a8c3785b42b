package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/singleflight"
)

// Ticket permission modes (setting ticket_permissions).
const (
	PermissionsOwn     = "own"
	PermissionsCompany = "company"
)

// Settings are the portal settings, with their defaults applied. Areas add their own settings in
// their own files: a field in an embedded struct plus definitions registered with
// defineSettings in an init function (see settings_accounts.go, settings_portal.go).
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

	AccountSettings
	PortalSettings
	TicketSettings
	KBSettings
	FormSettings
	ParticipantSettings
	SatisfactionSettings
	WebhookSettings
	GuestSettings
}

// SettingKind tells the admin console which input a setting needs.
type SettingKind string

// Setting kinds.
const (
	SettingBool     SettingKind = "bool"
	SettingText     SettingKind = "text"
	SettingTextarea SettingKind = "textarea"
	SettingDuration SettingKind = "duration"
	SettingEnum     SettingKind = "enum"
	SettingList     SettingKind = "list" // comma-separated names
	SettingInt      SettingKind = "int"
)

// SettingDef declares one setting: key, where the admin console shows it, its input kind, its
// default (as text, parsed like operator input) and how it is validated, stored and read.
type SettingDef struct {
	Key     string
	Section string
	Kind    SettingKind
	// Options are the allowed values of an enum.
	Options []string
	// Default is the value when unset, written as an operator would type it.
	Default string
	// parse validates operator input and returns the JSON value to store, or an error whose
	// text completes "KEY …" (e.g. "must be true or false").
	parse func(string) (any, error)
	// apply writes a stored JSON value into the struct.
	apply func(*Settings, json.RawMessage) error
	// format returns the current value as an operator would type it.
	format func(Settings) string
	// changed, when set, runs in the transaction of a change that alters the value (e.g. the
	// access-group settings enqueue registration mails).
	changed func(ctx context.Context, tx pgx.Tx) error
}

var settingDefs = map[string]SettingDef{}

// defineSettings registers definitions; call it from init functions. A duplicate key panics.
func defineSettings(defs ...SettingDef) {
	for _, d := range defs {
		if _, dup := settingDefs[d.Key]; dup {
			panic("store: setting defined twice: " + d.Key)
		}
		settingDefs[d.Key] = d
	}
}

// BoolSetting defines a true/false setting stored in the field that ptr returns.
func BoolSetting(key, section string, def bool, ptr func(*Settings) *bool) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingBool, Default: strconv.FormatBool(def),
		parse: func(v string) (any, error) {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, refuse("SettingInvalidBool", nil, "must be true or false")
			}
			return b, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return strconv.FormatBool(*ptr(&s)) },
	}
}

// TextSetting defines a text setting of at most max characters (one line unless multiline).
func TextSetting(key, section string, max int, multiline bool, def string, ptr func(*Settings) *string) SettingDef {
	kind := SettingText
	if multiline {
		kind = SettingTextarea
	}
	return SettingDef{Key: key, Section: section, Kind: kind, Default: def,
		parse: func(v string) (any, error) {
			v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
			if len([]rune(v)) > max {
				return nil, refuse("SettingTooLong", map[string]any{"Max": max}, "must be at most %d characters", max)
			}
			if !multiline && strings.ContainsAny(v, "\r\n") {
				return nil, refuse("SettingOneLine", nil, "must be one line")
			}
			return v, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return *ptr(&s) },
	}
}

// DurationSetting defines a Go-duration setting between min and max.
func DurationSetting(key, section string, min, max, def time.Duration, ptr func(*Settings) *time.Duration) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingDuration, Default: def.String(),
		parse: func(v string) (any, error) {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return nil, refuse("SettingDurationFormat", nil, "must be a duration such as 30m or 24h")
			}
			if d < min || d > max {
				return nil, refuse("SettingDurationRange", map[string]any{"Min": shortDuration(min), "Max": shortDuration(max)},
					"must be between %s and %s", fmtDuration(min), fmtDuration(max))
			}
			return d.String(), nil
		},
		apply: func(s *Settings, raw json.RawMessage) error {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			d, err := time.ParseDuration(v)
			*ptr(s) = d
			return err
		},
		format: func(s Settings) string { return ptr(&s).String() },
	}
}

// shortDuration writes d as an operator types it, without the English day count of fmtDuration.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dh (%d days)", int(d.Hours()), int(d.Hours())/24)
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// EnumSetting defines a setting that takes one of options (case-insensitive input).
func EnumSetting(key, section string, options []string, def string, ptr func(*Settings) *string) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingEnum, Options: options, Default: def,
		parse: func(v string) (any, error) {
			v = strings.ToLower(strings.TrimSpace(v))
			for _, o := range options {
				if v == o {
					return v, nil
				}
			}
			return nil, refuse("SettingInvalidEnum", map[string]any{"Options": strings.Join(options, ", ")},
				"must be one of %s", strings.Join(options, ", "))
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return *ptr(&s) },
	}
}

// IntSetting defines a whole-number setting between min and max.
func IntSetting(key, section string, min, max, def int64, ptr func(*Settings) *int64) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingInt, Default: strconv.FormatInt(def, 10),
		parse: func(v string) (any, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return nil, refuse("SettingWholeNumber", nil, "must be a whole number")
			}
			if n < min || n > max {
				return nil, refuse("SettingIntRange", map[string]any{"Min": min, "Max": max}, "must be between %d and %d", min, max)
			}
			return n, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return strconv.FormatInt(*ptr(&s), 10) },
	}
}

// ListSetting defines a comma-separated list of names (each trimmed, empty ones dropped).
func ListSetting(key, section string, ptr func(*Settings) *[]string) SettingDef {
	return SettingDef{Key: key, Section: section, Kind: SettingList, Default: "",
		parse: func(v string) (any, error) {
			out := []string{}
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					if len([]rune(p)) > 200 {
						return nil, refuse("SettingListNameTooLong", map[string]any{"Max": 200}, "names must be at most 200 characters")
					}
					out = append(out, p)
				}
			}
			return out, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, ptr(s)) },
		format: func(s Settings) string { return strings.Join(*ptr(&s), ",") },
	}
}

func init() {
	defineSettings(
		EnumSetting("ticket_permissions", "tickets", []string{PermissionsOwn, PermissionsCompany}, PermissionsOwn,
			func(s *Settings) *string { return &s.TicketPermissions }),
		DurationSetting("idle_timeout", "access", 5*time.Minute, 30*24*time.Hour, 30*time.Minute,
			func(s *Settings) *time.Duration { return &s.IdleTimeout }),
		BoolSetting("show_custom_stages", "tickets", false, func(s *Settings) *bool { return &s.ShowCustomStages }),
		BoolSetting("allow_reply_on_closed", "tickets", false, func(s *Settings) *bool { return &s.AllowReplyOnClosed }),
		TextSetting("tickets_label", "portal", 40, false, "", func(s *Settings) *string { return &s.TicketsLabel }),
		TextSetting("page_title", "portal", 80, false, "", func(s *Settings) *string { return &s.PageTitle }),
	)
}

// DefaultSettings returns the settings with every default applied.
func DefaultSettings() Settings {
	var s Settings
	for _, d := range settingDefs {
		v, err := d.parse(d.Default)
		if err != nil {
			panic("store: bad default for " + d.Key + ": " + err.Error())
		}
		raw, _ := json.Marshal(v)
		if err := d.apply(&s, raw); err != nil {
			panic("store: default for " + d.Key + ": " + err.Error())
		}
	}
	return s
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

// SettingDefs returns every definition, sorted by section then key (for the admin console).
func SettingDefs() []SettingDef {
	out := make([]SettingDef, 0, len(settingDefs))
	for _, d := range settingDefs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Section != out[j].Section {
			return out[i].Section < out[j].Section
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// SettingsGet returns the portal settings with defaults for unset keys.
func (s *Store) SettingsGet(ctx context.Context) (Settings, error) {
	return settingsIn(ctx, s.Pool)
}

// settingsIn reads the settings through q (the pool, or a transaction).
func settingsIn(ctx context.Context, q querier) (Settings, error) {
	out := DefaultSettings()
	rows, err := q.Query(ctx, `SELECT key, value FROM portal_settings`)
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

// SettingsRaw returns every known key with its stored or default value, as an operator types it.
func (s *Store) SettingsRaw(ctx context.Context) (map[string]string, error) {
	st, err := s.SettingsGet(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(settingDefs))
	for k, d := range settingDefs {
		out[k] = d.format(st)
	}
	return out, nil
}

// FormatSetting returns one setting of st as text ("" for an unknown key).
func FormatSetting(st Settings, key string) string {
	if d, ok := settingDefs[key]; ok {
		return d.format(st)
	}
	return ""
}

// SettingError is a refused setting value; Key names the setting, Reason completes "KEY …" in
// English (for the command line). MessageID and Args say the same for a translated page: a
// catalogue message id (partials/locales/admin.*.toml) and its template parameters.
type SettingError struct {
	Key, Reason string
	MessageID   string
	Args        map[string]any
}

// settingRefusal is what a SettingDef's parse returns for a refused value: the English reason
// plus the catalogue message id and its parameters.
type settingRefusal struct {
	reason string
	id     string
	args   map[string]any
}

func (e *settingRefusal) Error() string { return e.reason }

// refuse returns a parse error with English text (format, a…) and catalogue message id.
func refuse(id string, args map[string]any, format string, a ...any) error {
	return &settingRefusal{reason: fmt.Sprintf(format, a...), id: id, args: args}
}

// settingError wraps a parse error of key. Parse errors without a message id (e.g. a filter
// rule's own error text) get "SettingInvalid" with the English reason as its Reason parameter.
func settingError(key string, err error) *SettingError {
	se := &SettingError{Key: key, Reason: err.Error(), MessageID: "SettingInvalid", Args: map[string]any{"Reason": err.Error()}}
	var r *settingRefusal
	if errors.As(err, &r) {
		se.MessageID, se.Args = r.id, r.args
	}
	return se
}

func (e *SettingError) Error() string { return e.Key + " " + e.Reason }

// ValidateSetting checks value for key without storing it. Errors: *SettingError.
func ValidateSetting(key, value string) error {
	def, ok := settingDefs[key]
	if !ok {
		return &SettingError{Key: key, Reason: "is not a setting (known: " + strings.Join(SettingKeys(), ", ") + ")",
			MessageID: "SettingUnknown", Args: map[string]any{"Key": key}}
	}
	if _, err := def.parse(value); err != nil {
		return settingError(key, err)
	}
	return nil
}

// SettingSet validates value for key and stores it. Errors: *SettingError for an unknown key or
// a refused value; database errors.
func (s *Store) SettingSet(ctx context.Context, key, value string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, _, err := s.settingSet(ctx, tx, key, value)
		return err
	})
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// settingSet stores one value and returns the previous and new values as text.
func (s *Store) settingSet(ctx context.Context, db execer, key, value string) (before, after string, err error) {
	if err := ValidateSetting(key, value); err != nil {
		return "", "", err
	}
	def := settingDefs[key]
	v, _ := def.parse(value)
	raw, _ := json.Marshal(v)
	var old json.RawMessage
	_ = db.QueryRow(ctx, `SELECT value FROM portal_settings WHERE key = $1`, key).Scan(&old)
	prev := DefaultSettings()
	if old != nil {
		_ = def.apply(&prev, old)
	}
	_, err = db.Exec(ctx, `INSERT INTO portal_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, key, raw)
	next := DefaultSettings()
	_ = def.apply(&next, raw)
	before, after = def.format(prev), def.format(next)
	if tx, ok := db.(pgx.Tx); ok && err == nil && def.changed != nil && before != after {
		err = def.changed(ctx, tx)
	}
	return before, after, err
}

// SettingsCache serves Settings to every request, reading PostgreSQL at most once per TTL, so
// a change made on any instance is seen by all within TTL (default 1 s) without a restart.
// No lock is held across the database read (concurrent readers share one read, singleflight),
// and while PostgreSQL is away the last known settings are served at once, without waiting for
// the database, and re-read in the background at most once per TTL (issue 11); the outage and
// the recovery are logged once each.
type SettingsCache struct {
	store *Store
	ttl   time.Duration
	// Log receives the "serving last known settings" warning (nil: slog.Default()).
	Log *slog.Logger
	// Timeout bounds a background re-read while PostgreSQL is away (0: 5 s).
	Timeout time.Duration
	group   singleflight.Group
	mu      sync.Mutex
	val     Settings
	have    bool      // val holds settings read from the database
	at      time.Time // when val was read (zero: invalidated)
	gen     uint64    // bumped by Invalidate, so a read that raced with it is not trusted
	failing bool      // the last read failed
	tried   time.Time // when the last read was started while failing
}

// NewSettingsCache returns a cache over s with the given time-to-live (0 = 1 s).
func NewSettingsCache(s *Store, ttl time.Duration) *SettingsCache {
	if ttl <= 0 {
		ttl = time.Second
	}
	return &SettingsCache{store: s, ttl: ttl}
}

// Get returns the current settings. While the database fails it returns the last known
// settings (and an error only when it never read any).
func (c *SettingsCache) Get(ctx context.Context) (Settings, error) {
	c.mu.Lock()
	val, have, failing := c.val, c.have, c.failing
	fresh := have && !c.at.IsZero() && time.Since(c.at) < c.ttl
	retry := failing && time.Since(c.tried) >= c.ttl
	if retry {
		c.tried = time.Now()
	}
	c.mu.Unlock()
	if fresh {
		return val, nil
	}
	if have && failing {
		if retry {
			go func() {
				timeout := c.Timeout
				if timeout <= 0 {
					timeout = 5 * time.Second
				}
				bctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				_, _, _ = c.group.Do("settings", func() (any, error) { return c.load(bctx) })
			}()
		}
		return val, nil
	}
	v, err, _ := c.group.Do("settings", func() (any, error) { return c.load(ctx) })
	if err != nil {
		if have {
			return val, nil
		}
		return Settings{}, err
	}
	return v.(Settings), nil
}

// load reads the settings and records the outcome.
func (c *SettingsCache) load(ctx context.Context) (any, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	v, err := c.store.SettingsGet(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	if err != nil {
		if !c.failing && c.have {
			log.Warn("settings: PostgreSQL unavailable, serving the last known settings", "err", err)
		}
		c.failing, c.tried = true, time.Now()
		return nil, err
	}
	if c.failing && c.have {
		log.Info("settings: PostgreSQL answers again, settings re-read")
	}
	c.failing, c.val, c.have = false, v, true
	if gen == c.gen {
		c.at = time.Now()
	}
	return v, nil
}

// Invalidate drops the cached value so the next Get reads the database.
func (c *SettingsCache) Invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.gen++
	c.mu.Unlock()
}
