package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"portico/sql/db"
	"portico/webhook"
)

// SCIM 2.0 provisioning (issue 17.4; RFC 7643, RFC 7644). An identity provider's SCIM client
// (Okta, Microsoft Entra…) authenticates with a bearer token of that provider and sees and
// changes only what it provisions: the contacts it created or took over (scim_users) and the
// access groups it created or took over (scim_groups). Nothing here deletes a ticket: a
// deactivated or deleted user's portal account is disabled, its contact and tickets stay.

// SCIMTokenPrefix starts every SCIM bearer token (secret scanners, logs, a person reading an
// IdP's configuration can tell it from an API key).
const SCIMTokenPrefix = "portico_scim_"

// SCIMPrincipal is who a SCIM bearer token acts for: one identity provider.
type SCIMPrincipal struct {
	TokenID      int64
	ProviderID   int64
	ProviderSlug string
}

// Editor is how audit rows name the provider's SCIM client: staff_id NULL, staff_name
// "scim:<slug>".
func (p SCIMPrincipal) Editor() Staff { return Staff{Name: "scim:" + p.ProviderSlug} }

// wellFormedSCIMToken reports whether s has the shape of a SCIM token (garbage costs no query).
func wellFormedSCIMToken(s string) bool {
	rest, ok := strings.CutPrefix(s, SCIMTokenPrefix)
	if !ok || len(rest) != tokenSecretLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SCIMAuthenticate returns the provider a SCIM bearer token acts for: a live token (not
// revoked, not expired). The row is found by the token's SHA-256 and the stored hash is then
// compared in constant time (crypto/subtle). Its last-used time is stamped at most once a
// minute. Errors: ErrNotFound (unknown, malformed, revoked or expired: one answer for all),
// database errors.
func (s *Store) SCIMAuthenticate(ctx context.Context, token string) (SCIMPrincipal, error) {
	if !wellFormedSCIMToken(token) {
		return SCIMPrincipal{}, ErrNotFound
	}
	h := sha256.Sum256([]byte(token))
	q := db.New(s.Pool)
	row, err := q.ScimTokenAuthenticate(ctx, h[:])
	if err != nil {
		return SCIMPrincipal{}, fmt.Errorf("scim token: %w", notFound(err))
	}
	if subtle.ConstantTimeCompare(row.TokenHash, h[:]) != 1 {
		return SCIMPrincipal{}, ErrNotFound
	}
	if !row.LastUsedAt.Valid || time.Since(row.LastUsedAt.Time) > time.Minute {
		if err := q.ScimTokenTouch(ctx, row.ID); err != nil {
			return SCIMPrincipal{}, fmt.Errorf("scim token: %w", err)
		}
	}
	return SCIMPrincipal{TokenID: row.ID, ProviderID: row.ProviderID, ProviderSlug: row.Slug}, nil
}

// SCIMTokenCreate creates a SCIM bearer token for provider providerID, named name, valid for
// days (TokenExpiryDays; 0 = no expiry), created by staff user staffID; the audit row (key
// "provider:<slug>") names the token, never its value. It returns the token (shown once: only
// its SHA-256 is stored). Errors: *ValidationError (name, expires), ErrNotFound (provider).
func (s *Store) SCIMTokenCreate(ctx context.Context, staffID, providerID int64, name string, days int) (string, error) {
	name = strings.TrimSpace(name)
	if err := validateTokenInput(name, days); err != nil {
		return "", err
	}
	tok, h, err := newAPIToken(SCIMTokenPrefix)
	if err != nil {
		return "", err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM identity_providers WHERE id = $1`, providerID).Scan(&slug); err != nil {
			return notFound(err)
		}
		var by *int64
		if staffID != 0 {
			by = &staffID
		}
		row, err := db.New(tx).ScimTokenInsert(ctx, db.ScimTokenInsertParams{ProviderID: providerID, Name: name, TokenHash: h,
			Hint: tokenHint(tok), CreatedByStaffID: by, ExpiresAt: tsOf(expiryOf(days))})
		if err != nil {
			return err
		}
		after := "scim token " + strconv.FormatInt(row.ID, 10) + " created: " + name
		if days > 0 {
			after += ", expires " + expiryOf(days).UTC().Format("2006-01-02")
		}
		return auditByStaffID(ctx, tx, staffID, "provider:"+slug, "", after)
	})
	if err != nil {
		return "", fmt.Errorf("create SCIM token: %w", err)
	}
	return tok, nil
}

// SCIMTokenList returns the provider's SCIM tokens, newest first (revoked ones too).
func (s *Store) SCIMTokenList(ctx context.Context, providerID int64) ([]APIToken, error) {
	rows, err := db.New(s.Pool).ScimTokenList(ctx, providerID)
	if err != nil {
		return nil, fmt.Errorf("SCIM tokens: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = APIToken{ID: r.ID, Name: r.Name, Hint: r.Hint, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
			ExpiresAt: timeOf(r.ExpiresAt), LastUsed: timeOf(r.LastUsedAt), RevokedAt: timeOf(r.RevokedAt)}
	}
	return out, nil
}

// SCIMTokenRevoke revokes one of the provider's SCIM tokens at once (every instance: each
// request looks the token up) and audits it as staff user staffID's. Errors: ErrNotFound
// (unknown, another provider's, or already revoked).
func (s *Store) SCIMTokenRevoke(ctx context.Context, staffID, providerID, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		name, err := db.New(tx).ScimTokenRevoke(ctx, db.ScimTokenRevokeParams{ID: id, ProviderID: providerID})
		if err != nil {
			return fmt.Errorf("revoke SCIM token %d: %w", id, notFound(err))
		}
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM identity_providers WHERE id = $1`, providerID).Scan(&slug); err != nil {
			return notFound(err)
		}
		return auditByStaffID(ctx, tx, staffID, "provider:"+slug, "scim token "+strconv.FormatInt(id, 10)+": "+name, "revoked")
	})
}

// SCIMUser is a contact as its provider provisions it (the SCIM User resource).
type SCIMUser struct {
	ContactID int64
	UserName  string
	// ExternalID is the IdP's id of the user ("" = none).
	ExternalID            string
	GivenName, FamilyName string
	Email, Name, Language string
	Active                bool
	CreatedAt, UpdatedAt  time.Time
}

// SCIMUserInput is a user as a SCIM client sends it (after the caller read the SCIM JSON).
type SCIMUserInput struct {
	UserName   string
	ExternalID string
	// Email is the address mail goes to (the primary or work address; "" = userName, which
	// must then be an address).
	Email string
	// DisplayName, Formatted, GivenName, FamilyName make the contact's name: the display name,
	// else the formatted name, else given and family name, else the address.
	DisplayName, Formatted, GivenName, FamilyName string
	// Language is preferredLanguage or locale ("en-US", "de"…; "" = keep).
	Language string
	Active   bool
}

// SCIMConflictError is a uniqueness refusal (RFC 7644 §3.12 scimType "uniqueness"): Detail
// says which value is taken, in English.
type SCIMConflictError struct{ Detail string }

func (e *SCIMConflictError) Error() string { return "scim conflict: " + e.Detail }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *SCIMConflictError) Unwrap() error { return ErrConflict }

// SCIMInvalidError is a refused value (scimType "invalidValue"): Detail says which, in English.
type SCIMInvalidError struct{ Detail string }

func (e *SCIMInvalidError) Error() string { return "scim invalid value: " + e.Detail }

func (in SCIMUserInput) clean() (SCIMUserInput, string, error) {
	in.UserName = strings.TrimSpace(in.UserName)
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	if in.UserName == "" || utf8.RuneCountInString(in.UserName) > 254 || !utf8.ValidString(in.UserName) || strings.ContainsRune(in.UserName, 0) {
		return in, "", &SCIMInvalidError{Detail: "userName must be 1 to 254 characters."}
	}
	if utf8.RuneCountInString(in.ExternalID) > 254 || !utf8.ValidString(in.ExternalID) {
		return in, "", &SCIMInvalidError{Detail: "externalId must be at most 254 characters."}
	}
	email := in.Email
	if strings.TrimSpace(email) == "" {
		email = in.UserName
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return in, "", &SCIMInvalidError{Detail: "The user needs an email address: a primary or work entry in emails, or a userName that is an address."}
	}
	in.Email = email
	for _, p := range []*string{&in.DisplayName, &in.Formatted, &in.GivenName, &in.FamilyName} {
		*p = strings.TrimSpace(*p)
		if utf8.RuneCountInString(*p) > 200 {
			return in, "", &SCIMInvalidError{Detail: "Names must be at most 200 characters."}
		}
	}
	name := in.DisplayName
	if name == "" {
		name = in.Formatted
	}
	if name == "" {
		name = strings.TrimSpace(in.GivenName + " " + in.FamilyName)
	}
	if name == "" {
		name = email
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	in.Language = ssoLocale(in.Language)
	return in, CleanName(name), nil
}

const scimUserCols = `u.contact_id, u.user_name, coalesce(u.external_id, ''), u.given_name, u.family_name, c.email, c.name, c.language,
	u.active, u.created_at, u.updated_at`

func scanSCIMUser(r pgx.Row) (SCIMUser, error) {
	var u SCIMUser
	err := r.Scan(&u.ContactID, &u.UserName, &u.ExternalID, &u.GivenName, &u.FamilyName, &u.Email, &u.Name, &u.Language,
		&u.Active, &u.CreatedAt, &u.UpdatedAt)
	return u, notFound(err)
}

// SCIMUserGet returns the provider's user with contact id id. Errors: ErrNotFound (no such
// contact, or not provisioned by this provider: one answer for both).
func (s *Store) SCIMUserGet(ctx context.Context, providerID, id int64) (SCIMUser, error) {
	return scanSCIMUser(s.Pool.QueryRow(ctx, `SELECT `+scimUserCols+` FROM scim_users u JOIN contacts c ON c.id = u.contact_id
		WHERE u.provider_id = $1 AND u.contact_id = $2`, providerID, id))
}

// SCIMUserFilter narrows SCIMUserList: a nil field does not filter. UserName matches
// case-insensitively (RFC 7643 §4.1.1: userName is caseExact false), ExternalID exactly.
type SCIMUserFilter struct {
	UserName, ExternalID *string
	// IDs, when not nil, keeps only these contact ids.
	IDs []int64
}

// MaxSCIMList bounds every SCIM list page (ServiceProviderConfig filter.maxResults).
const MaxSCIMList = 200

// SCIMUserList returns the provider's users matching f, ordered by contact id, skipping
// offset and returning at most limit (≤ MaxSCIMList), with the total number matching.
func (s *Store) SCIMUserList(ctx context.Context, providerID int64, f SCIMUserFilter, offset, limit int) ([]SCIMUser, int, error) {
	limit = min(max(limit, 0), MaxSCIMList)
	var ids any
	if f.IDs != nil {
		ids = f.IDs
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+scimUserCols+`, count(*) OVER () FROM scim_users u JOIN contacts c ON c.id = u.contact_id
		WHERE u.provider_id = $1 AND ($2::text IS NULL OR lower(u.user_name) = lower($2))
			AND ($3::text IS NULL OR u.external_id = $3) AND ($4::bigint[] IS NULL OR u.contact_id = ANY ($4))
		ORDER BY u.contact_id OFFSET $5 LIMIT $6`, providerID, f.UserName, f.ExternalID, ids, max(offset, 0), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("scim users: %w", err)
	}
	total := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMUser, error) {
		var u SCIMUser
		err := r.Scan(&u.ContactID, &u.UserName, &u.ExternalID, &u.GivenName, &u.FamilyName, &u.Email, &u.Name, &u.Language,
			&u.Active, &u.CreatedAt, &u.UpdatedAt, &total)
		return u, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("scim users: %w", err)
	}
	if len(out) == 0 && offset > 0 { // past the end: count without the page
		err = s.Pool.QueryRow(ctx, `SELECT count(*) FROM scim_users u WHERE u.provider_id = $1 AND ($2::text IS NULL OR lower(u.user_name) = lower($2))
			AND ($3::text IS NULL OR u.external_id = $3) AND ($4::bigint[] IS NULL OR u.contact_id = ANY ($4))`,
			providerID, f.UserName, f.ExternalID, ids).Scan(&total)
	}
	return out, total, err
}

// SCIMUserIDs returns the contact ids of every user of the provider (for filters the list
// query does not translate), at most limit.
func (s *Store) SCIMUserIDs(ctx context.Context, providerID int64, limit int) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT contact_id FROM scim_users WHERE provider_id = $1 ORDER BY contact_id LIMIT $2`, providerID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func scimUserAudit(u SCIMInputAudit) string {
	return fmt.Sprintf("userName=%s email=%s name=%s externalId=%s active=%t", u.UserName, u.Email, u.Name, u.ExternalID, u.Active)
}

// SCIMInputAudit is the part of a user the audit log records.
type SCIMInputAudit struct {
	UserName, Email, Name, ExternalID string
	Active                            bool
}

// SCIMUserCreate provisions a user for the provider: a new contact, or the existing contact
// with the same address when no provider provisions it yet (taken over, as single sign-on links
// a contact by a verified address: the provider is trusted for the addresses it asserts).
// The change is audited as the provider's. It reports whether the contact's sessions must end
// (created inactive: the caller revokes them in Redis). A new contact is announced to webhooks
// (contact.created) in the same transaction, like every other way a contact is created. Errors: *SCIMInvalidError,
// *SCIMConflictError (userName taken at this provider; the address belongs to a contact another
// provider provisions), database errors.
func (s *Store) SCIMUserCreate(ctx context.Context, p SCIMPrincipal, in SCIMUserInput) (SCIMUser, bool, error) {
	in, name, err := in.clean()
	if err != nil {
		return SCIMUser{}, false, err
	}
	var id int64
	end := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scim_users WHERE provider_id = $1 AND lower(user_name) = lower($2))`,
			p.ProviderID, in.UserName).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return &SCIMConflictError{Detail: "A user with this userName exists."}
		}
		before := ""
		var managed *int64
		err := tx.QueryRow(ctx, `SELECT c.id, u.provider_id FROM contacts c LEFT JOIN scim_users u ON u.contact_id = c.id
			WHERE lower(c.email) = $1 FOR UPDATE OF c`, in.Email).Scan(&id, &managed)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name, language) VALUES ($1, $2, $3) RETURNING id`,
				in.Email, name, in.Language).Scan(&id); err != nil {
				return err
			}
			if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: id}); err != nil {
				return err
			}
		case err != nil:
			return err
		case managed != nil:
			return &SCIMConflictError{Detail: "Another user (of this or another identity provider) has this email address."}
		default:
			var oldName string
			if err := tx.QueryRow(ctx, `UPDATE contacts c SET name = $2, language = CASE WHEN $3 = '' THEN c.language ELSE $3 END
				FROM contacts old WHERE c.id = $1 AND old.id = c.id RETURNING old.name`, id, name, in.Language).Scan(&oldName); err != nil {
				return err
			}
			before = "existing contact name=" + oldName
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_users (contact_id, provider_id, user_name, external_id, given_name, family_name)
			VALUES ($1, $2, $3, nullif($4, ''), $5, $6)`, id, p.ProviderID, in.UserName, in.ExternalID, in.GivenName, in.FamilyName); err != nil {
			return err
		}
		after := "scim create: " + scimUserAudit(SCIMInputAudit{in.UserName, in.Email, name, in.ExternalID, in.Active})
		if err := auditTx(ctx, tx, p.Editor(), contactKey(id), before, after); err != nil {
			return err
		}
		if !in.Active {
			end = true
			return scimSetActive(ctx, tx, id, false)
		}
		return nil
	})
	if isUnique(err) {
		return SCIMUser{}, false, &SCIMConflictError{Detail: "A user with this userName or email address exists."}
	}
	if err != nil {
		return SCIMUser{}, false, fmt.Errorf("scim create user: %w", err)
	}
	u, err := s.SCIMUserGet(ctx, p.ProviderID, id)
	return u, end, err
}

func contactKey(id int64) string { return "contact:" + strconv.FormatInt(id, 10) }

// scimSetActive switches a provisioned contact's portal access in tx. Deactivating disables the
// portal account (creating a disabled one when there was none, so no sign-in path, password,
// e-mailed link, single sign-on or API token, lets them in), voids pending links and remembers
// the account's status; reactivating restores that status (a contact that had no account has
// none again). Tickets, messages and group memberships are untouched.
func scimSetActive(ctx context.Context, tx pgx.Tx, contactID int64, active bool) error {
	var cur bool
	var prior *string
	if err := tx.QueryRow(ctx, `SELECT active, prior_status FROM scim_users WHERE contact_id = $1 FOR UPDATE`, contactID).Scan(&cur, &prior); err != nil {
		return notFound(err)
	}
	if !active {
		if !cur {
			return nil
		}
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM portal_accounts WHERE contact_id = $1 FOR UPDATE`, contactID).Scan(&status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_accounts (contact_id, status) VALUES ($1, 'disabled')
			ON CONFLICT (contact_id) DO UPDATE SET status = 'disabled', updated_at = now()`, contactID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE contact_id = $1 AND used_at IS NULL`, contactID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE scim_users SET active = false, prior_status = $2, updated_at = now() WHERE contact_id = $1`, contactID, status)
		return err
	}
	if cur {
		return nil
	}
	was := ""
	if prior != nil {
		was = *prior
	}
	var err error
	if was == "" {
		_, err = tx.Exec(ctx, `DELETE FROM portal_accounts WHERE contact_id = $1 AND status = 'disabled' AND password_hash IS NULL`, contactID)
	} else {
		_, err = tx.Exec(ctx, `UPDATE portal_accounts SET status = $2, updated_at = now() WHERE contact_id = $1 AND status = 'disabled'`, contactID, was)
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE scim_users SET active = true, prior_status = NULL, updated_at = now() WHERE contact_id = $1`, contactID)
	return err
}

// SCIMUserReplace replaces the provider's user id with in (PUT, and PATCH after the caller
// applied the operations): userName, externalId, names, address, language and active. A new
// address voids pending links. The change is audited as the provider's. It reports whether
// the contact's sessions must end (deactivated, or a new address). Errors: ErrNotFound,
// *SCIMInvalidError, *SCIMConflictError.
func (s *Store) SCIMUserReplace(ctx context.Context, p SCIMPrincipal, id int64, in SCIMUserInput) (SCIMUser, bool, error) {
	in, name, err := in.clean()
	if err != nil {
		return SCIMUser{}, false, err
	}
	cur, err := s.SCIMUserGet(ctx, p.ProviderID, id)
	if err != nil {
		return SCIMUser{}, false, err
	}
	end := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if in.Language == "" {
			in.Language = cur.Language
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET email = $2, name = $3, language = $4 WHERE id = $1`, id, in.Email, name, in.Language); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE scim_users SET user_name = $3, external_id = nullif($4, ''), given_name = $5, family_name = $6, updated_at = now()
			WHERE contact_id = $1 AND provider_id = $2`, id, p.ProviderID, in.UserName, in.ExternalID, in.GivenName, in.FamilyName); err != nil {
			return err
		}
		if !strings.EqualFold(cur.Email, in.Email) {
			end = true
			if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE contact_id = $1 AND used_at IS NULL`, id); err != nil {
				return err
			}
		}
		if cur.Active && !in.Active {
			end = true
		}
		if err := scimSetActive(ctx, tx, id, in.Active); err != nil {
			return err
		}
		before := scimUserAudit(SCIMInputAudit{cur.UserName, cur.Email, cur.Name, cur.ExternalID, cur.Active})
		after := scimUserAudit(SCIMInputAudit{in.UserName, in.Email, name, in.ExternalID, in.Active})
		if before == after {
			return nil
		}
		return auditTx(ctx, tx, p.Editor(), contactKey(id), "scim: "+before, "scim: "+after)
	})
	if isUnique(err) {
		return SCIMUser{}, false, &SCIMConflictError{Detail: "Another user has this userName or email address."}
	}
	if err != nil {
		return SCIMUser{}, false, fmt.Errorf("scim replace user %d: %w", id, err)
	}
	u, err := s.SCIMUserGet(ctx, p.ProviderID, id)
	return u, end, err
}

// SCIMUserDelete ends the provisioning of user id by its provider (SCIM DELETE): the portal
// account is disabled as by a deactivation, the contact leaves the provider's groups and is no
// longer the provider's (a later GET answers 404; a new POST with its address takes it over
// again). The contact, its tickets and its messages are kept as they are: erasing a person
// (ContactErase: anonymised, tickets kept) is an admin's decision on the contact's page, never an
// IdP's, and cannot be undone. Audited as the provider's; the caller ends the contact's
// sessions. Errors: ErrNotFound.
func (s *Store) SCIMUserDelete(ctx context.Context, p SCIMPrincipal, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var userName string
		if err := tx.QueryRow(ctx, `SELECT user_name FROM scim_users WHERE contact_id = $1 AND provider_id = $2 FOR UPDATE`, id, p.ProviderID).Scan(&userName); err != nil {
			return notFound(err)
		}
		if err := scimSetActive(ctx, tx, id, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM access_group_members m USING scim_groups g
			WHERE m.group_id = g.group_id AND g.provider_id = $1 AND m.contact_id = $2 RETURNING m.group_id`, p.ProviderID, id)
		if err != nil {
			return err
		}
		left, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_users WHERE contact_id = $1`, id); err != nil {
			return err
		}
		after := "scim delete: sign-in disabled, unlinked from the provider (not erased)"
		if len(left) > 0 {
			slices.Sort(left)
			after += fmt.Sprintf(", left groups %v", left)
		}
		return auditTx(ctx, tx, p.Editor(), contactKey(id), "userName="+userName, after)
	})
}

// SCIMGroup is an access group as its provider provisions it (the SCIM Group resource).
// Members lists only the group's contacts that the provider provisions.
type SCIMGroup struct {
	ID                   int64
	Name                 string
	ExternalID           string
	Members              []SCIMMember
	CreatedAt, UpdatedAt time.Time
}

// SCIMMember is a member of a SCIM group: a contact the provider provisions.
type SCIMMember struct {
	ContactID int64
	Display   string
}

// SCIMGroupFilter narrows SCIMGroupList: a nil field does not filter. DisplayName matches
// case-insensitively (access group names are unique regardless of case).
type SCIMGroupFilter struct {
	DisplayName, ExternalID *string
	IDs                     []int64
}

// SCIMGroupList returns the provider's groups matching f by id, skipping offset and at most
// limit (≤ MaxSCIMList), with the total; members are loaded when withMembers.
func (s *Store) SCIMGroupList(ctx context.Context, providerID int64, f SCIMGroupFilter, offset, limit int, withMembers bool) ([]SCIMGroup, int, error) {
	limit = min(max(limit, 0), MaxSCIMList)
	var ids any
	if f.IDs != nil {
		ids = f.IDs
	}
	where := `g.provider_id = $1 AND ($2::text IS NULL OR lower(a.name) = lower($2)) AND ($3::text IS NULL OR g.external_id = $3)
		AND ($4::bigint[] IS NULL OR g.group_id = ANY ($4))`
	var total int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM scim_groups g JOIN access_groups a ON a.id = g.group_id WHERE `+where,
		providerID, f.DisplayName, f.ExternalID, ids).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("scim groups: %w", err)
	}
	rows, err := s.Pool.Query(ctx, `SELECT g.group_id, a.name, coalesce(g.external_id, ''), g.created_at, g.updated_at
		FROM scim_groups g JOIN access_groups a ON a.id = g.group_id WHERE `+where+` ORDER BY g.group_id OFFSET $5 LIMIT $6`,
		providerID, f.DisplayName, f.ExternalID, ids, max(offset, 0), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("scim groups: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMGroup, error) {
		var g SCIMGroup
		err := r.Scan(&g.ID, &g.Name, &g.ExternalID, &g.CreatedAt, &g.UpdatedAt)
		return g, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("scim groups: %w", err)
	}
	if withMembers {
		for i := range out {
			if out[i].Members, err = scimMembers(ctx, s.Pool, providerID, out[i].ID); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, total, nil
}

// SCIMGroupIDs returns the ids of every group of the provider, at most limit.
func (s *Store) SCIMGroupIDs(ctx context.Context, providerID int64, limit int) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT group_id FROM scim_groups WHERE provider_id = $1 ORDER BY group_id LIMIT $2`, providerID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func scimMembers(ctx context.Context, q querier, providerID, groupID int64) ([]SCIMMember, error) {
	rows, err := q.Query(ctx, `SELECT c.id, c.name FROM access_group_members m JOIN scim_users u ON u.contact_id = m.contact_id AND u.provider_id = $1
		JOIN contacts c ON c.id = m.contact_id WHERE m.group_id = $2 ORDER BY c.id`, providerID, groupID)
	if err != nil {
		return nil, fmt.Errorf("scim group members: %w", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SCIMMember, error) {
		var m SCIMMember
		err := r.Scan(&m.ContactID, &m.Display)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("scim group members: %w", err)
	}
	return ms, nil
}

// SCIMGroupGet returns the provider's group id with its members (the provider's contacts in
// it). Errors: ErrNotFound (no such group, or not this provider's).
func (s *Store) SCIMGroupGet(ctx context.Context, providerID, id int64, withMembers bool) (SCIMGroup, error) {
	gs, _, err := s.SCIMGroupList(ctx, providerID, SCIMGroupFilter{IDs: []int64{id}}, 0, 1, withMembers)
	if err != nil {
		return SCIMGroup{}, err
	}
	if len(gs) == 0 {
		return SCIMGroup{}, fmt.Errorf("scim group %d: %w", id, ErrNotFound)
	}
	return gs[0], nil
}

// SCIMGroupChange is a change to a provider's group: nil fields stay. Members (when not nil)
// replaces the provider's contacts in the group; Add and Remove change them one by one. Members
// the provider does not provision are never touched.
type SCIMGroupChange struct {
	Name, ExternalID *string
	Members          []int64
	Add, Remove      []int64
}

// SCIMGroupCreate provisions an access group named name for the provider with the members
// given (contact ids of the provider's users): a new group, or the existing group of that name
// when no provider provisions it yet (taken over; deleting it over SCIM then only lets it go).
// Members join at once with the access-group rules (registration mails in access-group
// sign-in mode, as when an admin adds them). Audited as the provider's. Errors:
// *SCIMInvalidError (name; a member that is not the provider's user), *SCIMConflictError (a
// group of that name is another provider's, or already this provider's).
func (s *Store) SCIMGroupCreate(ctx context.Context, p SCIMPrincipal, name, externalID string, members []int64) (SCIMGroup, error) {
	name, err := validGroupName(name)
	if err != nil {
		return SCIMGroup{}, &SCIMInvalidError{Detail: "displayName must be 1 to 200 characters without a comma."}
	}
	var id int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var owner *int64
		err := tx.QueryRow(ctx, `SELECT a.id, g.provider_id FROM access_groups a LEFT JOIN scim_groups g ON g.group_id = a.id
			WHERE lower(a.name) = lower($1) FOR UPDATE OF a`, name).Scan(&id, &owner)
		created := true
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `INSERT INTO access_groups (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
				return err
			}
		case err != nil:
			return err
		case owner != nil:
			return &SCIMConflictError{Detail: "A group with this displayName exists."}
		default:
			created = false
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_groups (group_id, provider_id, external_id, created) VALUES ($1, $2, nullif($3, ''), $4)`,
			id, p.ProviderID, strings.TrimSpace(externalID), created); err != nil {
			return err
		}
		what := "scim create: name=" + name
		if !created {
			what = "scim takes over the existing group: name=" + name
		}
		if err := auditTx(ctx, tx, p.Editor(), groupKey(id), "", what); err != nil {
			return err
		}
		return scimGroupChange(ctx, tx, p, id, SCIMGroupChange{Members: members})
	})
	if isUnique(err) {
		return SCIMGroup{}, &SCIMConflictError{Detail: "A group with this displayName exists."}
	}
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("scim create group: %w", err)
	}
	return s.SCIMGroupGet(ctx, p.ProviderID, id, true)
}

// SCIMGroupUpdate changes the provider's group id (PUT, PATCH): rename, externalId, members.
// Members added join with the access-group rules at once; those removed lose what the group
// gave them at once (the access decision reads memberships on every sign-in). Audited as the
// provider's. Errors: ErrNotFound, *SCIMInvalidError, *SCIMConflictError (name taken).
func (s *Store) SCIMGroupUpdate(ctx context.Context, p SCIMPrincipal, id int64, ch SCIMGroupChange) (SCIMGroup, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var old string
		if err := tx.QueryRow(ctx, `SELECT a.name FROM scim_groups g JOIN access_groups a ON a.id = g.group_id
			WHERE g.group_id = $1 AND g.provider_id = $2 FOR UPDATE OF a, g`, id, p.ProviderID).Scan(&old); err != nil {
			return notFound(err)
		}
		if ch.Name != nil {
			name, err := validGroupName(*ch.Name)
			if err != nil {
				return &SCIMInvalidError{Detail: "displayName must be 1 to 200 characters without a comma."}
			}
			if name != old {
				if _, err := tx.Exec(ctx, `UPDATE access_groups SET name = $2 WHERE id = $1`, id, name); err != nil {
					return err
				}
				if err := auditTx(ctx, tx, p.Editor(), groupKey(id), "name="+old, "name="+name+" (scim)"); err != nil {
					return err
				}
			}
		}
		if ch.ExternalID != nil {
			if _, err := tx.Exec(ctx, `UPDATE scim_groups SET external_id = nullif($2, '') WHERE group_id = $1`, id, strings.TrimSpace(*ch.ExternalID)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE scim_groups SET updated_at = now() WHERE group_id = $1`, id); err != nil {
			return err
		}
		return scimGroupChange(ctx, tx, p, id, ch)
	})
	if isUnique(err) {
		return SCIMGroup{}, &SCIMConflictError{Detail: "Another group has this displayName."}
	}
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("scim update group %d: %w", id, err)
	}
	return s.SCIMGroupGet(ctx, p.ProviderID, id, true)
}

// scimGroupChange applies ch's membership changes to group id in tx, among the provider's users
// only, and audits the addresses added and removed.
func scimGroupChange(ctx context.Context, tx pgx.Tx, p SCIMPrincipal, id int64, ch SCIMGroupChange) error {
	all := slices.Concat(ch.Members, ch.Add, ch.Remove)
	if len(all) > 0 {
		var known []int64
		rows, err := tx.Query(ctx, `SELECT contact_id FROM scim_users WHERE provider_id = $1 AND contact_id = ANY ($2)`, p.ProviderID, all)
		if err != nil {
			return err
		}
		if known, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		for _, m := range all {
			if !slices.Contains(known, m) {
				return &SCIMInvalidError{Detail: "Member " + strconv.FormatInt(m, 10) + " is not a user provisioned by this identity provider."}
			}
		}
	}
	cur, err := scimMembers(ctx, tx, p.ProviderID, id)
	if err != nil {
		return err
	}
	have := map[int64]bool{}
	for _, m := range cur {
		have[m.ContactID] = true
	}
	want := maps.Clone(have)
	if ch.Members != nil {
		want = map[int64]bool{}
		for _, m := range ch.Members {
			want[m] = true
		}
	}
	for _, m := range ch.Add {
		want[m] = true
	}
	for _, m := range ch.Remove {
		delete(want, m)
	}
	var add, remove []int64
	for m := range want {
		if !have[m] {
			add = append(add, m)
		}
	}
	for m := range have {
		if !want[m] {
			remove = append(remove, m)
		}
	}
	slices.Sort(add)
	var added, removed []string
	for _, m := range add {
		n, err := groupAdd(ctx, tx, id, m)
		if err != nil {
			return err
		}
		if n > 0 {
			added = append(added, strconv.FormatInt(m, 10))
		}
	}
	if len(remove) > 0 {
		rows, err := tx.Query(ctx, `DELETE FROM access_group_members WHERE group_id = $1 AND contact_id = ANY ($2) RETURNING contact_id`, id, remove)
		if err != nil {
			return err
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		slices.Sort(gone)
		for _, m := range gone {
			removed = append(removed, strconv.FormatInt(m, 10))
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	before, after := "", ""
	if len(removed) > 0 {
		before = "scim members removed (contact ids): " + strings.Join(removed, ", ")
	}
	if len(added) > 0 {
		after = "scim members added (contact ids): " + strings.Join(added, ", ")
	}
	return auditTx(ctx, tx, p.Editor(), groupKey(id), before, after)
}

// SCIMGroupDelete ends the provisioning of group id by its provider (SCIM DELETE): a group the
// provider created is deleted (its memberships with it); a group it took over is let go, only
// the provider's users leaving it. Tickets and contacts are untouched. Audited as the
// provider's. Errors: ErrNotFound.
func (s *Store) SCIMGroupDelete(ctx context.Context, p SCIMPrincipal, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var name string
		var created bool
		if err := tx.QueryRow(ctx, `SELECT a.name, g.created FROM scim_groups g JOIN access_groups a ON a.id = g.group_id
			WHERE g.group_id = $1 AND g.provider_id = $2 FOR UPDATE OF a, g`, id, p.ProviderID).Scan(&name, &created); err != nil {
			return notFound(err)
		}
		if created {
			if _, err := tx.Exec(ctx, `DELETE FROM access_groups WHERE id = $1`, id); err != nil {
				return err
			}
			return auditTx(ctx, tx, p.Editor(), groupKey(id), "name="+name, "scim delete: group deleted")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM access_group_members m USING scim_users u
			WHERE m.group_id = $1 AND u.contact_id = m.contact_id AND u.provider_id = $2`, id, p.ProviderID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_groups WHERE group_id = $1`, id); err != nil {
			return err
		}
		return auditTx(ctx, tx, p.Editor(), groupKey(id), "name="+name, "scim delete: group let go, the provider's users left it")
	})
}

// SCIMProviderStats counts what a provider provisions (the admin console's SCIM page).
type SCIMProviderStats struct{ Users, Inactive, Groups int }

// SCIMStats returns how many users (and of them inactive) and groups the provider provisions.
func (s *Store) SCIMStats(ctx context.Context, providerID int64) (SCIMProviderStats, error) {
	var st SCIMProviderStats
	err := s.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM scim_users WHERE provider_id = $1),
		(SELECT count(*) FROM scim_users WHERE provider_id = $1 AND NOT active),
		(SELECT count(*) FROM scim_groups WHERE provider_id = $1)`, providerID).Scan(&st.Users, &st.Inactive, &st.Groups)
	return st, err
}
