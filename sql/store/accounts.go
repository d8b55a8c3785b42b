package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"portico/webhook"
)

// Purposes of one-time link tokens (account_tokens.purpose).
const (
	PurposeInvite = "invite" // access-group registration: set a first password
	PurposeVerify = "verify" // self-registration: confirm the address
	PurposeReset  = "reset"  // forgotten password
	PurposeMagic  = "magic"  // passwordless sign-in
)

// Lifetimes of one-time links (the invite's comes from the registration_link_expiry setting).
const (
	VerifyTokenTTL = 24 * time.Hour
	ResetTokenTTL  = 60 * time.Minute
	MagicTokenTTL  = 15 * time.Minute
)

// Mail templates (partials/email/<name>.html and .txt).
const (
	MailInvite            = "invite"
	MailVerify            = "verify"
	MailAlreadyRegistered = "already_registered"
	MailReset             = "reset"
	MailMagic             = "magic"
	MailPasswordChanged   = "password_changed"
)

// MailJob is the job that sends one mail (River job kind "portico_mail"). It never holds a
// secret: for a link, TokenID names the account_tokens row and the worker mints the token at
// send time (see AccountTokenMint), so no plain token is ever stored.
type MailJob struct {
	// Template is one of the Mail… names.
	Template string `json:"template"`
	// To is the recipient's address, Name the name to greet.
	To   string `json:"to"`
	Name string `json:"name"`
	// Lang is the recipient's language (contacts.language, else the request's locale).
	Lang string `json:"lang"`
	// TokenID is the account_tokens row the link carries (0 = no link token).
	TokenID int64 `json:"token_id,omitempty"`
	// Path is the local path the link opens (the token is appended as ?token=).
	Path string `json:"path,omitempty"`
	// Ticket is the subject of the ticket the mail is about ("" = none), named in its sentences.
	Ticket string `json:"ticket,omitempty"`
	// Quote is a public message the mail carries (MailTicketReply: the agent's answer).
	Quote string `json:"quote,omitempty"`
	// By names who did what the mail reports (MailTicketShared: who shared the ticket).
	By string `json:"by,omitempty"`
	// Rating names the close a MailTicketClosed asks about; the worker signs its links.
	Rating *RatingRef `json:"rating,omitempty"`
	// Guest names the ticket and recipient of a ticket notification: while guest links are on
	// (issue 16.3), the worker mints a guest link for them at send time and the mail carries it.
	Guest *GuestRef `json:"guest,omitempty"`
}

// Kind is River's job kind.
func (MailJob) Kind() string { return "portico_mail" }

// MailMaxAttempts is how often a mail is tried before it is given up (and logged as lost).
const MailMaxAttempts = 25

// inserter is an insert-only River client: it needs no pool, it inserts on the caller's tx.
var inserter = sync.OnceValues(func() (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(nil), &river.Config{})
})

// EnqueueMail inserts a mail job in tx, so the mail is sent exactly when tx commits.
func EnqueueMail(ctx context.Context, tx pgx.Tx, job MailJob) error {
	c, err := inserter()
	if err != nil {
		return err
	}
	if _, err := c.InsertTx(ctx, tx, job, &river.InsertOpts{MaxAttempts: MailMaxAttempts}); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}

// HashToken returns the SHA-256 of a link token, the only form stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newLinkToken returns 32 random bytes, base64url (43 characters).
func newLinkToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenPayload is what a self-registration link completes.
type tokenPayload struct {
	Name         string    `json:"name,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Consent      string    `json:"consent,omitempty"`
	ConsentAt    time.Time `json:"consent_at,omitzero"`
	Lang         string    `json:"lang,omitempty"`
	// SSO is the pending single sign-on a PurposeSSOConfirm link completes.
	SSO *ssoPending `json:"sso,omitempty"`
}

// tokenInsert creates a token row with an unusable placeholder hash; the mail worker replaces
// it with the hash of the token it mails (AccountTokenMint).
func tokenInsert(ctx context.Context, tx pgx.Tx, purpose string, contactID int64, email string, p tokenPayload, ttl time.Duration) (int64, error) {
	var cid *int64
	if contactID != 0 {
		cid = &contactID
	}
	raw, _ := json.Marshal(p)
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO account_tokens (token_hash, purpose, contact_id, email, payload, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING id`,
		HashToken("placeholder:"+newLinkToken()), purpose, cid, email, raw, ttl.String()).Scan(&id)
	return id, err
}

func pathFor(purpose string) string {
	switch purpose {
	case PurposeInvite:
		return "/register/invite"
	case PurposeVerify:
		return "/register/confirm"
	case PurposeReset:
		return "/password/reset"
	case PurposeMagic:
		return "/login/link/confirm"
	case PurposeSSOConfirm:
		return "/sso/confirm"
	}
	return "/"
}

// enqueueTokenMail creates a token and the mail that carries it, in tx.
func enqueueTokenMail(ctx context.Context, tx pgx.Tx, tmpl, purpose string, contactID int64, email, name, lang string, p tokenPayload, ttl time.Duration) error {
	id, err := tokenInsert(ctx, tx, purpose, contactID, email, p, ttl)
	if err != nil {
		return err
	}
	return EnqueueMail(ctx, tx, MailJob{Template: tmpl, To: email, Name: name, Lang: lang, TokenID: id, Path: pathFor(purpose)})
}

// AccountTokenMint gives token row id a fresh random token and returns it, when the row is
// still unused and unexpired (the mail worker calls it right before sending; a retry mints
// anew, so only the last mail's link works). Errors: ErrNotFound when the link is dead.
func (s *Store) AccountTokenMint(ctx context.Context, id int64) (string, error) {
	tok := newLinkToken()
	tag, err := s.Pool.Exec(ctx, `UPDATE account_tokens SET token_hash = $2
		WHERE id = $1 AND used_at IS NULL AND expires_at > now()`, id, HashToken(tok))
	if err != nil {
		return "", err
	}
	if tag.RowsAffected() == 0 {
		return "", ErrNotFound
	}
	return tok, nil
}

// TokenInfo describes a valid link token (for the page the link opens).
type TokenInfo struct {
	ID        int64
	Purpose   string
	ContactID int64
	Email     string
	ExpiresAt time.Time
}

// AccountTokenCheck returns the valid, unused token of purpose without using it. Errors:
// ErrNotFound for an unknown, used or expired token (one answer for all three).
func (s *Store) AccountTokenCheck(ctx context.Context, purpose, token string) (TokenInfo, error) {
	var t TokenInfo
	if token == "" || len(token) > 100 {
		return t, ErrNotFound
	}
	err := s.Pool.QueryRow(ctx, `SELECT id, purpose, coalesce(contact_id, 0), email, expires_at FROM account_tokens
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`, HashToken(token), purpose).
		Scan(&t.ID, &t.Purpose, &t.ContactID, &t.Email, &t.ExpiresAt)
	return t, notFound(err)
}

// tokenUse marks the token used, once: the UPDATE succeeds only for an unused, unexpired
// token, so two concurrent uses cannot both win. Errors: ErrNotFound.
func tokenUse(ctx context.Context, tx pgx.Tx, purpose, token string) (TokenInfo, tokenPayload, error) {
	var t TokenInfo
	var p tokenPayload
	var raw []byte
	if token == "" || len(token) > 100 {
		return t, p, ErrNotFound
	}
	err := tx.QueryRow(ctx, `UPDATE account_tokens SET used_at = now()
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING id, purpose, coalesce(contact_id, 0), email, expires_at, payload`, HashToken(token), purpose).
		Scan(&t.ID, &t.Purpose, &t.ContactID, &t.Email, &t.ExpiresAt, &raw)
	if err != nil {
		return t, p, notFound(err)
	}
	_ = json.Unmarshal(raw, &p)
	return t, p, nil
}

// contactAccount reads a contact by address with its account status ("" = no account).
func contactAccount(ctx context.Context, tx pgx.Tx, email string) (Contact, string, error) {
	var c Contact
	var status string
	err := tx.QueryRow(ctx, `SELECT c.id, c.email, c.name, c.language, coalesce(pa.status, '')
		FROM contacts c LEFT JOIN portal_accounts pa ON pa.contact_id = c.id WHERE lower(c.email) = lower($1)`,
		strings.TrimSpace(email)).Scan(&c.ID, &c.Email, &c.Name, &c.Language, &status)
	return c, status, notFound(err)
}

func langOr(contactLang, fallback string) string {
	if contactLang != "" {
		return contactLang
	}
	return fallback
}

// AccountPasswordResetRequest starts a password reset for email. It only enqueues a job (the
// same work for every address, so neither the answer nor its timing tells whether the address
// has an account: OWASP Forgot Password Cheat Sheet); the job (AccountTokenForRequest) mails a
// reset link, valid ResetTokenTTL, when the address belongs to an active account, in the
// recipient's language (else lang), and does nothing otherwise.
func (s *Store) AccountPasswordResetRequest(ctx context.Context, email, lang string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		return EnqueueMail(ctx, tx, MailJob{Template: MailReset, To: strings.ToLower(strings.TrimSpace(email)), Lang: lang, Path: pathFor(PurposeReset)})
	})
}

// AccountMagicLinkRequest is AccountPasswordResetRequest for a passwordless sign-in link
// (valid MagicTokenTTL, single use).
func (s *Store) AccountMagicLinkRequest(ctx context.Context, email, lang string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		return EnqueueMail(ctx, tx, MailJob{Template: MailMagic, To: strings.ToLower(strings.TrimSpace(email)), Lang: lang, Path: pathFor(PurposeMagic)})
	})
}

// AccountTokenForRequest is the mail worker's half of a reset or sign-in-link request (template
// MailReset or MailMagic): when job.To has an active account it voids the account's earlier
// links of that purpose, creates a new token row and returns the job completed with its
// TokenID, the contact's name and language (ok = true). For any other address ok is false and
// nothing is mailed.
func (s *Store) AccountTokenForRequest(ctx context.Context, job MailJob) (MailJob, bool, error) {
	purpose, ttl := PurposeReset, ResetTokenTTL
	if job.Template == MailMagic {
		purpose, ttl = PurposeMagic, MagicTokenTTL
	}
	ok := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		c, status, err := contactAccount(ctx, tx, job.To)
		if errors.Is(err, ErrNotFound) || (err == nil && status != "active") {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now()
			WHERE contact_id = $1 AND purpose = $2 AND used_at IS NULL`, c.ID, purpose); err != nil {
			return err
		}
		id, err := tokenInsert(ctx, tx, purpose, c.ID, c.Email, tokenPayload{}, ttl)
		if err != nil {
			return err
		}
		job.TokenID, job.To, job.Name, job.Lang, ok = id, c.Email, c.Name, langOr(c.Language, job.Lang), true
		return nil
	})
	return job, ok, err
}

// Registration is a self-registration request.
type Registration struct {
	Email, Name string
	// PasswordHash is the chosen password, already hashed.
	PasswordHash string
	// Consent is the consent text the customer agreed to ("" when none was asked).
	Consent string
	// Lang is the request's language.
	Lang string
}

// AccountRegister handles a self-registration. A new address gets a confirmation link
// (VerifyTokenTTL) that completes the registration; an address with an active account gets a
// "you already have an account" mail instead. Either way the caller answers the same.
// Errors: *ValidationError (email, name).
func (s *Store) AccountRegister(ctx context.Context, r Registration) error {
	email, err := NormalizeEmail(r.Email)
	if err != nil {
		return err
	}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || len([]rune(r.Name)) > 200 {
		return Invalid("name", "NameInvalid")
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		c, status, err := contactAccount(ctx, tx, email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if status == "active" {
			return EnqueueMail(ctx, tx, MailJob{Template: MailAlreadyRegistered, To: c.Email, Name: c.Name, Lang: langOr(c.Language, r.Lang)})
		}
		if status == "disabled" {
			return nil
		}
		p := tokenPayload{Name: r.Name, PasswordHash: r.PasswordHash, Consent: r.Consent, Lang: r.Lang}
		if r.Consent != "" {
			p.ConsentAt = time.Now().UTC()
		}
		return enqueueTokenMail(ctx, tx, MailVerify, PurposeVerify, c.ID, email, r.Name, langOr(c.Language, r.Lang), p, VerifyTokenTTL)
	})
}

// AccountVerify completes a self-registration with its confirmation token: the contact is
// created when new, the account activated with the chosen password and the consent stored
// with its time and exact text. Errors: ErrNotFound (bad, used or expired link), ErrConflict
// when the address got an active account meanwhile (the password is then left alone).
func (s *Store) AccountVerify(ctx context.Context, token string) (Contact, error) {
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t, p, err := tokenUse(ctx, tx, PurposeVerify, token)
		if err != nil {
			return err
		}
		c, status, err := contactAccount(ctx, tx, t.Email)
		switch {
		case errors.Is(err, ErrNotFound):
			c = Contact{Email: t.Email, Name: p.Name, Language: p.Lang}
			if err := tx.QueryRow(ctx, `INSERT INTO contacts (email, name, language) VALUES ($1, $2, $3) RETURNING id`,
				c.Email, CleanName(c.Name), c.Language).Scan(&c.ID); err != nil {
				return err
			}
			if err := s.emitWebhook(ctx, tx, WebhookEvent{Type: webhook.ContactCreated, ContactID: c.ID}); err != nil {
				return err
			}
		case err != nil:
			return err
		case status == "active" || status == "disabled":
			return ErrConflict
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_accounts (contact_id, password_hash, status) VALUES ($1, $2, 'active')
			ON CONFLICT (contact_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, status = 'active', updated_at = now()`,
			c.ID, p.PasswordHash); err != nil {
			return err
		}
		id = c.ID
		if p.Consent != "" {
			sum := sha256.Sum256([]byte(p.Consent))
			if _, err := tx.Exec(ctx, `INSERT INTO contact_consents (contact_id, consent_text, text_sha256, given_at) VALUES ($1, $2, $3, $4)`,
				c.ID, p.Consent, hex.EncodeToString(sum[:]), p.ConsentAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Contact{}, err
	}
	return s.ContactGet(ctx, id)
}

// AccountSetPasswordByToken uses an invite or reset token (purpose PurposeInvite or
// PurposeReset) to set the contact's password (already hashed), activating the account, and
// voids the contact's other reset and sign-in links. A reset also mails a "password changed"
// notice (ASVS 5.0 6.3.7). Errors: ErrNotFound (bad, used or expired link), ErrConflict for a
// disabled account.
func (s *Store) AccountSetPasswordByToken(ctx context.Context, purpose, token, hash string) (Contact, error) {
	if purpose != PurposeInvite && purpose != PurposeReset {
		return Contact{}, ErrNotFound
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t, _, err := tokenUse(ctx, tx, purpose, token)
		if err != nil {
			return err
		}
		if t.ContactID == 0 {
			return ErrNotFound
		}
		id = t.ContactID
		var status string
		_ = tx.QueryRow(ctx, `SELECT status FROM portal_accounts WHERE contact_id = $1`, id).Scan(&status)
		if status == "disabled" {
			return ErrConflict
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_accounts (contact_id, password_hash, status) VALUES ($1, $2, 'active')
			ON CONFLICT (contact_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, status = 'active', updated_at = now()`,
			id, hash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now()
			WHERE contact_id = $1 AND purpose IN ('reset', 'magic', 'invite') AND used_at IS NULL`, id); err != nil {
			return err
		}
		if purpose == PurposeReset {
			var c Contact
			if err := tx.QueryRow(ctx, `SELECT email, name, language FROM contacts WHERE id = $1`, id).Scan(&c.Email, &c.Name, &c.Language); err != nil {
				return err
			}
			return EnqueueMail(ctx, tx, MailJob{Template: MailPasswordChanged, To: c.Email, Name: c.Name, Lang: c.Language})
		}
		return nil
	})
	if err != nil {
		return Contact{}, err
	}
	return s.ContactGet(ctx, id)
}

// AccountMagicSignIn uses a passwordless sign-in token and returns its contact, whose account
// must be active. Errors: ErrNotFound (bad, used or expired link, or no active account).
func (s *Store) AccountMagicSignIn(ctx context.Context, token string) (Contact, error) {
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t, _, err := tokenUse(ctx, tx, PurposeMagic, token)
		if err != nil {
			return err
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM portal_accounts WHERE contact_id = $1`, t.ContactID).Scan(&status); err != nil || status != "active" {
			return ErrNotFound
		}
		id = t.ContactID
		return nil
	})
	if err != nil {
		return Contact{}, err
	}
	return s.ContactGet(ctx, id)
}

// AccountPasswordHash returns the contact's current password hash ("" when none).
func (s *Store) AccountPasswordHash(ctx context.Context, contactID int64) (string, error) {
	var h string
	err := s.Pool.QueryRow(ctx, `SELECT coalesce(password_hash, '') FROM portal_accounts WHERE contact_id = $1`, contactID).Scan(&h)
	return h, notFound(err)
}

// AccountPasswordChange stores a new password hash for the contact, voids its pending reset
// and sign-in links and mails a "password changed" notice. Errors: ErrNotFound.
func (s *Store) AccountPasswordChange(ctx context.Context, contactID int64, hash string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var c Contact
		if err := tx.QueryRow(ctx, `UPDATE portal_accounts pa SET password_hash = $2, updated_at = now()
			FROM contacts c WHERE c.id = pa.contact_id AND pa.contact_id = $1 RETURNING c.email, c.name, c.language`,
			contactID, hash).Scan(&c.Email, &c.Name, &c.Language); err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now()
			WHERE contact_id = $1 AND purpose IN ('reset', 'magic') AND used_at IS NULL`, contactID); err != nil {
			return err
		}
		return EnqueueMail(ctx, tx, MailJob{Template: MailPasswordChanged, To: c.Email, Name: c.Name, Lang: c.Language})
	})
}

// AccountProfileUpdate sets the contact's name and language ("" = from the browser; otherwise
// one of langs). Errors: *ValidationError (name, language), ErrNotFound.
func (s *Store) AccountProfileUpdate(ctx context.Context, contactID int64, name, lang string, langs []string) error {
	name = strings.TrimSpace(name)
	fields := map[string]string{}
	if name == "" || len([]rune(name)) > 200 {
		fields["name"] = "NameInvalid"
	}
	ok := lang == ""
	for _, l := range langs {
		ok = ok || l == lang
	}
	if !ok {
		fields["language"] = "LanguageInvalid"
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE contacts SET name = $2, language = $3 WHERE id = $1`, contactID, CleanName(name), lang)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// AccountAllowed reports whether the contact may sign in under the sign-in rules in st: with
// self-registration every active account may; in access-group mode only members of one of
// st.AccessGroups.
func (s *Store) AccountAllowed(ctx context.Context, contactID int64, st Settings) (bool, error) {
	if st.SigninMethod != SigninAccessGroups {
		return true, nil
	}
	if len(st.AccessGroups) == 0 {
		return false, nil
	}
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM access_group_members m JOIN access_groups g ON g.id = m.group_id
		WHERE m.contact_id = $1 AND lower(g.name) = ANY ($2))`, contactID, lowerAll(st.AccessGroups)).Scan(&ok)
	return ok, err
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}

// accessRules reads signin_method, access_groups and registration_link_expiry inside tx (so a
// change made earlier in tx is seen).
func accessRules(ctx context.Context, tx pgx.Tx) (Settings, error) {
	st := DefaultSettings()
	rows, err := tx.Query(ctx, `SELECT key, value FROM portal_settings WHERE key IN ('signin_method', 'access_groups', 'registration_link_expiry')`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var raw json.RawMessage
		if err := rows.Scan(&key, &raw); err != nil {
			return st, err
		}
		if err := settingDefs[key].apply(&st, raw); err != nil {
			return st, err
		}
	}
	return st, rows.Err()
}

// inviteSQL selects the members of the chosen groups that have no active account and no
// pending (unused, unexpired) registration link.
const inviteSQL = `SELECT DISTINCT c.id, c.email, c.name, c.language
	FROM access_group_members m
	JOIN access_groups g ON g.id = m.group_id
	JOIN contacts c ON c.id = m.contact_id
	LEFT JOIN portal_accounts pa ON pa.contact_id = c.id
	WHERE lower(g.name) = ANY ($1)
	  AND ($2::bigint = 0 OR c.id = $2)
	  AND coalesce(pa.status, '') NOT IN ('active', 'disabled')
	  AND ($3 OR NOT EXISTS (SELECT 1 FROM account_tokens t WHERE t.contact_id = c.id AND t.purpose = 'invite'
	                                  AND t.used_at IS NULL AND t.expires_at > now()))
	ORDER BY c.id`

// invite mails registration links to the selected members; force voids pending links first
// (a resend). It returns how many were mailed.
func invite(ctx context.Context, tx pgx.Tx, groups []string, contactID int64, force bool) (int, error) {
	st, err := accessRules(ctx, tx)
	if err != nil {
		return 0, err
	}
	if st.SigninMethod != SigninAccessGroups || len(groups) == 0 {
		return 0, nil
	}
	rows, err := tx.Query(ctx, inviteSQL, lowerAll(groups), contactID, force)
	if err != nil {
		return 0, err
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Contact, error) {
		var c Contact
		err := r.Scan(&c.ID, &c.Email, &c.Name, &c.Language)
		return c, err
	})
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if force {
			if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE contact_id = $1 AND purpose = 'invite' AND used_at IS NULL`, c.ID); err != nil {
				return 0, err
			}
		}
		if err := enqueueTokenMail(ctx, tx, MailInvite, PurposeInvite, c.ID, c.Email, c.Name, c.Language, tokenPayload{}, st.RegistrationLinkExpiry); err != nil {
			return 0, err
		}
	}
	return len(cs), nil
}

// accountsInviteGroupMembers is AccountsInviteGroupMembers inside tx.
func accountsInviteGroupMembers(ctx context.Context, tx pgx.Tx, group string) (int, error) {
	st, err := accessRules(ctx, tx)
	if err != nil {
		return 0, err
	}
	groups := st.AccessGroups
	if group != "" {
		groups = nil
		for _, g := range st.AccessGroups {
			if strings.EqualFold(strings.TrimSpace(g), strings.TrimSpace(group)) {
				groups = []string{g}
			}
		}
	}
	return invite(ctx, tx, groups, 0, false)
}

// AccountsInviteGroupMembers mails a registration link to every member of the chosen access
// groups (setting access_groups; only group when not "") who has no active account and no
// pending link. It is idempotent: a second call mails nobody new. Outside access-group mode it
// does nothing. It returns how many mails were enqueued. Callers: `portico accounts invite`,
// the admin console; the settings themselves call it when signin_method or access_groups change.
func (s *Store) AccountsInviteGroupMembers(ctx context.Context, group string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = accountsInviteGroupMembers(ctx, tx, group)
		return err
	})
	return n, err
}

// AccountInviteResend voids the contact's pending registration link and mails a new one, when
// access-group mode is on, the contact is in a chosen group and has no active account. It
// reports whether a mail was enqueued. For the admin console's "resend".
func (s *Store) AccountInviteResend(ctx context.Context, contactID int64) (bool, error) {
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		st, err := accessRules(ctx, tx)
		if err != nil {
			return err
		}
		n, err = invite(ctx, tx, st.AccessGroups, contactID, true)
		return err
	})
	return n > 0, err
}

// AccessGroupMemberAdded is the hook the group code calls in its own transaction right after it
// adds contactID to groupID: when access-group mode is on and the group is one of the chosen
// ones, the contact is mailed a registration link (unless it has an active account or a
// pending link), committed or rolled back with the membership.
func AccessGroupMemberAdded(ctx context.Context, tx pgx.Tx, groupID, contactID int64) error {
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM access_groups WHERE id = $1`, groupID).Scan(&name); err != nil {
		return notFound(err)
	}
	st, err := accessRules(ctx, tx)
	if err != nil {
		return err
	}
	for _, g := range st.AccessGroups {
		if strings.EqualFold(strings.TrimSpace(g), name) {
			_, err := invite(ctx, tx, []string{g}, contactID, false)
			return err
		}
	}
	return nil
}

// ContactByEmail returns the contact with the address (case-insensitive). Errors: ErrNotFound.
func (s *Store) ContactByEmail(ctx context.Context, email string) (Contact, error) {
	var id int64
	if err := s.Pool.QueryRow(ctx, `SELECT id FROM contacts WHERE lower(email) = lower($1)`, strings.TrimSpace(email)).Scan(&id); err != nil {
		return Contact{}, notFound(err)
	}
	return s.ContactGet(ctx, id)
}

// AccountTokensPurge deletes link tokens that expired or were used more than a week ago and
// returns how many (the job queue runs it hourly).
func (s *Store) AccountTokensPurge(ctx context.Context) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM account_tokens
		WHERE expires_at < now() - interval '7 days' OR used_at < now() - interval '7 days'`)
	return tag.RowsAffected(), err
}
