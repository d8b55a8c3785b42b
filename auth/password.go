// Package auth holds identities, Redis sessions, password hashing and CSRF helpers.
package auth

import (
	"github.com/alexedwards/argon2id"
)

// PasswordParams are the argon2id parameters for new hashes: RFC 9106 §4 second recommended
// option scaled to a web server (64 MiB, 1 pass, 2 lanes would be slower; OWASP Password Storage
// Cheat Sheet: m=19 MiB, t=2, p=1).
var PasswordParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// HashPassword returns a PHC-formatted argon2id hash of password.
func HashPassword(password string) (string, error) {
	return argon2id.CreateHash(password, PasswordParams)
}

// dummyHash is compared against when an account does not exist, so that a wrong email costs
// as much time as a wrong password (no account enumeration by timing).
var dummyHash, _ = argon2id.CreateHash("portico-dummy-password", PasswordParams)

// CheckPassword reports whether password matches hash. An empty hash (no account, or an account
// without a password) still spends the time of one comparison and returns false.
func CheckPassword(password, hash string) bool {
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, dummyHash)
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// MinPasswordRunes and MaxPasswordRunes bound passwords (NIST SP 800-63B §5.1.1.2).
const (
	MinPasswordRunes = 8
	MaxPasswordRunes = 256
)
