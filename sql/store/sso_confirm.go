package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/auth"
)

// PurposeSSOConfirm is the purpose of the link that confirms an address a single sign-on
// brought without verifying it (issue 10).
const PurposeSSOConfirm = "sso_confirm"

// MailSSOConfirm is the template of the mail carrying that link (catalogue keys
// MailSsoConfirm…).
const MailSSOConfirm = "sso_confirm"

// SSOConfirmTTL is how long an SSO confirmation link works.
const SSOConfirmTTL = time.Hour

// ssoConfirmPerHour bounds the confirmation mails one address receives in an hour, whoever
// signs in with it (an IdP account claiming someone else's address must not flood them).
const ssoConfirmPerHour = 3

// ssoPending is a sign-in waiting for its address to be confirmed (the token's payload).
type ssoPending struct {
	ProviderID int64         `json:"provider_id"`
	Identity   auth.Identity `json:"identity"`
	ReturnTo   string        `json:"return_to,omitempty"`
	// Binding is the SHA-256 (hex) of the browser session that signed in: the link completes
	// the sign-in only in that browser, so confirming proves one person holds both the IdP
	// account and the mailbox (a link opened elsewhere links nobody).
	Binding string `json:"binding"`
}

// SSOBindingHash returns the stored form of a browser binding (the session id): hex SHA-256.
func SSOBindingHash(sessionID string) string {
	h := sha256.Sum256([]byte("sso-confirm:" + sessionID))
	return hex.EncodeToString(h[:])
}

// SSOConfirmRequest keeps a sign-in at provider p whose address id.Email is not verified and
// mails a confirmation link (valid SSOConfirmTTL, single use) to that address, in lang; the
// link completes the sign-in only in the browser whose session id is binding. Nothing else is
// written: no contact, no link, so no ticket of that address becomes visible. Earlier pending
// links of the same provider and address are voided; beyond ssoConfirmPerHour mails per address
// and hour no mail is sent (sent reports whether one was). Errors: *ValidationError (email).
func (s *Store) SSOConfirmRequest(ctx context.Context, p IdentityProvider, id auth.Identity, returnTo, binding, lang string) (sent bool, err error) {
	email, err := NormalizeEmail(id.Email)
	if err != nil {
		return false, err
	}
	id.Email = email
	id.Claims = nil // the raw claims are for the admin test mode only; the token keeps the identity
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var recent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM account_tokens
			WHERE purpose = $1 AND lower(email) = $2 AND created_at > now() - interval '1 hour'`, PurposeSSOConfirm, email).Scan(&recent); err != nil {
			return err
		}
		if recent >= ssoConfirmPerHour {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now()
			WHERE purpose = $1 AND lower(email) = $2 AND used_at IS NULL AND (payload->'sso'->>'provider_id')::bigint = $3`,
			PurposeSSOConfirm, email, p.ID); err != nil {
			return err
		}
		pl := tokenPayload{Name: id.Name, Lang: lang, SSO: &ssoPending{ProviderID: p.ID, Identity: id, ReturnTo: returnTo, Binding: SSOBindingHash(binding)}}
		sent = true
		return enqueueTokenMail(ctx, tx, MailSSOConfirm, PurposeSSOConfirm, 0, email, id.Name, lang, pl, SSOConfirmTTL)
	})
	return sent, err
}

// SSOConfirmed is a sign-in completed by its confirmation link.
type SSOConfirmed struct {
	Contact  Contact
	Provider IdentityProvider
	ReturnTo string
}

// SSOConfirm completes a pending sign-in with its link token, in the browser whose session id
// is binding: the token is used (once), and the access decision of SSOSignIn runs with the
// address now verified by the link, in the same transaction. Errors: ErrNotFound for an
// unknown, used or expired token; *SSORefusal auth.ReasonExpiredFlow when binding is not the browser
// that signed in (the token stays usable there), auth.ReasonUnavailable when the provider was disabled
// or deleted meanwhile, and SSOSignIn's refusals.
func (s *Store) SSOConfirm(ctx context.Context, token, binding string) (SSOConfirmed, error) {
	var out SSOConfirmed
	err := s.ssoTx(ctx, func(tx pgx.Tx) error {
		_, pl, err := tokenUse(ctx, tx, PurposeSSOConfirm, token)
		if err != nil {
			return err
		}
		if pl.SSO == nil {
			return ErrNotFound
		}
		if subtle.ConstantTimeCompare([]byte(pl.SSO.Binding), []byte(SSOBindingHash(binding))) != 1 {
			return &SSORefusal{Reason: auth.ReasonExpiredFlow, Detail: "the confirmation link was opened in another browser than the one that signed in"}
		}
		p, err := scanProvider(tx.QueryRow(ctx, `SELECT `+providerCols+` FROM identity_providers WHERE id = $1`, pl.SSO.ProviderID))
		if errors.Is(err, ErrNotFound) || (err == nil && !p.Enabled) {
			return &SSORefusal{Reason: auth.ReasonUnavailable, Detail: fmt.Sprintf("provider %d is disabled or deleted", pl.SSO.ProviderID)}
		}
		if err != nil {
			return err
		}
		id := pl.SSO.Identity
		id.EmailVerified = true // by Portico's own mail
		c, err := s.ssoSignInTx(ctx, tx, p, id)
		if err != nil {
			return err
		}
		out = SSOConfirmed{Contact: c, Provider: p, ReturnTo: pl.SSO.ReturnTo}
		return nil
	})
	if err != nil {
		return SSOConfirmed{}, err
	}
	out.Contact, err = s.ContactGet(ctx, out.Contact.ID)
	return out, err
}
