package auth

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestTOTPVerify(t *testing.T) {
	key, err := NewTOTPKey("Portico", "ada@portico.test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_015, 0) // mid-step
	step := TOTPStep(now)
	code := func(d time.Duration) string {
		c, err := totp.GenerateCode(key.Secret(), now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		ok       bool
	}{
		{"current", code(0), 0, step, true},
		{"with spaces", code(0)[:3] + " " + code(0)[3:], 0, step, true},
		{"previous step (skew)", code(-30 * time.Second), 0, step - 1, true},
		{"next step (skew)", code(30 * time.Second), 0, step + 1, true},
		{"two steps back", code(-60 * time.Second), 0, 0, false},
		{"two steps ahead", code(60 * time.Second), 0, 0, false},
		{"replay of the current step", code(0), step, 0, false},
		{"older than the last used", code(-30 * time.Second), step, 0, false},
		{"later than the last used", code(30 * time.Second), step, step + 1, true},
		{"letters", "abcdef", 0, 0, false},
		{"too short", "12345", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		got, ok := TOTPVerify(key.Secret(), tc.code, now, tc.last)
		if ok != tc.ok || ok && got != tc.wantStep {
			t.Errorf("%s: step %d ok %v, want %d %v", tc.name, got, ok, tc.wantStep, tc.ok)
		}
	}
}
