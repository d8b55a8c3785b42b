package store

// WebhookSettings are the webhooks' settings (issue 17.3).
type WebhookSettings struct {
	// WebhooksAllowPrivate lets webhook URLs reach private, loopback, link-local and other
	// non-public addresses (off: refused when saved and when dialled; SSRF protection).
	WebhooksAllowPrivate bool
}

func init() {
	defineSettings(BoolSetting("webhooks_allow_private", "webhooks", false, func(s *Settings) *bool { return &s.WebhooksAllowPrivate }))
}
