package store

// AccountSettings are the sign-in and account settings (registration, access groups, system
// pages, portal switch). Their definitions are registered in init below.
type AccountSettings struct{}

func init() {
	defineSettings()
}
