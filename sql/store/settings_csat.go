package store

// CSATLanguages are the languages whose satisfaction question an admin may word.
var CSATLanguages = []string{"en", "nl", "de", "fr", "es"}

// SatisfactionSettings are the satisfaction survey's settings (issue 16.4).
type SatisfactionSettings struct {
	// CSATEnabled asks "How did we do?" when a ticket closes, in the portal and the closing mail.
	CSATEnabled bool
	// CSATQuestions are the admin's wording per language of CSATLanguages ("" = translated default).
	CSATQuestions [5]string
}

// CSATQuestion returns the admin's question for lang ("" when none is set for it).
func (s Settings) CSATQuestion(lang string) string {
	for i, l := range CSATLanguages {
		if l == lang {
			return s.CSATQuestions[i]
		}
	}
	return ""
}

func init() {
	defineSettings(BoolSetting("csat_enabled", "satisfaction", false, func(s *Settings) *bool { return &s.CSATEnabled }))
	for i, l := range CSATLanguages {
		defineSettings(TextSetting("csat_question_"+l, "satisfaction", 200, false, "", func(s *Settings) *string { return &s.CSATQuestions[i] }))
	}
}
