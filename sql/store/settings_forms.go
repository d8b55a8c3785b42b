package store

import (
	"encoding/json"
	"strconv"
	"strings"
)

// FormSettings connect one support form to the portal (issue 6). The admin sets them on the
// forms pages (/admin/forms); the texts also appear in the generated settings section.
type FormSettings struct {
	// SupportFormID is the form the portal shows at /tickets/new (0 = none connected).
	SupportFormID int64
	// SupportFormMenuText names the form in the navigation and on the ticket list ("" = the
	// translated "Submit a support ticket").
	SupportFormMenuText string
	// SupportFormHeaderText heads the form page ("" = the translated default heading).
	SupportFormHeaderText string
}

func init() {
	formID := SettingDef{Key: "support_form_id", Section: "support_form", Kind: SettingHidden, Default: "0",
		parse: func(v string) (any, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return nil, refuse("SettingFormOnly", nil, "is set by connecting a form on the forms page")
			}
			return n, nil
		},
		apply:  func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.SupportFormID) },
		format: func(s Settings) string { return strconv.FormatInt(s.SupportFormID, 10) },
	}
	defineSettings(
		formID,
		TextSetting("support_form_menu_text", "support_form", 60, false, "", func(s *Settings) *string { return &s.SupportFormMenuText }),
		TextSetting("support_form_header_text", "support_form", 200, false, "", func(s *Settings) *string { return &s.SupportFormHeaderText }),
	)
}
