package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"
)

// TOTP parameters (RFC 6238 defaults, the only ones every authenticator app supports):
// HMAC-SHA1, 6 digits, 30-second steps, 160-bit secrets.
const (
	TOTPPeriod     = 30
	TOTPDigits     = 6
	totpSecretSize = 20
)

// TOTPPendingTTL is how long a sign-in waits for its code after the right password.
const TOTPPendingTTL = 5 * time.Minute

// TOTPEnrolTTL is how long an unconfirmed secret waits for its first code.
const TOTPEnrolTTL = 15 * time.Minute

// TOTPStep returns the RFC 6238 time step of t (unix seconds / 30).
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// NewTOTPKey returns a fresh random secret for account (an email) at issuer (the portal's
// name), as an otpauth:// key: Key.Secret() is the base32 secret, Key.URL() the otpauth URL
// and Key.Image() a QR code of it.
func NewTOTPKey(issuer, account string) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: TOTPPeriod,
		SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// NormalizeTOTPCode removes the spaces and dashes people type into a code.
func NormalizeTOTPCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, code)
}

// TOTPVerify checks code against the base32 secret at now, allowing one step of clock skew
// either way (RFC 6238 §5.2), and accepts only a step later than lastStep (§5.2: "the verifier
// MUST NOT accept the second attempt of the OTP after the successful validation"). It returns
// the matched step, to be recorded as the new last step. Every candidate is compared in
// constant time.
func TOTPVerify(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = NormalizeTOTPCode(code)
	if len(code) != TOTPDigits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := TOTPStep(now)
	var matched int64
	ok := false
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totp.ValidateOpts{
			Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && !ok {
			matched, ok = step, true
		}
	}
	return matched, ok
}

// PendingSignIn is a staff sign-in whose password was right and whose TOTP code is awaited.
type PendingSignIn struct {
	StaffID  int64  `json:"staff_id"`
	Email    string `json:"email"`
	ReturnTo string `json:"return_to"`
}

// SecondFactor keeps the short-lived TOTP state in Redis, bound to a browser session id:
// <prefix>2fa:signin:<session id> (a PendingSignIn, TOTPPendingTTL) and
// <prefix>2fa:enrol:<session id> (a sealed unconfirmed secret, TOTPEnrolTTL).
type SecondFactor struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewSecondFactor returns the TOTP state store over rdb with the key prefix (e.g. "portico:").
func NewSecondFactor(rdb redis.UniversalClient, prefix string) *SecondFactor {
	return &SecondFactor{rdb: rdb, prefix: prefix + "2fa:"}
}

// PutSignIn records p as awaiting its code in the browser session sessionID.
func (f *SecondFactor) PutSignIn(ctx context.Context, sessionID string, p PendingSignIn) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return f.rdb.Set(ctx, f.prefix+"signin:"+sessionID, b, TOTPPendingTTL).Err()
}

// SignIn returns the sign-in awaiting its code in session sessionID (false: none or expired).
func (f *SecondFactor) SignIn(ctx context.Context, sessionID string) (PendingSignIn, bool, error) {
	var p PendingSignIn
	b, err := f.rdb.Get(ctx, f.prefix+"signin:"+sessionID).Bytes()
	if errors.Is(err, redis.Nil) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("pending sign-in: %w", err)
	}
	return p, true, json.Unmarshal(b, &p)
}

// TakeSignIn deletes the pending sign-in of sessionID and reports whether it was still there
// (exactly one caller wins).
func (f *SecondFactor) TakeSignIn(ctx context.Context, sessionID string) (bool, error) {
	n, err := f.rdb.Del(ctx, f.prefix+"signin:"+sessionID).Result()
	return n == 1, err
}

// PutEnrolment keeps the sealed unconfirmed secret of the staff session sessionID.
func (f *SecondFactor) PutEnrolment(ctx context.Context, sessionID string, sealed []byte) error {
	return f.rdb.Set(ctx, f.prefix+"enrol:"+sessionID, sealed, TOTPEnrolTTL).Err()
}

// Enrolment returns the sealed unconfirmed secret of session sessionID (nil: none or expired).
func (f *SecondFactor) Enrolment(ctx context.Context, sessionID string) ([]byte, error) {
	b, err := f.rdb.Get(ctx, f.prefix+"enrol:"+sessionID).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// DropEnrolment forgets the unconfirmed secret of session sessionID.
func (f *SecondFactor) DropEnrolment(ctx context.Context, sessionID string) error {
	return f.rdb.Del(ctx, f.prefix+"enrol:"+sessionID).Err()
}
