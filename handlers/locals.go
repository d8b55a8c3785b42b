package handlers

import (
	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// Context keys for values the middleware puts in fiber.Ctx Locals.
const (
	localSession   = "portico.session"
	localLocale    = "portico.locale"
	localRequestID = "portico.request_id"
	localContact   = "portico.contact"
	localSettings  = "portico.settings"
)

// SetSession, SessionOf and the other accessors below carry request state between middleware
// and handlers.
func SetSession(c *fiber.Ctx, s *auth.Session) { c.Locals(localSession, s) }

// SessionOf returns the request's session (nil when none).
func SessionOf(c *fiber.Ctx) *auth.Session {
	s, _ := c.Locals(localSession).(*auth.Session)
	return s
}

// SetLocale stores the request's locale.
func SetLocale(c *fiber.Ctx, l *Locale) { c.Locals(localLocale, l) }

// LocaleOf returns the request's locale.
func LocaleOf(c *fiber.Ctx) *Locale {
	l, _ := c.Locals(localLocale).(*Locale)
	return l
}

// SetRequestID stores the request id.
func SetRequestID(c *fiber.Ctx, id string) { c.Locals(localRequestID, id) }

// RequestIDOf returns the request id.
func RequestIDOf(c *fiber.Ctx) string {
	s, _ := c.Locals(localRequestID).(string)
	return s
}

// SetContact stores the signed-in contact.
func SetContact(c *fiber.Ctx, ct *store.Contact) { c.Locals(localContact, ct) }

// ContactOf returns the signed-in contact, nil when none.
func ContactOf(c *fiber.Ctx) *store.Contact {
	ct, _ := c.Locals(localContact).(*store.Contact)
	return ct
}

// SetSettings stores the portal settings read for this request.
func SetSettings(c *fiber.Ctx, s store.Settings) { c.Locals(localSettings, s) }

// SettingsOf returns the request's portal settings.
func SettingsOf(c *fiber.Ctx) store.Settings {
	s, ok := c.Locals(localSettings).(store.Settings)
	if !ok {
		return store.DefaultSettings()
	}
	return s
}
