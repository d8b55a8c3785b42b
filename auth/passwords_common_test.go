package auth

import (
	"strings"
	"testing"
)

func TestCommonPasswordListShipped(t *testing.T) {
	if n := CommonPasswordCount(); n < 10_000 {
		t.Fatalf("common-password list has %d entries, want at least 10,000", n)
	}
	for pw, want := range map[string]string{
		"short":                     PasswordTooShort,
		"password1":                 PasswordCommon,
		"PassWord1":                 PasswordCommon, // case-insensitive
		"qwertyuiop":                PasswordCommon,
		"lantern orbit cactus":      "",
		"abcdefgh":                  PasswordCommon,
		"zq8!x-éü":                  "", // 8 characters (more bytes): long enough
		strings.Repeat("ab ", 22):   "", // 66 characters: ≥64 allowed
		strings.Repeat("x", 257):    PasswordTooLong,
		"no composition rules here": "",
	} {
		if got := CheckNewPassword(pw); got != want {
			t.Errorf("CheckNewPassword(%q) = %q, want %q", pw, got, want)
		}
	}
}
