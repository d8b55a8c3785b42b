package handlers

import (
	"strings"
	"testing"
)

// TestPluralCount checks that a "Count" argument picks the plural form in every language, also
// when the count comes formatted (Locale.Number), and leaves plain messages alone.
func TestPluralCount(t *testing.T) {
	c, err := NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"en": {"1 article found for “x”.", "3 articles found for “x”."},
		"nl": {"1 artikel gevonden voor ‘x’.", "3 artikelen gevonden voor ‘x’."},
		"de": {"1 Artikel gefunden für „x“.", "3 Artikel gefunden für „x“."},
		"fr": {"1 article trouvé pour « x ».", "3 articles trouvés pour « x »."},
		"es": {"1 artículo encontrado para «x».", "3 artículos encontrados para «x»."},
	}
	for lang, w := range want {
		l := c.Match(lang)
		if got := l.T("KBResultCount", "Count", 1, "Query", "x"); got != w[0] {
			t.Errorf("%s one: %q, want %q", lang, got, w[0])
		}
		if got := l.T("KBResultCount", "Count", l.Number(3), "Query", "x"); got != w[1] {
			t.Errorf("%s other: %q, want %q", lang, got, w[1])
		}
		if got := l.T("TicketCount", "Count", l.Number(1234567)); !strings.Contains(got, l.Number(1234567)) || got == "TicketCount" {
			t.Errorf("%s TicketCount 1234567: %q", lang, got)
		}
	}
	en := c.Match("en")
	for n, w := range map[any]string{1: "1 ticket shown", 0: "0 tickets shown", int64(2): "2 tickets shown", "1": "1 ticket shown", "1,000": "1,000 tickets shown"} {
		if got := en.T("TicketCount", "Count", n); got != w {
			t.Errorf("en TicketCount %v = %q, want %q", n, got, w)
		}
	}
	if got := c.Match("fr").T("TicketCount", "Count", 0); got != "0 ticket affiché" {
		t.Errorf("fr TicketCount 0 = %q", got)
	}
	// A message without plural forms still renders with a Count, whatever the count.
	for _, n := range []any{1, 5, "n/a"} {
		if got := en.T("NotFoundTitle", "Count", n); got == "NotFoundTitle" || got == "" {
			t.Errorf("NotFoundTitle with Count %v = %q", n, got)
		}
	}
	if got := en.T("NoSuchMessageID", "Count", 1); got != "NoSuchMessageID" {
		t.Errorf("missing message = %q", got)
	}
}
