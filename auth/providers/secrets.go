// Package providers holds Portico's identity-provider protocols, one file per protocol:
// oidc.go (goth: Google, Microsoft, Okta, any OpenID provider), saml.go (crewjam/saml SP) and
// jwt.go (golang-jwt: the customer's own app signs a token). Build turns an
// identity_providers cfg into an auth.Provider; secrets.go seals the cfg's secrets.
package providers

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// sealVersion prefixes every sealed blob, so that the format can change later.
const sealVersion = 1

// Sealer encrypts provider secrets at rest with AES-256-GCM under a key derived from
// PORTICO_SECRET_KEY with HKDF-SHA256 (RFC 5869, info "portico identity-provider secrets v1").
// The provider's slug is the additional data, so a blob copied to another cfg does not open.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the key from secretKey (32 random bytes; at least 16 are required).
func NewSealer(secretKey []byte) (*Sealer, error) {
	return NewSealerFor(secretKey, "portico identity-provider secrets v1")
}

// TOTPSealerInfo is the HKDF info of the key that seals staff TOTP secrets: a key of its own,
// never the identity-provider one.
const TOTPSealerInfo = "portico staff totp secrets v1"

// NewSealerFor is NewSealer with the HKDF info string info (RFC 5869 §3.2: one info per use,
// so that each use gets an independent key from the same PORTICO_SECRET_KEY).
func NewSealerFor(secretKey []byte, info string) (*Sealer, error) {
	if len(secretKey) < 16 {
		return nil, errors.New("PORTICO_SECRET_KEY is too short to seal secrets")
	}
	key, err := hkdf.Key(sha256.New, secretKey, nil, info, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secrets (JSON) bound to slug: version byte, 12-byte random nonce, ciphertext.
// An empty map seals to nil.
func (s *Sealer) Seal(slug string, secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(slug)), nil
}

// Open decrypts a blob sealed for slug. A nil blob opens to an empty map. Errors: the blob
// was sealed with another key or for another slug, or is damaged.
func (s *Sealer) Open(slug string, blob []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(blob) == 0 {
		return out, nil
	}
	n := s.aead.NonceSize()
	if len(blob) < 1+n || blob[0] != sealVersion {
		return nil, errors.New("provider secrets: unknown format")
	}
	plain, err := s.aead.Open(nil, blob[1:1+n], blob[1+n:], []byte(slug))
	if err != nil {
		return nil, fmt.Errorf("provider secrets of %s do not open with this PORTICO_SECRET_KEY: %w", slug, err)
	}
	return out, json.Unmarshal(plain, &out)
}
