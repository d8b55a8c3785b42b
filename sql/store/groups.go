package store

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// Group is an access group (a CRM list of contacts).
type Group struct {
	ID        int64
	Name      string
	Members   int
	CreatedAt time.Time
}

// GroupMember is a contact in a group.
type GroupMember struct {
	ContactID int64
	Email     string
	Name      string
	AddedAt   time.Time
}

func validGroupName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 || strings.Contains(name, ",") {
		return "", Invalid("name", "GroupNameInvalid")
	}
	return name, nil
}

func groupKey(id int64) string { return "group:" + strconv.FormatInt(id, 10) }

// GroupCreate is GroupCreateAs by store.SystemEditor (fixtures and callers not yet passing the
// editing staff user).
func (s *Store) GroupCreate(ctx context.Context, name string) (Group, error) {
	return s.GroupCreateAs(ctx, SystemEditor, name)
}

// GroupCreateAs creates an access group and audits it as editor's (store.CLIEditor from the
// command line). Errors: *ValidationError (name: empty, too long, or with a comma, which the
// access_groups setting uses as separator), ErrConflict when the name exists.
func (s *Store) GroupCreateAs(ctx context.Context, editor Staff, name string) (Group, error) {
	name, err := validGroupName(name)
	if err != nil {
		return Group{}, err
	}
	g := Group{Name: name}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO access_groups (name) VALUES ($1) RETURNING id, created_at`, name).Scan(&g.ID, &g.CreatedAt); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, groupKey(g.ID), "", "name="+name)
	})
	if isUnique(err) {
		return Group{}, fmt.Errorf("group %q: %w", name, ErrConflict)
	}
	return g, err
}

// GroupRename renames group id and audits it as editor's. Errors: *ValidationError,
// ErrConflict, ErrNotFound.
func (s *Store) GroupRename(ctx context.Context, editor Staff, id int64, name string) error {
	name, err := validGroupName(name)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var old string
		if err := tx.QueryRow(ctx, `SELECT name FROM access_groups WHERE id = $1 FOR UPDATE`, id).Scan(&old); err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_groups SET name = $2 WHERE id = $1`, id, name); err != nil {
			return err
		}
		if old == name {
			return nil
		}
		return auditTx(ctx, tx, editor, groupKey(id), "name="+old, "name="+name)
	})
	if isUnique(err) {
		return fmt.Errorf("group %q: %w", name, ErrConflict)
	}
	return err
}

// GroupList returns every group with its member count, by name.
func (s *Store) GroupList(ctx context.Context) ([]Group, error) {
	rows, err := s.Pool.Query(ctx, `SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM access_group_members m WHERE m.group_id = g.id)
		FROM access_groups g ORDER BY lower(g.name)`)
	if err != nil {
		return nil, fmt.Errorf("group list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) {
		var g Group
		err := r.Scan(&g.ID, &g.Name, &g.CreatedAt, &g.Members)
		return g, err
	})
}

// GroupGet returns a group by id. Errors: ErrNotFound.
func (s *Store) GroupGet(ctx context.Context, id int64) (Group, error) {
	var g Group
	err := s.Pool.QueryRow(ctx, `SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM access_group_members m WHERE m.group_id = g.id)
		FROM access_groups g WHERE g.id = $1`, id).Scan(&g.ID, &g.Name, &g.CreatedAt, &g.Members)
	return g, notFound(err)
}

// GroupByName returns a group by name (case-insensitive). Errors: ErrNotFound.
func (s *Store) GroupByName(ctx context.Context, name string) (Group, error) {
	var id int64
	if err := s.Pool.QueryRow(ctx, `SELECT id FROM access_groups WHERE lower(name) = lower($1)`, strings.TrimSpace(name)).Scan(&id); err != nil {
		return Group{}, fmt.Errorf("group %q: %w", name, notFound(err))
	}
	return s.GroupGet(ctx, id)
}

// GroupMembers returns the group's contacts by name.
func (s *Store) GroupMembers(ctx context.Context, id int64) ([]GroupMember, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.email, c.name, m.added_at FROM access_group_members m
		JOIN contacts c ON c.id = m.contact_id WHERE m.group_id = $1 ORDER BY lower(c.name), c.id`, id)
	if err != nil {
		return nil, fmt.Errorf("group members: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GroupMember, error) {
		var m GroupMember
		err := r.Scan(&m.ContactID, &m.Email, &m.Name, &m.AddedAt)
		return m, err
	})
}

// UnknownEmailsError lists addresses that are not contacts (GroupAddMembers adds none then).
type UnknownEmailsError struct{ Emails []string }

func (e *UnknownEmailsError) Error() string {
	return "no contact with email " + strings.Join(e.Emails, ", ")
}

// GroupAddMembers is GroupAddMembersAs by store.SystemEditor (fixtures and callers not yet
// passing the editing staff user).
func (s *Store) GroupAddMembers(ctx context.Context, id int64, emails []string) (int, error) {
	return s.GroupAddMembersAs(ctx, SystemEditor, id, emails)
}

// GroupAddMembersAs adds the contacts with emails to group id in one transaction and returns how
// many were newly added (members already in the group are skipped); the addresses added are
// audited as editor's in the same transaction. Errors: ErrNotFound (group),
// *UnknownEmailsError (nothing is added then).
func (s *Store) GroupAddMembersAs(ctx context.Context, editor Staff, id int64, emails []string) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM access_groups WHERE id = $1 FOR UPDATE`, id).Scan(&id); err != nil {
			return notFound(err)
		}
		var unknown []string
		ids := make([]int64, 0, len(emails))
		for _, e := range emails {
			var cid int64
			err := tx.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email) = lower($1)`, strings.TrimSpace(e)).Scan(&cid)
			if errors.Is(err, pgx.ErrNoRows) {
				unknown = append(unknown, e)
				continue
			}
			if err != nil {
				return err
			}
			ids = append(ids, cid)
		}
		if len(unknown) > 0 {
			return &UnknownEmailsError{Emails: unknown}
		}
		var addedEmails []string
		for i, cid := range ids {
			n, err := groupAdd(ctx, tx, id, cid)
			if err != nil {
				return err
			}
			if n > 0 {
				addedEmails = append(addedEmails, strings.ToLower(strings.TrimSpace(emails[i])))
			}
			added += n
		}
		if added == 0 {
			return nil
		}
		return auditTx(ctx, tx, editor, groupKey(id), "", "members added: "+strings.Join(addedEmails, ", "))
	})
	if err != nil {
		return 0, fmt.Errorf("add to group %d: %w", id, err)
	}
	return added, nil
}

// groupAdd adds one contact (1 when new, 0 when already a member) and tells groupMemberAdded.
func groupAdd(ctx context.Context, tx pgx.Tx, groupID, contactID int64) (int, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO access_group_members (group_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, contactID)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, nil
	}
	return 1, groupMemberAdded(ctx, tx, groupID, contactID)
}

// groupMemberAdded is THE call site for "a contact joined an access group", run inside the
// transaction that added it: the accounts area hooks the registration mail in here (enqueue in
// tx so the mail is sent exactly when the membership commits): AccessGroupMemberAdded.
func groupMemberAdded(ctx context.Context, tx pgx.Tx, groupID, contactID int64) error {
	return AccessGroupMemberAdded(ctx, tx, groupID, contactID)
}

// GroupRemoveMembers removes the contacts with emails from group id and returns how many were
// removed (unknown addresses and non-members are ignored); the addresses removed are audited as
// editor's in the same transaction. Errors: ErrNotFound (group).
func (s *Store) GroupRemoveMembers(ctx context.Context, editor Staff, id int64, emails []string) (int, error) {
	lower := make([]string, len(emails))
	for i, e := range emails {
		lower[i] = strings.ToLower(strings.TrimSpace(e))
	}
	var removed []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM access_groups WHERE id = $1 FOR UPDATE`, id).Scan(&id); err != nil {
			return notFound(err)
		}
		rows, err := tx.Query(ctx, `DELETE FROM access_group_members m USING contacts c
			WHERE m.group_id = $1 AND c.id = m.contact_id AND lower(c.email) = ANY($2) RETURNING lower(c.email)`, id, lower)
		if err != nil {
			return err
		}
		if removed, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(removed) == 0 {
			return nil
		}
		sort.Strings(removed)
		return auditTx(ctx, tx, editor, groupKey(id), "members removed: "+strings.Join(removed, ", "), "")
	})
	if errors.Is(err, ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("remove from group %d: %w", id, err)
	}
	return len(removed), nil
}

// GroupImportResult counts a CSV import.
type GroupImportResult struct {
	Rows, Created, Added int
	// Bad maps a 1-based line number to a catalogue message id.
	Bad map[int]string
}

// MaxGroupImportRows bounds one CSV import.
const MaxGroupImportRows = 10000

// GroupImportCSV reads contacts from CSV (header row; columns email (required), name, company;
// case-insensitive) and adds each to group id, creating contacts that do not exist (name
// defaults to the address). Bad rows are counted and skipped; the rest are imported in one
// transaction. Errors: *ValidationError (file: "CSVInvalid", "CSVNoEmail", "CSVTooLong"),
// ErrNotFound (group). The import's summary (rows, created, added, bad) is audited as editor's
// in the same transaction.
func (s *Store) GroupImportCSV(ctx context.Context, editor Staff, id int64, r io.Reader) (GroupImportResult, error) {
	res := GroupImportResult{Bad: map[int]string{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return res, Invalid("file", "CSVInvalid")
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	ei, ok := col["email"]
	if !ok {
		return res, Invalid("file", "CSVNoEmail")
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	type row struct {
		line                 int
		email, name, company string
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return res, Invalid("file", "CSVInvalid")
		}
		res.Rows++
		if res.Rows > MaxGroupImportRows {
			return GroupImportResult{}, Invalid("file", "CSVTooLong")
		}
		email := ""
		if ei < len(rec) {
			email = rec[ei]
		}
		email, err = NormalizeEmail(email)
		if err != nil {
			res.Bad[line] = "EmailInvalid"
			continue
		}
		rows = append(rows, row{line: line, email: email, name: field(rec, "name"), company: field(rec, "company")})
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM access_groups WHERE id = $1 FOR UPDATE`, id).Scan(&id); err != nil {
			return notFound(err)
		}
		for _, r := range rows {
			var cid int64
			err := tx.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email) = $1`, r.email).Scan(&cid)
			if errors.Is(err, pgx.ErrNoRows) {
				name := r.name
				if name == "" {
					name = r.email
				}
				if len([]rune(name)) > 200 {
					res.Bad[r.line] = "NameInvalid"
					continue
				}
				var comp *int64
				if r.company != "" {
					c, err := CompanyEnsure(ctx, tx, r.company)
					if err != nil {
						return err
					}
					comp = &c
				}
				if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name, company_id) VALUES ($1, $2, $3) RETURNING id`,
					r.email, CleanName(name), comp).Scan(&cid); err != nil {
					return err
				}
				if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: cid}); err != nil {
					return err
				}
				res.Created++
			} else if err != nil {
				return err
			}
			n, err := groupAdd(ctx, tx, id, cid)
			if err != nil {
				return err
			}
			res.Added += n
		}
		return auditTx(ctx, tx, editor, groupKey(id), "", fmt.Sprintf("csv import: rows=%d created=%d added=%d bad=%d",
			res.Rows, res.Created, res.Added, len(res.Bad)))
	})
	if err != nil {
		return GroupImportResult{}, fmt.Errorf("import into group %d: %w", id, err)
	}
	return res, nil
}
