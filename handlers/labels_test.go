package handlers

import (
	"testing"

	"portico/sql/store"
)

// TestTicketPropertyLabels checks that known priorities and channels are translated and other
// values shown as they are.
func TestTicketPropertyLabels(t *testing.T) {
	c, err := NewCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	nl := &Page{Locale: c.Match("nl")}
	for in, want := range map[string]string{"high": "Hoog", "URGENT": "Urgent", "medium": "Gemiddeld", "low": "Laag", "p1-custom": "p1-custom", "": ""} {
		if got := priorityLabel(nl, in); got != want {
			t.Errorf("nl priority %q = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"email": nl.T("Channel_email"), "phone": nl.T("Channel_phone"), "carrier-pigeon": "carrier-pigeon", "": ""} {
		if got := channelLabel(nl, in); got != want || got == "Channel_"+in {
			t.Errorf("nl channel %q = %q, want %q", in, got, want)
		}
	}
	// The fallback notice names the article's language in the reader's language.
	if got := nl.T("KBFallbackNotice", "Language", tOr(nl, "KBLanguageName_en", "English")); got != "Dit artikel is nog niet beschikbaar in jouw taal; het wordt getoond in het Engels." {
		t.Errorf("nl fallback notice = %q", got)
	}
}

// TestNewLinkPage checks where the "link no longer works" page sends a customer.
func TestNewLinkPage(t *testing.T) {
	for purpose, want := range map[string]string{store.PurposeMagic: "/login/link", store.PurposeVerify: "/register",
		store.PurposeReset: "/password/forgot"} {
		if got := newLinkPage(purpose); got != want {
			t.Errorf("newLinkPage(%s) = %s, want %s", purpose, got, want)
		}
	}
	for path, want := range map[string]bool{"/kb": true, "/kb/x": true, "/kbx": false, "/tickets": false} {
		if kbPath(path) != want {
			t.Errorf("kbPath(%s) != %v", path, want)
		}
	}
}
