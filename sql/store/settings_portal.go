package store

// PortalSettings are the portal's presentation and routing settings managed in the admin console
// (branding, language, slug, default inbox, knowledge-base link). Their definitions are
// registered in init below.
type PortalSettings struct{}

func init() {
	defineSettings()
}
