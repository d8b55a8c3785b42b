package jobs

import "testing"

func TestMailStem(t *testing.T) {
	for in, want := range map[string]string{"invite": "MailInvite", "password_changed": "MailPasswordChanged",
		"ticket_reply": "MailTicketReply", "already_registered": "MailAlreadyRegistered"} {
		if got, ok := mailStem(in); !ok || got != want {
			t.Errorf("mailStem(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Bad", "a__b", "x-y", "ünï"} {
		if _, ok := mailStem(bad); ok {
			t.Errorf("mailStem(%q) accepted", bad)
		}
	}
}
