package handlers

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/text/language"
)

// pickReference is Catalogue.Pick as it was before its locales were built once (a localizer
// per request): the cached Pick must choose the same language for every input.
func pickReference(c *Catalogue, contact, switcher, acceptLanguage, portalDefault string) *Locale {
	for _, code := range []string{contact, switcher} {
		if l, ok := c.Supported(code); ok {
			return c.newLocale(language.Make(l))
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		_, idx, conf := c.matcher.Match(tags...)
		if conf != language.No {
			return c.newLocale(c.tags[idx])
		}
	}
	if l, ok := c.Supported(portalDefault); ok {
		return c.newLocale(language.Make(l))
	}
	return c.newLocale(c.tags[0])
}

// TestCachedLocalesMatchGoI18n: the argument-free translations kept per language equal what
// go-i18n answers for every message of every language, T with arguments still goes through
// go-i18n, Pick chooses as before for every combination of its inputs (twice, the second time
// from the Accept-Language cache), and each request gets its own Locale (its own Zone).
func TestCachedLocalesMatchGoI18n(t *testing.T) {
	cat, err := NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.locales) != len(cat.tags) || len(cat.tags) < 5 {
		t.Fatalf("%d locales for %d tags", len(cat.locales), len(cat.tags))
	}
	n := 0
	for _, tag := range cat.tags {
		cached := cat.locale(tag)
		live := cat.newLocale(tag) // no cache: every T is a go-i18n lookup
		if len(cached.plain) < 100 {
			t.Fatalf("%s: only %d cached messages", tag, len(cached.plain))
		}
		for id := range cached.plain {
			if got, want := cached.T(id), live.T(id); got != want {
				t.Errorf("%s %s: cached %q, go-i18n %q", tag, id, got, want)
			}
			n++
		}
		if got, want := cached.T("TicketCount", "Count", 3), live.T("TicketCount", "Count", 3); got != want || got == "TicketCount" {
			t.Errorf("%s: TicketCount 3 → %q, want %q", tag, got, want)
		}
		// With arguments: remembered after the first call, equal to go-i18n's answer every time
		// (plural forms by count included); other argument types are not remembered.
		for round := 0; round < 2; round++ {
			for n := 0; n < 30; n++ {
				if got, want := cached.T("TicketCount", "Count", n), live.T("TicketCount", "Count", n); got != want {
					t.Errorf("%s: TicketCount %d → %q, want %q", tag, n, got, want)
				}
				if got, want := cached.T("TicketCount", "Count", int64(n)), live.T("TicketCount", "Count", int64(n)); got != want {
					t.Errorf("%s: TicketCount int64 %d → %q, want %q", tag, n, got, want)
				}
			}
			for _, label := range []string{"Org", "Mine <&>", ""} {
				if got, want := cached.T("ViewMenu", "View", label), live.T("ViewMenu", "View", label); got != want {
					t.Errorf("%s: ViewMenu %q → %q, want %q", tag, label, got, want)
				}
			}
			if got, want := cached.T("TicketCount", "Count", 2.0), live.T("TicketCount", "Count", 2.0); got != want {
				t.Errorf("%s: TicketCount 2.0 → %q, want %q", tag, got, want)
			}
		}
		if cached.T("NoSuchMessageID") != "NoSuchMessageID" {
			t.Errorf("%s: a missing message must render as its id", tag)
		}
	}
	t.Logf("%d cached translations checked", n)
	if _, ok := argKey("TicketCount", []any{"Count", 2.0}); ok {
		t.Fatal("a float argument must not be remembered")
	}

	codes := []string{"", "nl", "de-AT", "EN", "fr-CA", "xx", "not a tag", "es"}
	accepts := []string{"", "fr-CH, fr;q=0.9, en;q=0.8", "xx", "*", "es;q=0.1, nl", "de-DE", "zz, pt;q=0.5", ";;;"}
	for round := 0; round < 2; round++ {
		for _, contact := range codes {
			for _, sw := range codes {
				for _, acc := range accepts {
					for _, def := range []string{"", "de", "zz"} {
						got, want := cat.Pick(contact, sw, acc, def), pickReference(cat, contact, sw, acc, def)
						if got.Lang != want.Lang || got.tag != want.tag || got.T("Search") != want.T("Search") {
							t.Fatalf("Pick(%q, %q, %q, %q) = %s, want %s", contact, sw, acc, def, got.tag, want.tag)
						}
					}
				}
			}
		}
	}
	for _, code := range cat.Languages() {
		l := cat.Pick(code, "", "", "")
		opts, fresh := cat.LanguageOptions(l), cat.LanguageOptions(cat.newLocale(l.tag))
		if fmt.Sprint(opts) != fmt.Sprint(fresh) || len(opts) != len(cat.tags) {
			t.Errorf("%s: switcher %v, want %v", code, opts, fresh)
		}
		for _, o := range opts {
			if o.Current != (o.Code == code) || o.Name == "" {
				t.Errorf("%s: switcher entry %+v", code, o)
			}
		}
	}
	a, b := cat.Pick("nl", "", "", ""), cat.Pick("nl", "", "", "")
	a.Zone = time.FixedZone("X", 3600)
	if a == b || b.Zone != nil || cat.locales["nl"].Zone != nil {
		t.Fatal("a request's Locale must be its own copy")
	}
}
