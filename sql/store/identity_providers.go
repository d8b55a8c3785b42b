package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/auth"
	"portico/webhook"
)

// Identity-provider kinds (identity_providers.kind), auth's.
const (
	KindGoogle    = auth.KindGoogle
	KindMicrosoft = auth.KindMicrosoft
	KindOkta      = auth.KindOkta
	KindOIDC      = auth.KindOIDC
	KindSAML      = auth.KindSAML
	KindJWT       = auth.KindJWT
)

// ProviderKinds lists the kinds in the order the admin console offers them.
var ProviderKinds = []string{KindGoogle, KindMicrosoft, KindOkta, KindOIDC, KindSAML, KindJWT}

// Audiences of a provider (identity_providers.audience).
const (
	AudienceAll    = "all"    // every SSO user of the provider
	AudienceGroups = "groups" // only contacts in (or IdP groups named like) the listed access groups
)

// IdentityProvider is one row of identity_providers. Settings holds the protocol's non-secret
// options (URLs, algorithm, attribute names…); Secrets is the encrypted blob of its secrets,
// opaque to the store (auth/providers seals and opens it).
type IdentityProvider struct {
	ID          int64
	Slug        string
	Kind        string
	Name        string
	Enabled     bool
	Settings    map[string]string
	Secrets     []byte
	Audience    string
	Groups      []string
	AllowCreate bool
	// TrustOrganization lets a new contact join an existing company whose name matches the
	// IdP's organization claim (admin-set, default off; otherwise the contact has no company).
	TrustOrganization bool
	UpdatedAt         time.Time
	// SecretsChanged is not stored: the caller that sealed new secret values into Secrets sets
	// it, so the audit row can say "secret changed" (never the value).
	SecretsChanged bool
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Validate checks (and tidies) the fields the store owns: slug, name, kind, audience and
// groups. It returns nil or a *ValidationError naming every refused field at once (a form
// shows them all), with the catalogue message id of each.
func (p *IdentityProvider) Validate() error { return p.validate() }

func (p *IdentityProvider) validate() error {
	fields := map[string]string{}
	p.Slug = strings.ToLower(strings.TrimSpace(p.Slug))
	p.Name = strings.TrimSpace(p.Name)
	if !slugRE.MatchString(p.Slug) {
		fields["slug"] = "SSOSlugInvalid"
	}
	if p.Name == "" || len([]rune(p.Name)) > 100 {
		fields["name"] = "SSONameInvalid"
	}
	known := false
	for _, k := range ProviderKinds {
		known = known || k == p.Kind
	}
	if !known {
		fields["kind"] = "SSOKindInvalid"
	}
	if p.Audience == "" {
		p.Audience = AudienceAll
	}
	if p.Audience != AudienceAll && p.Audience != AudienceGroups {
		fields["audience"] = "SSOAudienceInvalid"
	}
	groups := []string{}
	for _, g := range p.Groups {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	p.Groups = groups
	if p.Audience == AudienceGroups && len(p.Groups) == 0 {
		fields["groups"] = "SSOGroupsRequired"
	}
	if p.Settings == nil {
		p.Settings = map[string]string{}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

const providerCols = `id, slug, kind, name, enabled, settings, coalesce(secrets, ''::bytea), audience, groups, allow_create, trust_organization, updated_at`

func scanProvider(r pgx.Row) (IdentityProvider, error) {
	var p IdentityProvider
	var settings []byte
	err := r.Scan(&p.ID, &p.Slug, &p.Kind, &p.Name, &p.Enabled, &settings, &p.Secrets, &p.Audience, &p.Groups, &p.AllowCreate, &p.TrustOrganization, &p.UpdatedAt)
	if err != nil {
		return p, notFound(err)
	}
	p.Settings = map[string]string{}
	if err := json.Unmarshal(settings, &p.Settings); err != nil {
		return p, fmt.Errorf("identity provider %s settings: %w", p.Slug, err)
	}
	return p, nil
}

// IdentityProviderList returns every provider (enabled or not), by name.
func (s *Store) IdentityProviderList(ctx context.Context) ([]IdentityProvider, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+providerCols+` FROM identity_providers ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("identity provider list: %w", err)
	}
	defer rows.Close()
	var out []IdentityProvider
	for rows.Next() {
		p, err := scanProvider(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// IdentityProviderGet returns the provider with id. Errors: ErrNotFound.
func (s *Store) IdentityProviderGet(ctx context.Context, id int64) (IdentityProvider, error) {
	return scanProvider(s.Pool.QueryRow(ctx, `SELECT `+providerCols+` FROM identity_providers WHERE id = $1`, id))
}

// IdentityProviderBySlug returns the provider named slug. Errors: ErrNotFound.
func (s *Store) IdentityProviderBySlug(ctx context.Context, slug string) (IdentityProvider, error) {
	return scanProvider(s.Pool.QueryRow(ctx, `SELECT `+providerCols+` FROM identity_providers WHERE slug = $1`, strings.ToLower(slug)))
}

// providerAudit summarises p for the audit log: every field and setting, long values (metadata,
// keys, certificates) as a SHA-256 prefix, and never a secret.
func providerAudit(p IdentityProvider) string {
	parts := []string{"name=" + p.Name, "kind=" + p.Kind, "enabled=" + strconv.FormatBool(p.Enabled), "audience=" + p.Audience,
		"groups=" + strings.Join(p.Groups, ","), "allow_create=" + strconv.FormatBool(p.AllowCreate),
		"trust_organization=" + strconv.FormatBool(p.TrustOrganization)}
	keys := make([]string, 0, len(p.Settings))
	for k := range p.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.Settings[k]
		if len(v) > 200 || strings.ContainsAny(v, "\r\n") {
			sum := sha256.Sum256([]byte(v))
			v = "sha256:" + hex.EncodeToString(sum[:8])
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func providerKey(p IdentityProvider) string { return "provider:" + p.Slug }

// IdentityProviderCreate stores a new provider and returns it with its id, and audits the
// change as editor's (store.CLIEditor from the command line). Errors: *ValidationError,
// ErrConflict when the slug is taken.
func (s *Store) IdentityProviderCreate(ctx context.Context, editor Staff, p IdentityProvider) (IdentityProvider, error) {
	if err := p.validate(); err != nil {
		return p, err
	}
	settings, _ := json.Marshal(p.Settings)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO identity_providers (slug, kind, name, enabled, settings, secrets, audience, groups, allow_create, trust_organization)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, updated_at`,
			p.Slug, p.Kind, p.Name, p.Enabled, settings, nilIfEmpty(p.Secrets), p.Audience, p.Groups, p.AllowCreate, p.TrustOrganization).Scan(&p.ID, &p.UpdatedAt); err != nil {
			return err
		}
		after := providerAudit(p)
		if p.SecretsChanged {
			after += " secret=set"
		}
		return auditTx(ctx, tx, editor, providerKey(p), "", after)
	})
	if isUnique(err) {
		return p, fmt.Errorf("identity provider %q: %w", p.Slug, ErrConflict)
	}
	return p, err
}

// IdentityProviderUpdate replaces the provider's name, settings, secrets, audience and
// enabled flag (slug and kind never change), and audits the change as editor's: before and
// after without secret values ("secret=changed" when p.SecretsChanged; a rotated SP certificate
// shows as a new sp_cert digest). Errors: *ValidationError, ErrNotFound.
func (s *Store) IdentityProviderUpdate(ctx context.Context, editor Staff, p IdentityProvider) error {
	if err := p.validate(); err != nil {
		return err
	}
	settings, _ := json.Marshal(p.Settings)
	return s.tx(ctx, func(tx pgx.Tx) error {
		old, err := scanProvider(tx.QueryRow(ctx, `SELECT `+providerCols+` FROM identity_providers WHERE id = $1 FOR UPDATE`, p.ID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE identity_providers SET name = $2, enabled = $3, settings = $4, secrets = $5,
		audience = $6, groups = $7, allow_create = $8, trust_organization = $9, updated_at = now() WHERE id = $1`,
			p.ID, p.Name, p.Enabled, settings, nilIfEmpty(p.Secrets), p.Audience, p.Groups, p.AllowCreate, p.TrustOrganization); err != nil {
			return err
		}
		p.Slug = old.Slug
		before, after := providerAudit(old), providerAudit(p)
		if p.SecretsChanged {
			after += " secret=changed"
		}
		if before == after {
			return nil
		}
		return auditTx(ctx, tx, editor, providerKey(p), before, after)
	})
}

// IdentityProviderSetEnabled switches a provider on or off and audits it as editor's. Errors:
// ErrNotFound.
func (s *Store) IdentityProviderSetEnabled(ctx context.Context, editor Staff, id int64, on bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var slug string
		var was bool
		if err := tx.QueryRow(ctx, `SELECT slug, enabled FROM identity_providers WHERE id = $1 FOR UPDATE`, id).Scan(&slug, &was); err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE identity_providers SET enabled = $2, updated_at = now() WHERE id = $1`, id, on); err != nil {
			return err
		}
		if was == on {
			return nil
		}
		return auditTx(ctx, tx, editor, "provider:"+slug, "enabled="+strconv.FormatBool(was), "enabled="+strconv.FormatBool(on))
	})
}

// IdentityProviderDelete removes a provider and its contact links, and audits it as editor's.
// Errors: ErrNotFound.
func (s *Store) IdentityProviderDelete(ctx context.Context, editor Staff, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		old, err := scanProvider(tx.QueryRow(ctx, `SELECT `+providerCols+` FROM identity_providers WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identity_providers WHERE id = $1`, id); err != nil {
			return err
		}
		return auditTx(ctx, tx, editor, providerKey(old), providerAudit(old), "deleted")
	})
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// SSORefusal is a refused access decision: Reason is one of auth's codes, Detail is for logs
// and the admin test mode.
type SSORefusal struct {
	Reason auth.Reason
	Detail string
}

func (e *SSORefusal) Error() string { return "sso refused (" + string(e.Reason) + "): " + e.Detail }

// SSOSignIn is the one access decision for a completed SSO sign-in at provider p, in one
// transaction and before any session exists: find the contact linked to (p, subject), else
// link the contact with the same address when the address is verified, else create the
// contact and its company (when p allows it); then check the portal account is not disabled
// and, for audience "groups", that the contact is in one of p.Groups (or that the IdP reports
// a group named like one of them, which then adds the contact to that access group). A new
// contact joins the company named by id.Company only when p.TrustOrganization is set.
//
// An address the provider did not verify never creates nor links a contact: the refusal is
// Reason auth.ReasonUnverified and the caller may mail a confirmation link (SSOConfirmRequest).
// Concurrent first sign-ins of one new user all succeed with one contact: a transaction that
// loses a race on a unique key (contact address, identity, company) is run again and then finds
// the winner's rows. Errors: *SSORefusal for a refusal (nothing is written), or an internal
// error.
func (s *Store) SSOSignIn(ctx context.Context, p IdentityProvider, id auth.Identity) (Contact, error) {
	var c Contact
	err := s.ssoTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = s.ssoSignInTx(ctx, tx, p, id)
		return err
	})
	if err != nil {
		return Contact{}, err
	}
	return s.ContactGet(ctx, c.ID)
}

// ssoAttempts bounds how often an SSO access decision is retried after losing a race on a
// unique key (two instances creating the same new contact at once): the second attempt sees
// the winner's committed rows, so more than one retry only happens under a storm of distinct
// conflicts.
const ssoAttempts = 4

// ssoTx runs fn in a transaction, again when it fails on a unique violation (a concurrent
// first sign-in committed the same contact, identity or company first).
func (s *Store) ssoTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for range ssoAttempts {
		if err = s.tx(ctx, fn); !isUnique(err) {
			return err
		}
	}
	return err
}

// ssoSignInTx is SSOSignIn's decision inside tx.
func (s *Store) ssoSignInTx(ctx context.Context, tx pgx.Tx, p IdentityProvider, id auth.Identity) (Contact, error) {
	var c Contact
	if strings.TrimSpace(id.Subject) == "" {
		return c, &SSORefusal{Reason: auth.ReasonInvalid, Detail: "the identity has no subject"}
	}
	err := tx.QueryRow(ctx, `SELECT contact_id FROM contact_identities WHERE provider_id = $1 AND subject = $2`, p.ID, id.Subject).Scan(&c.ID)
	linked := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return c, err
	}
	if !linked {
		email, verr := NormalizeEmail(id.Email)
		if verr != nil {
			return c, &SSORefusal{Reason: auth.ReasonEmailMissing, Detail: fmt.Sprintf("no valid email address in the identity (%q)", id.Email)}
		}
		err := tx.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email) = $1`, email).Scan(&c.ID)
		exists := err == nil
		switch {
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return c, err
		case !exists && !p.AllowCreate:
			return c, &SSORefusal{Reason: auth.ReasonNoAccount, Detail: "no contact with address " + email + " and this provider may not create contacts"}
		case !id.EmailVerified && exists:
			return c, &SSORefusal{Reason: auth.ReasonUnverified, Detail: "a contact with address " + email + " exists but the address is not verified; it is not linked until confirmed"}
		case !id.EmailVerified:
			return c, &SSORefusal{Reason: auth.ReasonUnverified, Detail: "the address " + email + " is not verified; no contact is created until it is confirmed"}
		case !exists:
			name := strings.TrimSpace(id.Name)
			if name == "" {
				name = email
			}
			if len([]rune(name)) > 200 {
				name = string([]rune(name)[:200])
			}
			// The organization claim names a company; only a provider the admin trusts for it
			// may attach the new contact to one (an existing company by that name would
			// otherwise show its tickets to anyone the IdP names so). Untrusted: no company.
			var companyID *int64
			if co := strings.TrimSpace(id.Company); co != "" && p.TrustOrganization {
				cid, err := CompanyEnsure(ctx, tx, co)
				if err != nil {
					return c, err
				}
				companyID = &cid
			}
			if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name, company_id, language) VALUES ($1, $2, $3, $4) RETURNING id`,
				email, CleanName(name), companyID, ssoLocale(id.Locale)).Scan(&c.ID); err != nil {
				return c, err
			}
			if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: c.ID}); err != nil {
				return c, err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO contact_identities (provider_id, subject, contact_id, email) VALUES ($1, $2, $3, $4)`,
			p.ID, id.Subject, c.ID, email); err != nil {
			return c, err
		}
	}
	var status string
	err = tx.QueryRow(ctx, `SELECT status FROM portal_accounts WHERE contact_id = $1`, c.ID).Scan(&status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return c, err
	}
	if status == "disabled" {
		return c, &SSORefusal{Reason: auth.ReasonAccountLocked, Detail: "the contact's portal account is disabled"}
	}
	if p.Audience == AudienceGroups {
		if err := ssoAudience(ctx, tx, p, id, c.ID); err != nil {
			return c, err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE contact_identities SET last_sign_in_at = now() WHERE provider_id = $1 AND subject = $2`, p.ID, id.Subject)
	return c, err
}

// ssoAudience checks audience "groups": the contact is a member of one of p.Groups, or the IdP
// reported a group with the same name (case-insensitive), in which case the contact is added
// to that access group. Otherwise it returns an *SSORefusal.
func ssoAudience(ctx context.Context, tx pgx.Tx, p IdentityProvider, id auth.Identity, contactID int64) error {
	allowed := ssoLower(p.Groups)
	var member bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM access_group_members m JOIN access_groups g ON g.id = m.group_id
		WHERE m.contact_id = $1 AND lower(g.name) = ANY ($2))`, contactID, allowed).Scan(&member); err != nil {
		return err
	}
	if member {
		return nil
	}
	for _, g := range ssoLower(id.Groups) {
		for _, a := range allowed {
			if g != a {
				continue
			}
			var gid int64
			err := tx.QueryRow(ctx, `SELECT id FROM access_groups WHERE lower(name) = $1`, a).Scan(&gid)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO access_group_members (group_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, gid, contactID)
			return err
		}
	}
	return &SSORefusal{Reason: auth.ReasonNotInGroups, Detail: fmt.Sprintf("the contact is in none of the access groups %v (IdP groups %v)", p.Groups, id.Groups)}
}

func ssoLower(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ssoLocale keeps a short language tag ("nl", "en-GB") and drops anything else.
func ssoLocale(l string) string {
	l = strings.TrimSpace(l)
	if len(l) > 12 || strings.ContainsAny(l, " <>\"'") {
		return ""
	}
	return l
}

// ContactIdentities returns the provider slugs and subjects linked to a contact.
func (s *Store) ContactIdentities(ctx context.Context, contactID int64) (map[string]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT p.slug, i.subject FROM contact_identities i JOIN identity_providers p ON p.id = i.provider_id
		WHERE i.contact_id = $1`, contactID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var slug, sub string
		if err := rows.Scan(&slug, &sub); err != nil {
			return nil, err
		}
		out[slug] = sub
	}
	return out, rows.Err()
}
