package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/webhook"
)

// Support forms (issue 6): an admin builds a form from ticket properties and connects it to an
// inbox and a pipeline; the portal shows the connected one (setting support_form_id) at
// /tickets/new. Admin methods take the acting staff id and write one audit_log row per change
// (key "support_form:ID"); SupportFormSubmit takes the customer's Viewer.

// Form field properties: the ticket property a field fills.
const (
	FormSubject     = "subject"
	FormDescription = "description"
	FormPriority    = "priority"
	FormCategory    = "category"
	// FormCustom fills tickets.properties[Key].
	FormCustom = "custom"
)

// FormProperties are the properties a field may fill, in the order the admin is offered them.
var FormProperties = []string{FormSubject, FormDescription, FormPriority, FormCategory, FormCustom}

// Priorities are the values tickets.priority takes ("" = none).
var Priorities = []string{"low", "medium", "high", "urgent"}

// Limits of the form builder.
const (
	MaxFormLabelRunes  = 100
	MaxFormHelpRunes   = 300
	MaxFormChoices     = 50
	MaxFormChoiceRunes = 100
	// MaxFormValueRunes bounds the value of a category or custom property.
	MaxFormValueRunes = 500
)

var customKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// FormField is one field of a support form.
type FormField struct {
	ID int64
	// Property is one of FormProperties; Key names a custom property (FormCustom only).
	Property, Key string
	// Label and Help are the admin's texts ("" label = the translated property name).
	Label, Help string
	Required    bool
	// Choices, when not empty, are the only values accepted (shown as a select).
	Choices  []string
	Position int
}

// InputName is the field's form input name: the property, or "prop_KEY" for a custom one.
func (f FormField) InputName() string {
	if f.Property == FormCustom {
		return "prop_" + f.Key
	}
	return f.Property
}

// Locked reports whether the field cannot be removed: every form asks for a subject and a
// description (the ticket's subject and its first message).
func (f FormField) Locked() bool {
	return f.Property == FormSubject || f.Property == FormDescription
}

// MaxRunes is the longest value the field accepts, in characters.
func (f FormField) MaxRunes() int {
	switch f.Property {
	case FormSubject:
		return MaxSubjectRunes
	case FormDescription:
		return MaxReplyRunes
	}
	return MaxFormValueRunes
}

// SupportForm is a form with its inbox, pipeline and fields in order.
type SupportForm struct {
	ID                      int64
	Name                    string
	InboxID, PipelineID     int64
	InboxName, PipelineName string
	Fields                  []FormField
	UpdatedAt               time.Time
}

// SupportFormList returns every form (without fields), by name.
func (s *Store) SupportFormList(ctx context.Context) ([]SupportForm, error) {
	rows, err := s.Pool.Query(ctx, `SELECT f.id, f.name, f.inbox_id, f.pipeline_id, i.name, p.name, f.updated_at
		FROM support_forms f JOIN inboxes i ON i.id = f.inbox_id JOIN pipelines p ON p.id = f.pipeline_id
		ORDER BY lower(f.name), f.id`)
	if err != nil {
		return nil, fmt.Errorf("support forms: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SupportForm, error) {
		var f SupportForm
		err := r.Scan(&f.ID, &f.Name, &f.InboxID, &f.PipelineID, &f.InboxName, &f.PipelineName, &f.UpdatedAt)
		return f, err
	})
}

// SupportFormGet returns the form with its fields in order. Errors: ErrNotFound.
func (s *Store) SupportFormGet(ctx context.Context, id int64) (SupportForm, error) {
	return supportFormGet(ctx, s.Pool, id)
}

type formQuerier interface {
	querier
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func supportFormGet(ctx context.Context, q formQuerier, id int64) (SupportForm, error) {
	var f SupportForm
	err := q.QueryRow(ctx, `SELECT f.id, f.name, f.inbox_id, f.pipeline_id, i.name, p.name, f.updated_at
		FROM support_forms f JOIN inboxes i ON i.id = f.inbox_id JOIN pipelines p ON p.id = f.pipeline_id
		WHERE f.id = $1`, id).Scan(&f.ID, &f.Name, &f.InboxID, &f.PipelineID, &f.InboxName, &f.PipelineName, &f.UpdatedAt)
	if err != nil {
		return f, fmt.Errorf("support form %d: %w", id, notFound(err))
	}
	rows, err := q.Query(ctx, `SELECT id, property, prop_key, label, help, required, choices, position
		FROM support_form_fields WHERE form_id = $1 ORDER BY position, id`, id)
	if err != nil {
		return f, fmt.Errorf("support form %d fields: %w", id, err)
	}
	f.Fields, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FormField, error) {
		var x FormField
		err := r.Scan(&x.ID, &x.Property, &x.Key, &x.Label, &x.Help, &x.Required, &x.Choices, &x.Position)
		return x, err
	})
	return f, err
}

// summary is the form as one line of text, for the audit log.
func (f SupportForm) summary() string {
	var fields []string
	for _, x := range f.Fields {
		s := x.Property
		if x.Property == FormCustom {
			s += ":" + x.Key
		}
		if x.Required {
			s += "*"
		}
		if x.Label != "" {
			s += " “" + x.Label + "”"
		}
		if len(x.Choices) > 0 {
			s += " [" + strings.Join(x.Choices, "|") + "]"
		}
		fields = append(fields, s)
	}
	return fmt.Sprintf("name=%s; inbox=%s; pipeline=%s; fields=%s", f.Name, f.InboxName, f.PipelineName, strings.Join(fields, ", "))
}

// formChange runs change in a transaction on form id (locked) and audits the form's summary
// before and after (nothing is written when it did not change). Errors: ErrNotFound, change's.
func (s *Store) formChange(ctx context.Context, staffID, id int64, change func(tx pgx.Tx, f SupportForm) error) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM support_forms WHERE id = $1 FOR UPDATE`, id).Scan(&id); err != nil {
			return fmt.Errorf("support form %d: %w", id, notFound(err))
		}
		before, err := supportFormGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := change(tx, before); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE support_forms SET updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		after, err := supportFormGet(ctx, tx, id)
		if err != nil {
			return err
		}
		return formAudit(ctx, tx, staffID, id, before.summary(), after.summary())
	})
}

// formAudit writes one audit_log row for form id (skipped when nothing changed).
func formAudit(ctx context.Context, tx pgx.Tx, staffID, id int64, before, after string) error {
	if before == after {
		return nil
	}
	return auditByStaffID(ctx, tx, staffID, "support_form:"+strconv.FormatInt(id, 10), before, after)
}

// checkFormRefs validates a form's name, inbox and pipeline (the pipeline needs an open stage).
func checkFormRefs(ctx context.Context, q formQuerier, name string, inboxID, pipelineID int64) (string, error) {
	fields := map[string]string{}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields["name"] = "FormNameInvalid"
	}
	var one int
	if err := q.QueryRow(ctx, `SELECT 1 FROM inboxes WHERE id = $1`, inboxID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		fields["inbox"] = "FormInboxInvalid"
	} else if err != nil {
		return "", err
	}
	if err := q.QueryRow(ctx, `SELECT 1 FROM stages WHERE pipeline_id = $1 AND NOT is_closed LIMIT 1`, pipelineID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		fields["pipeline"] = "FormPipelineInvalid"
	} else if err != nil {
		return "", err
	}
	if len(fields) > 0 {
		return "", &ValidationError{Fields: fields}
	}
	return name, nil
}

// SupportFormCreate creates a form with its two fixed fields (subject and description, both
// required) and audits it. Errors: *ValidationError (name, inbox, pipeline), ErrConflict (name).
func (s *Store) SupportFormCreate(ctx context.Context, staffID int64, name string, inboxID, pipelineID int64) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		name, err := checkFormRefs(ctx, tx, name, inboxID, pipelineID)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO support_forms (name, inbox_id, pipeline_id) VALUES ($1, $2, $3) RETURNING id`,
			name, inboxID, pipelineID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO support_form_fields (form_id, property, required, position)
			VALUES ($1, 'subject', true, 0), ($1, 'description', true, 1)`, id); err != nil {
			return err
		}
		f, err := supportFormGet(ctx, tx, id)
		if err != nil {
			return err
		}
		return formAudit(ctx, tx, staffID, id, "", f.summary())
	})
	if isUnique(err) {
		return 0, fmt.Errorf("support form %q: %w", name, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("new support form: %w", err)
	}
	return id, nil
}

// SupportFormUpdate renames the form and connects it to another inbox and pipeline (tickets
// already created keep theirs). Errors: *ValidationError, ErrConflict (name), ErrNotFound.
func (s *Store) SupportFormUpdate(ctx context.Context, staffID, id int64, name string, inboxID, pipelineID int64) error {
	err := s.formChange(ctx, staffID, id, func(tx pgx.Tx, _ SupportForm) error {
		name, err := checkFormRefs(ctx, tx, name, inboxID, pipelineID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE support_forms SET name = $2, inbox_id = $3, pipeline_id = $4 WHERE id = $1`, id, name, inboxID, pipelineID)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("support form %q: %w", name, ErrConflict)
	}
	return err
}

// ParseChoices reads the choices an admin typed, one per line (blank lines dropped, duplicates
// kept once).
func ParseChoices(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" && !seen[strings.ToLower(line)] {
			seen[strings.ToLower(line)] = true
			out = append(out, line)
		}
	}
	return out
}

// cleanField validates the admin's texts of a field. Errors: *ValidationError (label, help,
// choices, key).
func cleanField(f FormField) (FormField, error) {
	fields := map[string]string{}
	f.Label, f.Help = strings.TrimSpace(f.Label), strings.TrimSpace(f.Help)
	if utf8.RuneCountInString(f.Label) > MaxFormLabelRunes || strings.ContainsAny(f.Label, "\r\n") {
		fields["label"] = "FormLabelInvalid"
	}
	if utf8.RuneCountInString(f.Help) > MaxFormHelpRunes {
		fields["help"] = "FormHelpInvalid"
	}
	if f.Choices == nil {
		f.Choices = []string{}
	}
	switch {
	case len(f.Choices) > MaxFormChoices:
		fields["choices"] = "FormChoicesInvalid"
	case len(f.Choices) > 0 && (f.Property == FormSubject || f.Property == FormDescription):
		fields["choices"] = "FormChoicesNotHere"
	}
	for i, c := range f.Choices {
		if utf8.RuneCountInString(c) > MaxFormChoiceRunes {
			fields["choices"] = "FormChoicesInvalid"
		}
		if f.Property == FormPriority {
			c = strings.ToLower(c)
			f.Choices[i] = c
			if !formHas(Priorities, c) {
				fields["choices"] = "FormPriorityChoicesInvalid"
			}
		}
	}
	if f.Property == FormSubject {
		f.Required = true // a ticket always has a subject
	}
	if len(fields) > 0 {
		return f, &ValidationError{Fields: fields}
	}
	return f, nil
}

func formHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SupportFormFieldAdd appends a field for a property (custom: f.Key, lower-case letters,
// digits and _). Errors: *ValidationError (property, key, label, help, choices), ErrConflict
// (the form already asks for that property), ErrNotFound.
func (s *Store) SupportFormFieldAdd(ctx context.Context, staffID, formID int64, f FormField) error {
	if !formHas(FormProperties, f.Property) {
		return Invalid("property", "FormPropertyInvalid")
	}
	f.Key = strings.TrimSpace(f.Key)
	if f.Property != FormCustom {
		f.Key = ""
	} else if !customKey.MatchString(f.Key) {
		return Invalid("key", "FormKeyInvalid")
	}
	f, err := cleanField(f)
	if err != nil {
		return err
	}
	err = s.formChange(ctx, staffID, formID, func(tx pgx.Tx, _ SupportForm) error {
		_, err := tx.Exec(ctx, `INSERT INTO support_form_fields (form_id, property, prop_key, label, help, required, choices, position)
			SELECT $1, $2, $3, $4, $5, $6, $7, coalesce(max(position), -1) + 1 FROM support_form_fields WHERE form_id = $1`,
			formID, f.Property, f.Key, f.Label, f.Help, f.Required, f.Choices)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("support form %d field %s: %w", formID, f.InputName(), ErrConflict)
	}
	return err
}

// SupportFormFieldUpdate changes a field's label, help, required flag and choices (its property
// stays). Errors: *ValidationError, ErrNotFound (form or field).
func (s *Store) SupportFormFieldUpdate(ctx context.Context, staffID, formID, fieldID int64, f FormField) error {
	return s.formChange(ctx, staffID, formID, func(tx pgx.Tx, form SupportForm) error {
		cur, ok := fieldOf(form, fieldID)
		if !ok {
			return fmt.Errorf("support form %d field %d: %w", formID, fieldID, ErrNotFound)
		}
		f.Property, f.Key = cur.Property, cur.Key
		f, err := cleanField(f)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE support_form_fields SET label = $2, help = $3, required = $4, choices = $5 WHERE id = $1`,
			fieldID, f.Label, f.Help, f.Required, f.Choices)
		return err
	})
}

// SupportFormFieldsUpdate saves the label, help, required flag and choices of several fields of
// form formID at once, in one transaction (one audit row): fields maps a field id to its new
// texts (Property and Key are ignored; a field of another form is ErrNotFound). Every field is
// checked before anything is written; the refusal names every bad input, keyed
// "<field id>.<input>" (e.g. "12.label"), and stores nothing. Errors: *ValidationError,
// ErrNotFound.
func (s *Store) SupportFormFieldsUpdate(ctx context.Context, staffID, formID int64, fields map[int64]FormField) error {
	return s.formChange(ctx, staffID, formID, func(tx pgx.Tx, form SupportForm) error {
		bad := map[string]string{}
		clean := make(map[int64]FormField, len(fields))
		for id, f := range fields {
			cur, ok := fieldOf(form, id)
			if !ok {
				return fmt.Errorf("support form %d field %d: %w", formID, id, ErrNotFound)
			}
			f.Property, f.Key = cur.Property, cur.Key
			f, err := cleanField(f)
			var ve *ValidationError
			if errors.As(err, &ve) {
				for k, m := range ve.Fields {
					bad[strconv.FormatInt(id, 10)+"."+k] = m
				}
				continue
			} else if err != nil {
				return err
			}
			clean[id] = f
		}
		if len(bad) > 0 {
			return &ValidationError{Fields: bad}
		}
		for id, f := range clean {
			if _, err := tx.Exec(ctx, `UPDATE support_form_fields SET label = $2, help = $3, required = $4, choices = $5 WHERE id = $1`,
				id, f.Label, f.Help, f.Required, f.Choices); err != nil {
				return err
			}
		}
		return nil
	})
}

// SupportFormFieldRemove removes a field; subject and description cannot be removed. Errors:
// *ValidationError (field: "FormFieldLocked"), ErrNotFound.
func (s *Store) SupportFormFieldRemove(ctx context.Context, staffID, formID, fieldID int64) error {
	return s.formChange(ctx, staffID, formID, func(tx pgx.Tx, form SupportForm) error {
		cur, ok := fieldOf(form, fieldID)
		if !ok {
			return fmt.Errorf("support form %d field %d: %w", formID, fieldID, ErrNotFound)
		}
		if cur.Locked() {
			return Invalid("field", "FormFieldLocked")
		}
		_, err := tx.Exec(ctx, `DELETE FROM support_form_fields WHERE id = $1`, fieldID)
		return err
	})
}

// SupportFormFieldMove moves a field one place up (delta < 0) or down (delta > 0); at either
// end it stays. Positions are renumbered 0…n-1. Errors: ErrNotFound.
func (s *Store) SupportFormFieldMove(ctx context.Context, staffID, formID, fieldID int64, delta int) error {
	return s.formChange(ctx, staffID, formID, func(tx pgx.Tx, form SupportForm) error {
		i := -1
		for k, x := range form.Fields {
			if x.ID == fieldID {
				i = k
			}
		}
		if i < 0 {
			return fmt.Errorf("support form %d field %d: %w", formID, fieldID, ErrNotFound)
		}
		j := i + 1
		if delta < 0 {
			j = i - 1
		}
		ids := make([]int64, len(form.Fields))
		for k, x := range form.Fields {
			ids[k] = x.ID
		}
		if j >= 0 && j < len(ids) {
			ids[i], ids[j] = ids[j], ids[i]
		}
		_, err := tx.Exec(ctx, `UPDATE support_form_fields f SET position = o.n - 1
			FROM unnest($1::bigint[]) WITH ORDINALITY AS o(id, n) WHERE f.id = o.id`, ids)
		return err
	})
}

func fieldOf(f SupportForm, id int64) (FormField, bool) {
	for _, x := range f.Fields {
		if x.ID == id {
			return x, true
		}
	}
	return FormField{}, false
}

// FormSubmission is what a customer sent through a support form.
type FormSubmission struct {
	// Values maps each field's InputName to what was typed or chosen.
	Values map[string]string
	// Lang is the customer's language (tickets.language).
	Lang string
	// Files are the uploaded attachments of the description; committed with the ticket, else
	// discarded by the caller.
	Files *UploadBatch
	// Key is the form's submission key (32 lower-case hex digits, made when the form was shown;
	// "" or malformed: none). A second submission with the same key by the same contact
	// creates nothing and returns the first one's ticket.
	Key string
}

// errSubmittedBefore rolls back a submission whose key another submission already used.
var errSubmittedBefore = errors.New("form submitted before")

// validSubmissionKey reports whether k is a submission key (32 lower-case hex digits).
func validSubmissionKey(k string) bool {
	if len(k) != 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidateSubmission checks values against the form's fields and returns the cleaned values
// (trimmed; the description as typed). Errors: *ValidationError keyed by input name with
// FormFieldRequired, FormFieldTooLong, FormFieldChoice or ReplyInvalid.
func ValidateSubmission(form SupportForm, values map[string]string) (map[string]string, error) {
	out := map[string]string{}
	bad := map[string]string{}
	for _, f := range form.Fields {
		name := f.InputName()
		v := values[name]
		if f.Property != FormDescription {
			v = strings.TrimSpace(v)
		}
		switch {
		case !utf8.ValidString(v):
			bad[name] = "ReplyInvalid"
		case strings.TrimSpace(v) == "":
			if f.Required || f.Property == FormSubject {
				bad[name] = "FormFieldRequired"
			}
			v = ""
		case utf8.RuneCountInString(v) > f.MaxRunes():
			bad[name] = "FormFieldTooLong"
		case f.Property != FormSubject && f.Property != FormDescription && len(f.Choices) > 0 && !formHas(f.Choices, v):
			bad[name] = "FormFieldChoice"
		case f.Property == FormPriority && !formHas(Priorities, v):
			bad[name] = "FormFieldChoice"
		case f.Property == FormSubject && strings.ContainsAny(v, "\r\n"):
			v = strings.Join(strings.Fields(v), " ")
		}
		out[name] = v
	}
	if len(bad) > 0 {
		return out, &ValidationError{Fields: bad}
	}
	return out, nil
}

// SupportFormSubmit creates a ticket from the viewer's submission of form formID, in one
// transaction: the ticket (requester = the viewer's contact, company = the contact's primary
// company, the form's pipeline at its first open stage, channel "form", priority, category and
// custom properties from the fields), a conversation of channel "form" in the form's inbox, the
// description as its first public message with the attachments, and the contact's timeline
// events ("ticket", and "email" for the message). It returns the new ticket's id — or, when the
// contact already sent a submission with sub.Key (even one still in flight: the unique key waits
// for it), that submission's ticket, creating nothing. Errors: *ValidationError (by input name),
// ErrNotFound (no such form), ErrConflict (the pipeline lost its open stages).
func (s *Store) SupportFormSubmit(ctx context.Context, v Viewer, formID int64, sub FormSubmission) (int64, error) {
	if v.ContactID == 0 {
		return 0, fmt.Errorf("support form %d: no contact: %w", formID, ErrNotFound)
	}
	form, err := s.SupportFormGet(ctx, formID)
	if err != nil {
		return 0, err
	}
	vals, err := ValidateSubmission(form, sub.Values)
	if err != nil {
		return 0, err
	}
	props := map[string]string{}
	var subject, description, priority, category string
	for _, f := range form.Fields {
		v := vals[f.InputName()]
		switch f.Property {
		case FormSubject:
			subject = v
		case FormDescription:
			description = v
		case FormPriority:
			priority = v
		case FormCategory:
			category = v
		case FormCustom:
			if v != "" {
				props[f.Key] = v
			}
		}
	}
	hasFiles := sub.Files != nil && len(sub.Files.Files) > 0
	var id int64
	// claim records the submission key last in the transaction, so that a concurrent twin
	// waits here for this transaction and then finds the key.
	claim := func(tx pgx.Tx) error {
		if !validSubmissionKey(sub.Key) {
			return nil
		}
		tag, err := tx.Exec(ctx, `INSERT INTO form_submissions (contact_id, key, ticket_id) VALUES ($1, $2, $3)
			ON CONFLICT (contact_id, key) DO NOTHING`, v.ContactID, sub.Key, id)
		if err == nil && tag.RowsAffected() == 0 {
			return errSubmittedBefore
		}
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var stageID int64
		err := tx.QueryRow(ctx, `SELECT id FROM stages WHERE pipeline_id = $1 AND NOT is_closed ORDER BY position, id LIMIT 1`, form.PipelineID).Scan(&stageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pipeline %d has no open stage: %w", form.PipelineID, ErrConflict)
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, category, channel, language,
				properties, requester_id, company_id)
			SELECT $1, $2, $3, $4, $5, $6, 'form', $7, $8, c.id, c.company_id FROM contacts c WHERE c.id = $9
			RETURNING id`, subject, description, form.PipelineID, stageID, priority, category, sub.Lang, props, v.ContactID).Scan(&id)
		if err != nil {
			return fmt.Errorf("ticket: %w", notFound(err))
		}
		var convID int64
		if err := tx.QueryRow(ctx, `INSERT INTO conversations (ticket_id, inbox_id, channel) VALUES ($1, $2, 'form') RETURNING id`,
			id, form.InboxID).Scan(&convID); err != nil {
			return fmt.Errorf("conversation: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, summary) VALUES ($1, 'ticket', $2, $3)`,
			v.ContactID, id, subject); err != nil {
			return err
		}
		if strings.TrimSpace(description) == "" && !hasFiles {
			if err := claim(tx); err != nil {
				return err
			}
			return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.TicketCreated, TicketID: id})
		}
		var msgID int64
		var at time.Time
		if err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body)
			VALUES ($1, $2, 'public', $3, $4) RETURNING id, created_at`, convID, id, v.ContactID, description).Scan(&msgID, &at); err != nil {
			return err
		}
		if _, err := insertAttachments(ctx, tx, sub.Files, id, msgID); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO timeline_events (contact_id, kind, ticket_id, message_id, summary)
			VALUES ($1, 'email', $2, $3, $4)`, v.ContactID, id, msgID, subject); err != nil {
			return err
		}
		if err := claim(tx); err != nil {
			return err
		}
		return s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.TicketCreated, TicketID: id, MessageID: msgID})
	})
	if errors.Is(err, errSubmittedBefore) {
		if err := s.Pool.QueryRow(ctx, `SELECT ticket_id FROM form_submissions WHERE contact_id = $1 AND key = $2`,
			v.ContactID, sub.Key).Scan(&id); err != nil {
			return 0, fmt.Errorf("support form %d submission: %w", formID, err)
		}
		return id, nil // the caller discards this submission's files
	}
	if err != nil {
		return 0, fmt.Errorf("support form %d submission: %w", formID, err)
	}
	if sub.Files != nil {
		sub.Files.done = true // the blobs now belong to attachment rows
	}
	return id, nil
}
