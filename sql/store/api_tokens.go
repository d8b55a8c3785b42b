package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"portico/sql/db"
)

// API token kinds (api_tokens.kind).
const (
	TokenCustomer = "customer"
	TokenAdmin    = "admin"
)

// Token prefixes: a customer's personal access token and an admin API key are recognisable by
// their first characters (secret scanners, logs, a person reading a config file).
const (
	CustomerTokenPrefix = "portico_pat_"
	AdminKeyPrefix      = "portico_key_"
)

// Admin API key scopes.
const (
	ScopeTicketsRead  = "tickets:read"
	ScopeTicketsWrite = "tickets:write"
	ScopeContacts     = "contacts"
	ScopeCompanies    = "companies"
	ScopeGroups       = "groups"
	ScopeSettingsRead = "settings:read"
)

// AdminScopes are every scope an admin API key may carry, in display order.
var AdminScopes = []string{ScopeTicketsRead, ScopeTicketsWrite, ScopeContacts, ScopeCompanies, ScopeGroups, ScopeSettingsRead}

// tokenSecretLen is the length of a token's random part: 32 bytes, base64url without padding.
const tokenSecretLen = 43

// newAPIToken returns a fresh token with prefix (32 random bytes, base64url) and its SHA-256.
func newAPIToken(prefix string) (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := cryptoRand(b); err != nil {
		return "", nil, fmt.Errorf("token: %w", err)
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

// tokenHint is what lists show of a token: its prefix and the first 4 random characters.
func tokenHint(tok string) string {
	return tok[:len(tok)-tokenSecretLen+4] + "…"
}

// wellFormedToken reports whether s has the shape of one of our tokens (so that garbage never
// costs a query).
func wellFormedToken(s string) bool {
	for _, p := range []string{CustomerTokenPrefix, AdminKeyPrefix} {
		if rest, ok := strings.CutPrefix(s, p); ok && len(rest) == tokenSecretLen {
			_, err := base64.RawURLEncoding.DecodeString(rest)
			return err == nil
		}
	}
	return false
}

// APIPrincipal is who a bearer token acts for.
type APIPrincipal struct {
	TokenID int64
	// Kind is TokenCustomer or TokenAdmin.
	Kind string
	// ContactID and CompanyID: the customer (customer tokens only; CompanyID 0 = none).
	ContactID, CompanyID int64
	// Scopes of an admin key.
	Scopes []string
	// ExpiresAt is when the token stops working (nil: never); caches must not serve it past then.
	ExpiresAt *time.Time
}

// Has reports whether an admin key carries scope (customer tokens carry none).
func (p APIPrincipal) Has(scope string) bool {
	return p.Kind == TokenAdmin && slices.Contains(p.Scopes, scope)
}

// APIAuthenticate returns the principal of a bearer token: a live token (not revoked, not
// expired; a customer token's portal account active). Its last-used time is stamped at most
// once a minute. Errors: ErrNotFound (unknown, malformed, revoked, expired or disabled: one
// answer for all), database errors.
func (s *Store) APIAuthenticate(ctx context.Context, token string) (APIPrincipal, error) {
	if !wellFormedToken(token) {
		return APIPrincipal{}, ErrNotFound
	}
	h := sha256.Sum256([]byte(token))
	q := db.New(s.Pool)
	row, err := q.ApiTokenAuthenticate(ctx, h[:])
	if err != nil {
		return APIPrincipal{}, fmt.Errorf("api token: %w", notFound(err))
	}
	if !row.LastUsedAt.Valid || time.Since(row.LastUsedAt.Time) > time.Minute {
		if err := q.ApiTokenTouch(ctx, row.ID); err != nil {
			return APIPrincipal{}, fmt.Errorf("api token: %w", err)
		}
	}
	return APIPrincipal{TokenID: row.ID, Kind: row.Kind, ContactID: row.ContactID, CompanyID: row.CompanyID, Scopes: row.Scopes,
		ExpiresAt: timeOf(row.ExpiresAt)}, nil
}

// APITokenTouch records a use of the token id now (last_used_at); callers that authenticate
// from a cache touch at most once a minute, as APIAuthenticate does. Errors: database errors.
func (s *Store) APITokenTouch(ctx context.Context, id int64) error {
	if err := db.New(s.Pool).ApiTokenTouch(ctx, id); err != nil {
		return fmt.Errorf("api token: %w", err)
	}
	return nil
}

// APIToken is one token as its owner's list shows it (never the token itself).
type APIToken struct {
	ID        int64
	Name      string
	Hint      string
	Scopes    []string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt *time.Time
	LastUsed  *time.Time
	RevokedAt *time.Time
}

// Active reports whether the token still works at now.
func (t APIToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || t.ExpiresAt.After(now))
}

// TokenExpiryDays are the lifetimes a token may be given, in days (0 = never expires).
var TokenExpiryDays = []int{30, 90, 365, 0}

// validateTokenInput checks a token's name (1–100 characters) and lifetime (TokenExpiryDays).
// Errors: *ValidationError with "name" → "TokenNameRequired"/"TokenNameTooLong" or "expires" →
// "TokenExpiryInvalid".
func validateTokenInput(name string, days int) error {
	ve := &ValidationError{Fields: map[string]string{}}
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		ve.Fields["name"] = "TokenNameRequired"
	case n > 100:
		ve.Fields["name"] = "TokenNameTooLong"
	}
	if !slices.Contains(TokenExpiryDays, days) {
		ve.Fields["expires"] = "TokenExpiryInvalid"
	}
	if len(ve.Fields) > 0 {
		return ve
	}
	return nil
}

// timeOf and tsOf convert a nullable timestamptz between sqlc's and our shape.
func timeOf(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

func tsOf(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}

func expiryOf(days int) *time.Time {
	if days == 0 {
		return nil
	}
	t := time.Now().Add(time.Duration(days) * 24 * time.Hour)
	return &t
}

// APITokenCreateForContact creates a personal access token for a contact, named name, valid
// for days (TokenExpiryDays; 0 = no expiry), and returns the token (shown once: only its
// SHA-256 is stored). Errors: *ValidationError (name, expires), database errors.
func (s *Store) APITokenCreateForContact(ctx context.Context, contactID int64, name string, days int) (string, error) {
	name = strings.TrimSpace(name)
	if err := validateTokenInput(name, days); err != nil {
		return "", err
	}
	tok, h, err := newAPIToken(CustomerTokenPrefix)
	if err != nil {
		return "", err
	}
	_, err = db.New(s.Pool).ApiTokenInsert(ctx, db.ApiTokenInsertParams{Kind: TokenCustomer, ContactID: &contactID, Name: name,
		TokenHash: h, Hint: tokenHint(tok), Scopes: []string{}, ExpiresAt: tsOf(expiryOf(days))})
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return tok, nil
}

// APITokenListForContact returns the contact's tokens, newest first (revoked ones too).
func (s *Store) APITokenListForContact(ctx context.Context, contactID int64) ([]APIToken, error) {
	rows, err := db.New(s.Pool).ApiTokenListForContact(ctx, &contactID)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = APIToken{ID: r.ID, Name: r.Name, Hint: r.Hint, CreatedAt: r.CreatedAt, ExpiresAt: timeOf(r.ExpiresAt), LastUsed: timeOf(r.LastUsedAt), RevokedAt: timeOf(r.RevokedAt)}
	}
	return out, nil
}

// APITokenRevokeForContact revokes one of the contact's tokens at once (every instance: each
// request looks the token up). Errors: ErrNotFound (not the contact's, or already revoked).
func (s *Store) APITokenRevokeForContact(ctx context.Context, contactID, id int64) error {
	n, err := db.New(s.Pool).ApiTokenRevokeForContact(ctx, db.ApiTokenRevokeForContactParams{ID: id, ContactID: &contactID})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revoke token %d: %w", id, ErrNotFound)
	}
	return nil
}

// APIKeyCreate creates an admin API key with scopes (a subset of AdminScopes, at least one),
// created by staff user staffID, and writes an audit row (key "api_key:ID"; never the key).
// It returns the key (shown once). Errors: *ValidationError (name, expires, scopes), database
// errors.
func (s *Store) APIKeyCreate(ctx context.Context, staffID int64, name string, scopes []string, days int) (string, error) {
	name = strings.TrimSpace(name)
	err := validateTokenInput(name, days)
	ve, _ := err.(*ValidationError)
	if ve == nil {
		ve = &ValidationError{Fields: map[string]string{}}
	}
	var clean []string
	for _, sc := range AdminScopes {
		if slices.Contains(scopes, sc) {
			clean = append(clean, sc)
		}
	}
	if len(clean) == 0 || len(clean) != len(slices.Compact(slices.Sorted(slices.Values(scopes)))) {
		ve.Fields["scopes"] = "APIKeyScopesInvalid"
	}
	if len(ve.Fields) > 0 {
		return "", ve
	}
	tok, h, err := newAPIToken(AdminKeyPrefix)
	if err != nil {
		return "", err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var by *int64
		if staffID != 0 {
			by = &staffID
		}
		row, err := db.New(tx).ApiTokenInsert(ctx, db.ApiTokenInsertParams{Kind: TokenAdmin, Name: name, TokenHash: h, Hint: tokenHint(tok),
			Scopes: clean, CreatedByStaffID: by, ExpiresAt: tsOf(expiryOf(days))})
		if err != nil {
			return err
		}
		after := name + " (" + strings.Join(clean, " ") + ")"
		if days > 0 {
			after += ", expires " + expiryOf(days).UTC().Format("2006-01-02")
		}
		return auditByStaffID(ctx, tx, staffID, "api_key:"+strconv.FormatInt(row.ID, 10), "", after)
	})
	if err != nil {
		return "", fmt.Errorf("create API key: %w", err)
	}
	return tok, nil
}

// APIKeyList returns every admin API key, newest first (revoked ones too).
func (s *Store) APIKeyList(ctx context.Context) ([]APIToken, error) {
	rows, err := db.New(s.Pool).ApiTokenListAdmin(ctx)
	if err != nil {
		return nil, fmt.Errorf("API keys: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = APIToken{ID: r.ID, Name: r.Name, Hint: r.Hint, Scopes: r.Scopes, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
			ExpiresAt: timeOf(r.ExpiresAt), LastUsed: timeOf(r.LastUsedAt), RevokedAt: timeOf(r.RevokedAt)}
	}
	return out, nil
}

// APIKeyRevoke revokes an admin API key and writes an audit row by staffID. Errors:
// ErrNotFound (no such live key), database errors.
func (s *Store) APIKeyRevoke(ctx context.Context, staffID, id int64) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		name, err := db.New(tx).ApiTokenRevokeAdmin(ctx, id)
		if err != nil {
			return notFound(err)
		}
		return auditByStaffID(ctx, tx, staffID, "api_key:"+strconv.FormatInt(id, 10), name, "revoked")
	})
	if err != nil {
		return fmt.Errorf("revoke API key %d: %w", id, err)
	}
	return nil
}

// IdempotentResponse is the stored answer of an idempotency key.
type IdempotentResponse struct {
	Status   int
	Body     []byte
	Location string
}

// ErrIdempotencyInFlight: the key's first request has not been answered yet (wrapped in
// ErrConflict). ErrIdempotencyMismatch: the key was used with another request.
var (
	ErrIdempotencyInFlight = fmt.Errorf("%w: idempotency key in use", ErrConflict)
	ErrIdempotencyMismatch = errors.New("idempotency key reused with another request")
)

// APIIdempotencyClaim claims key for token with the request's fingerprint (a hash of method,
// path and body). It returns (nil, nil) when the claim is new: run the request, then call
// APIIdempotencyComplete (or APIIdempotencyRelease). A key seen before returns its stored
// response; errors ErrIdempotencyInFlight (not answered yet) and ErrIdempotencyMismatch (another
// request used it). Keys are kept 24 hours, in PostgreSQL, so every instance sees them.
func (s *Store) APIIdempotencyClaim(ctx context.Context, tokenID int64, key string, fingerprint []byte) (*IdempotentResponse, error) {
	q := db.New(s.Pool)
	n, err := q.ApiIdempotencyClaim(ctx, db.ApiIdempotencyClaimParams{TokenID: tokenID, Key: key, Fingerprint: fingerprint})
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	if n == 1 {
		return nil, nil
	}
	row, err := q.ApiIdempotencyGet(ctx, db.ApiIdempotencyGetParams{TokenID: tokenID, Key: key})
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", notFound(err))
	}
	if string(row.Fingerprint) != string(fingerprint) {
		return nil, ErrIdempotencyMismatch
	}
	if row.Status == nil {
		return nil, ErrIdempotencyInFlight
	}
	return &IdempotentResponse{Status: int(*row.Status), Body: row.Body, Location: row.Location}, nil
}

// APIIdempotencyComplete stores the response of a claimed key.
func (s *Store) APIIdempotencyComplete(ctx context.Context, tokenID int64, key string, r IdempotentResponse) error {
	st := int32(r.Status)
	return db.New(s.Pool).ApiIdempotencyComplete(ctx, db.ApiIdempotencyCompleteParams{TokenID: tokenID, Key: key, Status: &st, Body: r.Body, Location: r.Location})
}

// APIIdempotencyRelease drops an unanswered claim (the request failed with a 5xx): a retry
// with the same key runs again.
func (s *Store) APIIdempotencyRelease(ctx context.Context, tokenID int64, key string) error {
	return db.New(s.Pool).ApiIdempotencyRelease(ctx, db.ApiIdempotencyReleaseParams{TokenID: tokenID, Key: key})
}

// APIIdempotencyPurge deletes idempotency keys older than 24 hours and returns how many.
func (s *Store) APIIdempotencyPurge(ctx context.Context) (int64, error) {
	return db.New(s.Pool).ApiIdempotencyPurge(ctx)
}
