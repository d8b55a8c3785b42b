package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
)

// SettingChange is one setting changed by SettingsSetAudited.
type SettingChange struct {
	Key, Before, After string
}

// SettingsError carries every refused value of a settings form, key → reason (see SettingError).
type SettingsError struct {
	Fields map[string]*SettingError
}

func (e *SettingsError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, e.Fields[k].Error())
	}
	sort.Strings(keys)
	return "settings refused: " + strings.Join(keys, "; ")
}

// SettingsSetAudited validates every key=value in values, then stores them in one transaction
// and writes one audit_log row per value that actually changed (who: staffID, when, key, before,
// after). Nothing is stored when any value is refused. It returns the changes made. Errors:
// *SettingsError (every refused key), database errors.
func (s *Store) SettingsSetAudited(ctx context.Context, staffID int64, values map[string]string) ([]SettingChange, error) {
	bad := map[string]*SettingError{}
	for k, v := range values {
		if err := ValidateSetting(k, v); err != nil {
			bad[k] = err.(*SettingError)
		}
	}
	if len(bad) > 0 {
		return nil, &SettingsError{Fields: bad}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changes []SettingChange
	err := s.tx(ctx, func(tx pgx.Tx) error {
		editor, err := auditEditor(ctx, tx, staffID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			before, after, err := s.settingSet(ctx, tx, k, values[k])
			if err != nil {
				return err
			}
			if before == after {
				continue
			}
			if err := auditTx(ctx, tx, editor, k, before, after); err != nil {
				return err
			}
			changes = append(changes, SettingChange{Key: k, Before: before, After: after})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return changes, nil
}

// AuditEntry is one audit_log row.
type AuditEntry struct {
	ID                 int64
	StaffID            int64
	StaffName          string
	At                 time.Time
	Key, Before, After string
}

// AuditFilter selects audit entries; zero fields do not filter. To is exclusive.
type AuditFilter struct {
	Key      string
	StaffID  int64
	From, To time.Time
	// BeforeID pages backwards: only entries with a smaller id (0 = newest).
	BeforeID int64
	Limit    int
}

// AuditList returns audit entries newest first, and the BeforeID of the next page (0 = none).
func (s *Store) AuditList(ctx context.Context, f AuditFilter) ([]AuditEntry, int64, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	args := []any{}
	where := []string{"true"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Key != "" {
		add("key = ?", f.Key)
	}
	if f.StaffID != 0 {
		add("staff_id = ?", f.StaffID)
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("at < ?", f.To)
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	args = append(args, f.Limit+1)
	rows, err := s.Pool.Query(ctx, `SELECT id, coalesce(staff_id, 0), staff_name, at, key, before, after FROM audit_log
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.StaffID, &e.StaffName, &e.At, &e.Key, &e.Before, &e.After)
		return e, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("audit list: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// CLIEditor is the editor of changes made from the command line: audit rows get staff_id NULL
// and staff_name "cli".
var CLIEditor = Staff{Name: "cli"}

// SystemEditor is the editor of changes Portico makes by itself (e.g. a SAML provider's missing
// SP key created at start): staff_id NULL, staff_name "system".
var SystemEditor = Staff{Name: "system"}

// auditTx writes one audit_log row in tx: who (editor; staff_id NULL when editor.ID is 0), key
// (what changed, e.g. "provider:okta"), before and after (never a secret value).
func auditTx(ctx context.Context, tx pgx.Tx, editor Staff, key, before, after string) error {
	var sid *int64
	if editor.ID != 0 {
		sid = &editor.ID
	}
	return db.New(tx).AuditLogInsert(ctx, db.AuditLogInsertParams{StaffID: sid, StaffName: editor.Name, Key: key, Before: before, After: after})
}

// auditEditor returns the editor staff user staffID as audit rows name it (0 = Portico itself,
// an empty name). Errors: ErrNotFound (no such staff user), database errors.
func auditEditor(ctx context.Context, tx pgx.Tx, staffID int64) (Staff, error) {
	if staffID == 0 {
		return Staff{}, nil
	}
	name, err := db.New(tx).AuditStaffName(ctx, staffID)
	if err != nil {
		return Staff{}, fmt.Errorf("staff %d: %w", staffID, notFound(err))
	}
	return Staff{ID: staffID, Name: name}, nil
}

// auditByStaffID writes one audit_log row by staff user staffID (0 = Portico itself).
func auditByStaffID(ctx context.Context, tx pgx.Tx, staffID int64, key, before, after string) error {
	editor, err := auditEditor(ctx, tx, staffID)
	if err != nil {
		return err
	}
	return auditTx(ctx, tx, editor, key, before, after)
}
