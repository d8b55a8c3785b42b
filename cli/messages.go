package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"portico/auth"
	"portico/handlers"
	"portico/sql/store"
)

var (
	englishOnce sync.Once
	english     *handlers.Locale
)

// englishT renders a catalogue message in English for operator output (the CLI speaks English,
// like its flags and usage text).
func englishT(id string, args ...any) string {
	englishOnce.Do(func() {
		if cat, err := handlers.NewCatalogue(); err == nil {
			english = cat.Match("en")
		}
	})
	if english == nil {
		return id
	}
	return english.T(id, args...)
}

// checkPassword applies the portal's password rules (auth.CheckNewPassword: NIST SP 800-63B
// length and the common-password list) to a password given to the CLI. It returns an error
// naming the command, or nil.
func checkPassword(cmd, pw string) error {
	if id := auth.CheckNewPassword(pw); id != "" {
		return fmt.Errorf("%s: %s", cmd, englishT(id, "Min", auth.MinPasswordRunes, "Max", auth.MaxPasswordRunes))
	}
	return nil
}

// describe turns store errors into an operator-readable line: field problems in words from the
// catalogue, conflicts as "already exists".
func describe(cmd string, err error) error {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		parts := []string{}
		for f, m := range ve.Fields {
			parts = append(parts, "--"+f+": "+englishT(m, "Max", store.MaxReplyRunes))
		}
		sort.Strings(parts)
		return fmt.Errorf("%s: %s", cmd, strings.Join(parts, "; "))
	}
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%s: already exists (%v)", cmd, strings.TrimSuffix(err.Error(), ": conflict"))
	}
	return fmt.Errorf("%s: %w", cmd, err)
}
