package inbound

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
)

// TokenInfo is the HKDF info of the reply-token key (RFC 5869 §3.2: one key per use of
// PORTICO_SECRET_KEY).
const TokenInfo = "portico mail reply token v1"

// Tokens signs and checks the ticket-bound token in Portico's reply addresses:
// support+t<ticket>-<mac>@example.com, the mac being the first 80 bits of HMAC-SHA256 over
// "ticket:<id>" under a key derived from PORTICO_SECRET_KEY (base32, lower case, 16 characters).
type Tokens struct{ key []byte }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTokens derives the key from secretKey (at least 16 bytes). Errors: a short key.
func NewTokens(secretKey []byte) (*Tokens, error) {
	if len(secretKey) < 16 {
		return nil, errors.New("PORTICO_SECRET_KEY is too short to sign reply addresses")
	}
	k, err := hkdf.Key(sha256.New, secretKey, nil, TokenInfo, 32)
	if err != nil {
		return nil, err
	}
	return &Tokens{key: k}, nil
}

func (t *Tokens) mac(ticketID int64) string {
	h := hmac.New(sha256.New, t.key)
	h.Write([]byte("ticket:" + strconv.FormatInt(ticketID, 10)))
	return strings.ToLower(b32.EncodeToString(h.Sum(nil)[:10]))
}

// ReplyAddress returns the inbox address with the ticket's token as plus-address detail:
// ReplyAddress("support@example.com", 12) = "support+t12-<mac>@example.com". An address
// without "@" is returned unchanged.
func (t *Tokens) ReplyAddress(inboxAddr string, ticketID int64) string {
	local, domain, ok := strings.Cut(inboxAddr, "@")
	if !ok {
		return inboxAddr
	}
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	return local + "+t" + strconv.FormatInt(ticketID, 10) + "-" + t.mac(ticketID) + "@" + domain
}

// Token results of Check.
const (
	TokenNone    = iota // the address carries no token
	TokenValid          // a token signed by us: the ticket id is returned
	TokenInvalid        // something that looks like a token but does not verify
)

// Check looks for a reply token in addr ("support+t12-mac@example.com") and verifies it in
// constant time. It returns the ticket id and TokenValid, or TokenNone/TokenInvalid.
func (t *Tokens) Check(addr string) (int64, int) {
	local, _, ok := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok {
		return 0, TokenNone
	}
	_, detail, ok := strings.Cut(local, "+")
	if !ok || !strings.HasPrefix(detail, "t") {
		return 0, TokenNone
	}
	idPart, mac, ok := strings.Cut(detail[1:], "-")
	if !ok {
		return 0, TokenInvalid
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return 0, TokenInvalid
	}
	if !hmac.Equal([]byte(mac), []byte(t.mac(id))) {
		return 0, TokenInvalid
	}
	return id, TokenValid
}

// BaseAddress returns addr without its plus-address detail, lower-cased: the inbox address a
// reply address belongs to.
func BaseAddress(addr string) string {
	local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok {
		return strings.ToLower(strings.TrimSpace(addr))
	}
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	return local + "@" + domain
}
