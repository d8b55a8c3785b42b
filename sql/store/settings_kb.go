package store

// KBSettings are the knowledge-base and language settings (issue 7).
type KBSettings struct {
	// KBShowPortalLink shows "Go to {portal name}" at the top right of every knowledge-base page.
	KBShowPortalLink bool
	// KBLinkInPortal shows a "Knowledge base" link in the portal's navigation.
	KBLinkInPortal bool
	// PortalLanguage is the portal's default language (the reference's "domain language"): used
	// when neither the contact, a switcher choice nor the browser names a supported language,
	// and the fallback for knowledge-base articles missing in the reader's language.
	PortalLanguage string
}

// PortalLanguages are the languages the portal speaks (catalogues in partials/locales).
var PortalLanguages = []string{"en", "nl", "de", "fr", "es"}

func init() {
	defineSettings(
		BoolSetting("kb_show_portal_link", "knowledge_base", true, func(s *Settings) *bool { return &s.KBShowPortalLink }),
		BoolSetting("kb_link_in_portal", "knowledge_base", true, func(s *Settings) *bool { return &s.KBLinkInPortal }),
		EnumSetting("portal_language", "language", PortalLanguages, "en", func(s *Settings) *string { return &s.PortalLanguage }),
	)
}
