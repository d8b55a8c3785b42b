package handlers

import (
	"encoding/json"
	"testing"
)

// TestClaimText checks that numeric claims print as written in the token, not as floats.
func TestClaimText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{float64(1796026384), "1796026384"}, {float64(0), "0"}, {float64(-5), "-5"}, {1.5, "1.5"},
		{json.Number("12"), "12"}, {"bob", "bob"}, {true, "true"}, {int64(7), "7"},
		{[]any{"a", float64(1700000000)}, "[a 1700000000]"},
	} {
		if got := claimText(tc.in); got != tc.want {
			t.Errorf("claimText(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
