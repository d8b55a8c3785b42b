package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sign-in methods (setting signin_method).
const (
	// SigninAccessGroups: only members of the chosen access groups may sign in; each is mailed
	// a one-time registration link.
	SigninAccessGroups = "access_groups"
	// SigninSelfRegistration: anyone may register with a verified email address.
	SigninSelfRegistration = "self_registration"
)

// SystemPage names a system page whose heading and help text the admin may edit
// (settings page_<name>_heading and page_<name>_help; empty = the translated default).
type SystemPage string

// The system pages.
const (
	PageLogin         SystemPage = "login"
	PageRegister      SystemPage = "register"
	PageLogout        SystemPage = "logout"
	PageResetRequest  SystemPage = "reset_request"
	PageReset         SystemPage = "reset"
	PageAccessDenied  SystemPage = "access_denied"
	PageUnavailable   SystemPage = "unavailable"
	systemPageHeading            = 120
	systemPageHelp               = 2000
)

// SystemPages lists every system page, in the order the admin console shows them.
var SystemPages = systemPageList[:]

// SystemPageText is the admin's heading and help text of one system page ("" = default).
type SystemPageText struct {
	Heading, Help string
}

// AccountSettings are the sign-in and account settings (registration, access groups, system
// pages, portal switch). Their definitions are registered in init below.
type AccountSettings struct {
	// PortalEnabled switches the customer portal on; while off customers get "portal
	// unavailable" (503). Default on; a new production install stores off at first start.
	PortalEnabled bool
	// SigninMethod is SigninAccessGroups or SigninSelfRegistration.
	SigninMethod string
	// AccessGroups are the names of the groups whose members may sign in (access-group mode).
	AccessGroups []string
	// RegistrationLinkExpiry is how long an access-group registration link stays valid (1h–30d).
	RegistrationLinkExpiry time.Duration
	// ConsentText is the notice shown on the register page with a required checkbox; empty =
	// no consent asked.
	ConsentText string
	// Pages holds the admin's headings and help texts of the system pages, in the order of
	// SystemPages (an array, so copies of Settings never share it).
	Pages [len(systemPageList)]SystemPageText
}

var systemPageList = [...]SystemPage{PageLogin, PageRegister, PageLogout, PageResetRequest, PageReset, PageAccessDenied, PageUnavailable}

// Page returns the admin's texts for page p (empty fields = translated default).
func (a AccountSettings) Page(p SystemPage) SystemPageText {
	for i, q := range systemPageList {
		if q == p {
			return a.Pages[i]
		}
	}
	return SystemPageText{}
}

func init() {
	defs := []SettingDef{
		BoolSetting("portal_enabled", "access", true, func(s *Settings) *bool { return &s.PortalEnabled }),
		EnumSetting("signin_method", "access", []string{SigninAccessGroups, SigninSelfRegistration}, SigninSelfRegistration,
			func(s *Settings) *string { return &s.SigninMethod }),
		ListSetting("access_groups", "access", func(s *Settings) *[]string { return &s.AccessGroups }),
		DurationSetting("registration_link_expiry", "access", time.Hour, 30*24*time.Hour, 7*24*time.Hour,
			func(s *Settings) *time.Duration { return &s.RegistrationLinkExpiry }),
		TextSetting("consent_text", "access", 4000, true, "", func(s *Settings) *string { return &s.ConsentText }),
	}
	for i, p := range systemPageList {
		defs = append(defs,
			TextSetting("page_"+string(p)+"_heading", "system_pages", systemPageHeading, false, "",
				func(s *Settings) *string { return &s.Pages[i].Heading }),
			TextSetting("page_"+string(p)+"_help", "system_pages", systemPageHelp, true, "",
				func(s *Settings) *string { return &s.Pages[i].Help }))
	}
	// A change of the sign-in method or of the chosen groups mails a registration link to every
	// member without an account, in the transaction of the change.
	for i := range defs {
		if defs[i].Key == "signin_method" || defs[i].Key == "access_groups" {
			defs[i].changed = func(ctx context.Context, tx pgx.Tx) error {
				_, err := accountsInviteGroupMembers(ctx, tx, "")
				return err
			}
		}
	}
	defineSettings(defs...)
}

// PortalSwitchFirstStart stores portal_enabled=false when the setting has never been stored: a
// new production install starts with the portal off until an admin switches it on. It reports
// whether it stored the value.
func (s *Store) PortalSwitchFirstStart(ctx context.Context) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO portal_settings (key, value) VALUES ('portal_enabled', 'false') ON CONFLICT (key) DO NOTHING`)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
