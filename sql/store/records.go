package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
)

// Staff-side queries over CRM records (contacts, companies, pipelines, inboxes). Like the inbox
// they are not Viewer-scoped and serve /admin only.

// ContactSearch returns up to limit contacts whose name, email or company matches q (all when
// q is empty), by name.
func (s *Store) ContactSearch(ctx context.Context, q string, limit int) ([]Contact, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.email, c.name, coalesce(c.company_id, 0), coalesce(co.name, ''), c.language
		FROM contacts c LEFT JOIN companies co ON co.id = c.company_id
		WHERE c.erased_at IS NULL AND ($1 = '' OR c.name ILIKE $2 OR c.email ILIKE $2 OR co.name ILIKE $2)
		ORDER BY lower(c.name), c.id LIMIT $3`, strings.TrimSpace(q), likePattern(strings.TrimSpace(q)), limit)
	if err != nil {
		return nil, fmt.Errorf("contact search: %w", err)
	}
	return pgx.CollectRows(rows, scanContact)
}

func scanContact(r pgx.CollectableRow) (Contact, error) {
	var c Contact
	err := r.Scan(&c.ID, &c.Email, &c.Name, &c.CompanyID, &c.CompanyName, &c.Language)
	return c, err
}

// ContactUpdate changes a contact's name, email and primary company (by name; "" = none; a new
// name creates the company). Errors: *ValidationError (email, name), ErrConflict (email taken),
// ErrNotFound.
func (s *Store) ContactUpdate(ctx context.Context, id int64, email, name, company string) error {
	fields := map[string]string{}
	email, err := NormalizeEmail(email)
	if err != nil {
		fields["email"] = "EmailInvalid"
	}
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 {
		fields["name"] = "NameInvalid"
	}
	company = strings.TrimSpace(company)
	if len([]rune(company)) > 200 {
		fields["company"] = "NameInvalid"
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var comp *int64
		if company != "" {
			c, err := CompanyEnsure(ctx, tx, company)
			if err != nil {
				return err
			}
			comp = &c
		}
		tag, err := tx.Exec(ctx, `UPDATE contacts SET email = $2, name = $3, company_id = $4 WHERE id = $1`, id, email, CleanName(name), comp)
		if err == nil && tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("contact %s: %w", email, ErrConflict)
	}
	return err
}

// ContactUpdateByStaff is ContactUpdate on behalf of a staff user, with the rules that keep a
// customer's account safe: only admins may change the email address or the primary company
// (agents: *ValidationError "AdminOnlyField"), and when either changes, pending reset, sign-in
// and verification links are voided and an audit row is written in the same transaction. It
// reports whether the contact's sessions must end (the caller revokes them in Redis).
func (s *Store) ContactUpdateByStaff(ctx context.Context, editor Staff, id int64, email, name, company string) (bool, error) {
	cur, err := s.ContactGet(ctx, id)
	if err != nil {
		return false, err
	}
	normEmail, _ := NormalizeEmail(email)
	emailChanged := normEmail != "" && !strings.EqualFold(normEmail, cur.Email)
	companyChanged := !strings.EqualFold(strings.TrimSpace(company), cur.CompanyName)
	if !editor.IsAdmin() && (emailChanged || companyChanged) {
		fields := map[string]string{}
		if emailChanged {
			fields["email"] = "AdminOnlyField"
		}
		if companyChanged {
			fields["company"] = "AdminOnlyField"
		}
		return false, &ValidationError{Fields: fields}
	}
	if err := s.ContactUpdate(ctx, id, email, name, company); err != nil {
		return false, err
	}
	if !emailChanged && !companyChanged {
		return false, nil
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE contact_id = $1 AND used_at IS NULL`, id); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, fmt.Sprintf("contact:%d", id),
			"email="+cur.Email+" company="+cur.CompanyName, "email="+normEmail+" company="+strings.TrimSpace(company))
	})
	return true, err
}

// ContactTicketsForStaff returns up to 100 tickets the contact requested, newest activity first.
func (s *Store) ContactTicketsForStaff(ctx context.Context, contactID int64) ([]InboxRow, error) {
	return s.staffTickets(ctx, "t.requester_id = $1", contactID)
}

// CompanyTicketsForStaff returns up to 100 tickets of the company, newest activity first.
func (s *Store) CompanyTicketsForStaff(ctx context.Context, companyID int64) ([]InboxRow, error) {
	return s.staffTickets(ctx, "t.company_id = $1", companyID)
}

func (s *Store) staffTickets(ctx context.Context, where string, id int64) ([]InboxRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT t.id, t.subject, coalesce(nullif(rc.name, ''), rc.email, ''), coalesce(su.name, ''),
			t.created_at, t.last_activity_at, st.name, t.is_closed, p.name, t.channel
		FROM tickets t JOIN stages st ON st.id = t.stage_id JOIN pipelines p ON p.id = t.pipeline_id
		LEFT JOIN contacts rc ON rc.id = t.requester_id LEFT JOIN staff_users su ON su.id = t.owner_id
		WHERE `+where+` ORDER BY t.last_activity_at DESC, t.id DESC LIMIT 100`, id)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxRow, error) {
		var x InboxRow
		err := r.Scan(&x.ID, &x.Subject, &x.RequesterName, &x.OwnerName, &x.CreatedAt, &x.LastActivityAt, &x.StageName, &x.IsClosed, &x.PipelineName, &x.Channel)
		return x, err
	})
}

// TimelineEvent is one event on a contact's timeline.
type TimelineEvent struct {
	Kind, Summary string
	TicketID      int64
	At            time.Time
}

// ContactTimeline returns the contact's latest 100 timeline events, newest first.
func (s *Store) ContactTimeline(ctx context.Context, contactID int64) ([]TimelineEvent, error) {
	rows, err := s.Pool.Query(ctx, `SELECT kind, summary, coalesce(ticket_id, 0), created_at FROM timeline_events
		WHERE contact_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100`, contactID)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEvent, error) {
		var e TimelineEvent
		err := r.Scan(&e.Kind, &e.Summary, &e.TicketID, &e.At)
		return e, err
	})
}

// Company is a company record with its contact count.
type Company struct {
	ID       int64
	Name     string
	Domain   string
	Contacts int
}

// CompanyList returns companies matching q (all when empty), by name, at most 200.
func (s *Store) CompanyList(ctx context.Context, q string) ([]Company, error) {
	q = strings.TrimSpace(q)
	rows, err := db.New(s.Pool).CompanyList(ctx, db.CompanyListParams{Q: q, Pattern: likePattern(q)})
	if err != nil {
		return nil, fmt.Errorf("company list: %w", err)
	}
	out := make([]Company, len(rows))
	for i, r := range rows {
		out[i] = Company{ID: r.ID, Name: r.Name, Domain: r.Domain, Contacts: int(r.Contacts)}
	}
	return out, nil
}

// CompanyGet returns a company and its contacts. Errors: ErrNotFound.
func (s *Store) CompanyGet(ctx context.Context, id int64) (Company, []Contact, error) {
	r, err := db.New(s.Pool).CompanyGet(ctx, id)
	c := Company{ID: r.ID, Name: r.Name, Domain: r.Domain}
	if err != nil {
		return c, nil, fmt.Errorf("company %d: %w", id, notFound(err))
	}
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.email, c.name, coalesce(c.company_id, 0), $2::text, c.language
		FROM contacts c WHERE c.company_id = $1 ORDER BY lower(c.name), c.id`, id, c.Name)
	if err != nil {
		return c, nil, err
	}
	cs, err := pgx.CollectRows(rows, scanContact)
	c.Contacts = len(cs)
	return c, cs, err
}

// Stage is a pipeline stage.
type Stage struct {
	ID, PipelineID int64
	Name           string
	Position       int
	IsClosed       bool
	// AsksConfirmation marks "solved, waiting for the customer" (issue 16.5).
	AsksConfirmation bool
}

// Pipeline is a pipeline with its stages in order.
type Pipeline struct {
	ID       int64
	Name     string
	Position int
	Stages   []Stage
}

// PipelineList returns every pipeline with its stages, both in order.
func (s *Store) PipelineList(ctx context.Context) ([]Pipeline, error) {
	q := db.New(s.Pool)
	prow, err := q.PipelineList(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipelines: %w", err)
	}
	ps := make([]Pipeline, len(prow))
	idx := map[int64]int{}
	for i, p := range prow {
		ps[i], idx[p.ID] = Pipeline{ID: p.ID, Name: p.Name, Position: int(p.Position)}, i
	}
	stages, err := q.StageList(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range stages {
		if i, ok := idx[st.PipelineID]; ok {
			ps[i].Stages = append(ps[i].Stages, Stage{ID: st.ID, PipelineID: st.PipelineID, Name: st.Name, Position: int(st.Position), IsClosed: st.IsClosed,
				AsksConfirmation: st.AsksConfirmation})
		}
	}
	return ps, nil
}

func validRecordName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return "", Invalid("name", "RecordNameInvalid")
	}
	return name, nil
}

// PipelineCreate creates a pipeline (last in order) with one open stage "New" and one closed
// stage "Closed", audited as editor's (store.CLIEditor from the command line). Errors:
// *ValidationError (name), ErrConflict.
func (s *Store) PipelineCreate(ctx context.Context, editor Staff, name string) (int64, error) {
	name, err := validRecordName(name)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		var err error
		if id, err = q.PipelineCreate(ctx, name); err != nil {
			return err
		}
		if err := q.StageCreateDefaults(ctx, id); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, fmt.Sprintf("pipeline:%d", id), "", "name="+name+" stages=New,Closed")
	})
	if isUnique(err) {
		return 0, fmt.Errorf("pipeline %q: %w", name, ErrConflict)
	}
	return id, err
}

func stageAudit(pipelineID int64, name string, position int, closed bool) string {
	return fmt.Sprintf("pipeline=%d name=%s position=%d closed=%t", pipelineID, name, position, closed)
}

// StageCreate adds a stage at the end of a pipeline, audited as editor's. Errors:
// *ValidationError, ErrConflict, ErrNotFound (pipeline).
func (s *Store) StageCreate(ctx context.Context, editor Staff, pipelineID int64, name string, closed bool) (int64, error) {
	name, err := validRecordName(name)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		r, err := db.New(tx).StageCreate(ctx, db.StageCreateParams{PipelineID: pipelineID, Name: name, IsClosed: closed})
		if err != nil {
			return err
		}
		id = r.ID
		return auditTx(ctx, tx, editor, fmt.Sprintf("stage:%d", id), "", stageAudit(pipelineID, name, int(r.Position), closed))
	})
	if isUnique(err) {
		return 0, fmt.Errorf("stage %q: %w", name, ErrConflict)
	}
	return id, notFound(err)
}

// StageUpdate renames a stage, moves it to position (0 = first; the other stages shift) and
// sets whether it is closed. Tickets in the stage
// follow in the same transaction (is_closed, and closed_at set or cleared), so the portal's
// Open/Closed never disagrees with the stage. A pipeline must keep one open and one closed
// stage. Errors: *ValidationError (name; closed: "StageNeedOpenAndClosed"), ErrConflict,
// ErrNotFound. The change is audited as editor's in the same transaction.
func (s *Store) StageUpdate(ctx context.Context, editor Staff, id int64, name string, position int, closed bool) error {
	name, err := validRecordName(name)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		old, err := q.StageGetForUpdate(ctx, id)
		if err != nil {
			return notFound(err)
		}
		pid := old.PipelineID
		if err := q.StageRename(ctx, db.StageRenameParams{ID: id, Name: name, IsClosed: closed}); err != nil {
			return err
		}
		// Reorder: the stage takes place position (0 = first) and the others close up around
		// it, so positions stay 0…n-1 without ties.
		others, err := q.StageOthers(ctx, db.StageOthersParams{PipelineID: pid, ID: id})
		if err != nil {
			return err
		}
		position = min(max(position, 0), len(others))
		order := make([]int64, 0, len(others)+1)
		order = append(append(append(order, others[:position]...), id), others[position:]...)
		if err := q.StageSetOrder(ctx, order); err != nil {
			return err
		}
		n, err := q.StageCountOpenClosed(ctx, pid)
		if err != nil {
			return err
		}
		if n.Open == 0 || n.Closed == 0 {
			return Invalid("closed", "StageNeedOpenAndClosed")
		}
		if err := q.StageTicketsFollow(ctx, db.StageTicketsFollowParams{ID: id, IsClosed: closed}); err != nil {
			return err
		}
		before, after := stageAudit(pid, old.Name, int(old.Position), old.IsClosed), stageAudit(pid, name, position, closed)
		if before == after {
			return nil
		}
		return auditTx(ctx, tx, editor, fmt.Sprintf("stage:%d", id), before, after)
	})
	if isUnique(err) {
		return fmt.Errorf("stage %q: %w", name, ErrConflict)
	}
	return err
}

// Inbox is a conversation inbox.
type Inbox struct {
	ID        int64
	Name      string
	IsDefault bool
}

// InboxList returns every inbox by name.
func (s *Store) InboxList(ctx context.Context) ([]Inbox, error) {
	rows, err := db.New(s.Pool).InboxList(ctx)
	if err != nil {
		return nil, fmt.Errorf("inboxes: %w", err)
	}
	out := make([]Inbox, len(rows))
	for i, r := range rows {
		out[i] = Inbox{ID: r.ID, Name: r.Name, IsDefault: r.IsDefault}
	}
	return out, nil
}

// InboxCreate creates an inbox, audited as editor's (store.CLIEditor from the command line).
// Errors: *ValidationError (name), ErrConflict.
func (s *Store) InboxCreate(ctx context.Context, editor Staff, name string) (int64, error) {
	name, err := validRecordName(name)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if id, err = db.New(tx).InboxCreate(ctx, name); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, fmt.Sprintf("inbox:%d", id), "", "name="+name)
	})
	if isUnique(err) {
		return 0, fmt.Errorf("inbox %q: %w", name, ErrConflict)
	}
	return id, err
}

// InboxSetDefault makes inbox id the default inbox (the one before it stops being default) in
// one transaction, audited as editor's (before: the previous default inbox). Errors: ErrNotFound.
func (s *Store) InboxSetDefault(ctx context.Context, editor Staff, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		isDefault, err := q.InboxIsDefaultForUpdate(ctx, id)
		if err != nil {
			return notFound(err)
		}
		if isDefault {
			return nil
		}
		prev, err := q.InboxOtherDefaults(ctx, id)
		if err != nil {
			return err
		}
		if err := q.InboxClearDefaultExcept(ctx, id); err != nil {
			return err
		}
		if err := q.InboxMakeDefault(ctx, id); err != nil {
			return err
		}
		before := ""
		if prev != "" {
			before = "default=inbox:" + prev
		}
		return auditTx(ctx, tx, editor, "inbox:default", before, fmt.Sprintf("default=inbox:%d", id))
	})
}

// MaxLogoBytes bounds an uploaded logo.
const MaxLogoBytes = 512 * 1024

// LogoSet stores the logo (already checked to be PNG, JPEG, GIF or WebP by the caller), then
// records its version in the audited brand_logo setting. It returns the
// new version. Errors: *ValidationError (file: "LogoTooLarge").
func (s *Store) LogoSet(ctx context.Context, staffID int64, contentType string, data []byte) (string, error) {
	if len(data) == 0 || len(data) > MaxLogoBytes {
		return "", Invalid("file", "LogoTooLarge")
	}
	sum := sha256.Sum256(data)
	version := hex.EncodeToString(sum[:])[:16]
	err := db.New(s.Pool).BrandingAssetPut(ctx, db.BrandingAssetPutParams{Name: "logo", ContentType: contentType, Data: data, Sha256: version})
	if err != nil {
		return "", fmt.Errorf("logo: %w", err)
	}
	if _, err := s.SettingsSetAudited(ctx, staffID, map[string]string{"brand_logo": version}); err != nil {
		return "", err
	}
	return version, nil
}

// LogoDelete removes the logo and clears the audited brand_logo setting (the portal then shows
// its name alone). Removing when there is none is not an error.
func (s *Store) LogoDelete(ctx context.Context, staffID int64) error {
	if err := db.New(s.Pool).BrandingAssetDelete(ctx, "logo"); err != nil {
		return fmt.Errorf("logo: %w", err)
	}
	_, err := s.SettingsSetAudited(ctx, staffID, map[string]string{"brand_logo": ""})
	return err
}

// LogoGet returns the logo's content type, bytes and version. Errors: ErrNotFound.
func (s *Store) LogoGet(ctx context.Context) (string, []byte, string, error) {
	r, err := db.New(s.Pool).BrandingAssetGet(ctx, "logo")
	return r.ContentType, r.Data, r.Sha256, notFound(err)
}
