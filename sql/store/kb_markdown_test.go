package store

import (
	"strings"
	"testing"
)

// TestPlainExcerpt checks that an excerpt shows the words a reader sees and no Markdown.
func TestPlainExcerpt(t *testing.T) {
	for md, want := range map[string]string{
		"# Reset your password\n\nOpen **Settings** and choose _Security_.":    "Open Settings and choose Security.",
		"See [the guide](https://example.com/guide) or <https://example.com>.": "See the guide or https://example.com.",
		"![logo](/logo.png) Intro\n\n- one\n- two\n\n1. first":                 "Intro one two first",
		"| A | B |\n|---|---|\n| x | y |":                                      "A B x y",
		"Text `code` here\n\n```go\nfmt.Println()\n```\n\n> quoted ~~old~~":    "Text code here quoted old",
		"<div>raw</div>\n\nAfter <b>bold</b> end":                              "After bold end",
		"Plain snake_case and 5 * 3 stay":                                      "Plain snake_case and 5 * 3 stay",
	} {
		if got := PlainExcerpt(md, 160); got != want {
			t.Errorf("PlainExcerpt(%q) = %q, want %q", md, got, want)
		}
	}
	if got := PlainExcerpt("# Title\n\n"+strings.Repeat("Done. ", 30), 40); strings.Contains(got, ".…") || strings.Contains(got, "Title") {
		t.Errorf("cut after a full stop: %q", got)
	}
	long := strings.TrimSpace(strings.Repeat("word ", 100))
	got := PlainExcerpt("**"+long+"**", 40)
	if !strings.HasSuffix(got, "…") || len([]rune(got)) > 41 || strings.Contains(got, "*") {
		t.Errorf("long excerpt %q", got)
	}
}
