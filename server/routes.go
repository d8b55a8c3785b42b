package server

import (
	"portico/handlers"
	"portico/sql/store"
)

// routes is THE route table, grouped by who may enter; guards sit on the groups.
func (s *Server) routes() {
	h := s.Handlers
	app := s.App
	s.plumbing()

	// Route rules sit on the routes: the customer-facing ones carry the portal switch (closed
	// while the setting portal_enabled is off; staff, the knowledge base, branding, the language
	// switch and the probes stay open), and routes that take streamed multipart uploads are named
	// streamedUpload (see streamedUploads: the body guard lets their large bodies through, CSRF
	// is checked by their streaming reader, and their deadline includes the read time).
	portal := s.portalSwitch

	// Everyone (signed in or not).
	app.Get("/", portal, h.Home) // the portal home (signed in, or public when the KB has public articles)
	app.Get("/favicon.ico", redirectTo(s.Handlers.Assets("img/favicon.svg")))
	login := app.Group("/login", portal) // the sign-in page and its e-mailed links below
	login.Get("", h.LoginPage)
	login.Post("", s.csrf, h.LoginCreate)

	// Single sign-on (issue 5). The SAML ACS and the JWT endpoint take cross-site POSTs from
	// the IdP or the customer's app: no CSRF token, no session cookie needed; their own checks
	// (signature, request id / jti in Redis, replay cache) stand in for it.
	sso := app.Group("/sso", portal)
	sso.Get("/:provider/start", h.SSOStart)
	sso.Get("/:provider/callback", h.SSOCallback)
	sso.Post("/:provider/acs", h.SSOAssertion)
	sso.Get("/:provider/metadata", h.SSOMetadata)
	sso.Get("/:provider/jwt", h.SSOToken)
	sso.Post("/:provider/jwt", h.SSOToken)
	sso.Get("/confirm", h.SSOConfirmPage)
	sso.Post("/confirm", s.csrf, h.SSOConfirm)
	sso.Post("/continue", s.csrf, h.SSOContinue)
	app.Post("/language", s.csrf, h.LanguageUpdate)

	// Knowledge base (issue 7): public; portal-only and internal articles are filtered by the
	// store for the reader (404 outside).
	app.Get("/kb", h.KBIndex)
	app.Get("/kb/search", h.KBSearch)
	app.Get("/kb/:slug", h.KBArticleShow)
	app.Post("/kb/:slug/helpful", s.csrf, h.KBFeedback)

	// Getting in (issue 3): registration, one-time links, password reset. Links carry their
	// token in the query string (never in the logged path); opening one only shows a form.
	register := app.Group("/register", portal)
	register.Get("", h.RegisterPage)
	register.Post("", s.csrf, h.RegisterCreate)
	register.Get("/sent", h.RegisterSent)
	register.Get("/confirm", h.RegisterConfirmPage)
	register.Post("/confirm", s.csrf, h.RegisterConfirm)
	register.Get("/invite", h.InvitePage)
	register.Post("/invite", s.csrf, h.InviteAccept)
	password := app.Group("/password", portal)
	password.Get("/forgot", h.PasswordForgotPage)
	password.Post("/forgot", s.csrf, h.PasswordForgot)
	password.Get("/forgot/sent", h.PasswordForgotSent)
	password.Get("/reset", h.PasswordResetPage)
	password.Post("/reset", s.csrf, h.PasswordReset)
	login.Get("/link", h.MagicLinkPage)
	login.Post("/link", s.csrf, h.MagicLinkCreate)
	login.Get("/link/sent", h.MagicLinkSent)
	login.Get("/link/confirm", h.MagicLinkConfirmPage)
	login.Post("/link/confirm", s.csrf, h.MagicLinkConfirm)

	// Signed-in customers: the guard runs before CSRF so that an expired session on a POST
	// leads to the sign-in page (HX-Redirect for htmx), never to a CSRF error.
	app.Post("/logout", portal, s.requireContact, s.csrf, h.Logout)
	account := app.Group("/account", portal, s.requireContact, s.csrf)
	account.Get("", h.AccountShow)
	account.Post("", h.AccountUpdate)
	account.Post("/password", h.AccountPasswordUpdate)
	account.Post("/sign-out-everywhere", h.AccountSignOutEverywhere)
	account.Get("/tokens", h.AccountTokenList) // personal access tokens for the API (issue 17)
	account.Post("/tokens", h.AccountTokenCreate)
	account.Post("/tokens/:id/revoke", h.AccountTokenRevoke)
	// Customers' own data (issue 16.6): an export built in the background, a deletion request.
	account.Get("/export", h.AccountExportStatus)
	account.Post("/export", h.AccountExportCreate)
	account.Get("/exports/:id/download", h.AccountExportDownload)
	account.Get("/delete", h.AccountDeletePage)
	account.Post("/delete", h.AccountDeleteCreate)
	account.Post("/delete/withdraw", h.AccountDeleteWithdraw)
	tickets := app.Group("/tickets", portal, s.requireContact, s.csrf)
	tickets.Get("", h.TicketList)
	tickets.Get("/new", h.TicketNew) // before /:id
	tickets.Post("/new", h.TicketCreate).Name(streamedUpload)
	tickets.Get("/:id", h.TicketShow)
	tickets.Post("/:id/replies", h.TicketReplyCreate).Name(streamedUpload)
	tickets.Post("/:id/close", h.TicketClose)
	tickets.Post("/:id/accept", h.TicketAccept)
	tickets.Post("/:id/rating", h.TicketRatingCreate)
	tickets.Get("/:id/events", h.TicketEvents)
	tickets.Get("/:id/messages", h.TicketMessagesAfter)
	tickets.Post("/:id/participants", h.TicketShareCreate)
	tickets.Post("/:id/participants/:contact/remove", h.TicketParticipantRemove)
	app.Get("/attachments/:id", portal, s.requireContact, h.AttachmentDownload)
	// Guest links (issue 16.3): /guest?token=… opens a guest session scoped to one ticket and
	// redirects to its page; the guest routes read only the guest cookie (never the customer's
	// session, which no guest session can stand in for) and answer 404 for anything else. CSRF
	// is checked against the guest session's own token.
	guest := app.Group("/guest", portal, handlers.GuestHeaders)
	guest.Get("", h.GuestOpen)
	guestTicket := guest.Group("/t/:id", h.RequireGuest, s.csrf)
	guestTicket.Get("", h.GuestTicketShow)
	guestTicket.Post("/replies", h.GuestReplyCreate).Name(streamedUpload)
	guestTicket.Get("/events", h.GuestTicketEvents)
	guestTicket.Get("/messages", h.GuestMessagesAfter)
	guestTicket.Get("/attachments/:file", h.GuestAttachmentDownload)
	// Satisfaction links of closing mails (issue 16.4): no sign-in; GET only shows the form.
	rate := app.Group("/rate", portal)
	rate.Get("/:token", h.RatePage)
	rate.Post("/:token", s.csrf, h.RateCreate)

	// Branding (public: the login page is branded too).
	app.Get("/branding.css", h.BrandingCSS)
	app.Get("/branding/logo", h.BrandingLogo)

	// Staff. Sign-in is open; everything else needs a staff session (guard before CSRF, as
	// above); settings and configuration need an admin (agents: 403).
	app.Get("/admin/login", h.StaffLoginPage)
	app.Post("/admin/login", s.csrf, h.StaffLoginCreate)
	// The TOTP step of a staff sign-in: open like the form above, bound to a pending sign-in
	// (Redis, 5 minutes) of this browser's session; no staff session exists until it passes.
	app.Get("/admin/login/totp", h.StaffLoginTOTPPage)
	app.Post("/admin/login/totp", s.csrf, h.StaffLoginTOTPCreate)
	app.Post("/admin/logout", s.requireStaff, s.csrf, h.StaffLogout)
	staff := app.Group("/admin", s.requireStaff, s.csrf)
	staff.Get("", redirectTo("/admin/inbox"))
	staff.Get("/inbox", h.InboxList)
	staff.Get("/inbox/new", h.InboxTicketNew)
	staff.Post("/inbox/new", h.InboxTicketCreate)
	staff.Get("/inbox/:id", h.InboxTicketShow)
	staff.Post("/inbox/:id/messages", h.InboxMessageCreate).Name(streamedUpload)
	staff.Post("/inbox/:id/stage", h.InboxTicketStage)
	staff.Post("/inbox/:id/owner", h.InboxTicketOwner)
	staff.Post("/inbox/:id/participants", h.InboxParticipantCreate)
	staff.Post("/inbox/:id/participants/:contact/remove", h.InboxParticipantRemove)
	staff.Post("/inbox/:id/guest-links/revoke", h.InboxGuestLinksRevoke)
	// Any attachment, internal notes' too: staff only (customers use /attachments/:id, scoped).
	staff.Get("/attachments/:id", h.StaffAttachmentDownload)
	// Inbound mail (issue 13): held and failed mail, and the full originals, staff only.
	staff.Get("/mail", h.AdminMailList)
	staff.Get("/mail/:id/raw", h.AdminMailRaw)
	staff.Post("/mail/:id/retry", h.AdminMailRetry)
	staff.Post("/mail/:id/discard", h.AdminMailDiscard)
	staff.Get("/messages/:id/original", h.AdminMessageOriginal)
	staff.Get("/contacts", h.AdminContactList)
	staff.Get("/contacts/:id", h.AdminContactShow)
	staff.Post("/contacts/:id", h.AdminContactUpdate)
	staff.Get("/companies", h.AdminCompanyList)
	staff.Get("/companies/:id", h.AdminCompanyShow)
	// Every staff user's own second factor (issue 4 ★), agents included.
	staff.Get("/account/totp", h.StaffTOTPShow)
	staff.Post("/account/totp", h.StaffTOTPEnable)
	staff.Post("/account/totp/disable", h.StaffTOTPDisable)
	// Admin-only routes carry the guard themselves: a Group("") would guard every /admin route.
	admin := adminOnly{staff, s.requireAdmin}
	admin.Post("/contacts/:id/invite", h.AdminContactInviteResend)
	// Customers' own data (issue 16.6): deletion requests and erasing a contact.
	admin.Get("/privacy", h.AdminPrivacyList)
	admin.Get("/contacts/:id/erase", h.AdminContactErasePage)
	admin.Post("/contacts/:id/erase", h.AdminContactErase)
	admin.Get("/settings", h.AdminSettingsIndex)
	admin.Get("/settings/:section", h.AdminSettingsShow)
	admin.Post("/settings/:section", h.AdminSettingsUpdate)
	admin.Post("/branding/logo", h.AdminLogoUpload)
	admin.Post("/branding/logo/delete", h.AdminLogoDelete)
	admin.Get("/audit", h.AdminAuditList)
	admin.Get("/api-keys", h.AdminAPIKeyList) // issue 17: keys for the JSON API, audited
	admin.Post("/api-keys", h.AdminAPIKeyCreate)
	admin.Post("/api-keys/:id/revoke", h.AdminAPIKeyRevoke)
	admin.Get("/webhooks", h.AdminWebhookList) // issue 17.3: subscriptions, signed deliveries, log
	admin.Post("/webhooks", h.AdminWebhookCreate)
	admin.Get("/webhooks/:id", h.AdminWebhookShow)
	admin.Post("/webhooks/:id", h.AdminWebhookUpdate)
	admin.Get("/webhooks/:id/deliveries", h.AdminWebhookDeliveries)
	admin.Post("/webhooks/:id/enable", h.AdminWebhookEnable)
	admin.Post("/webhooks/:id/disable", h.AdminWebhookDisable)
	admin.Post("/webhooks/:id/rotate", h.AdminWebhookRotate)
	admin.Post("/webhooks/:id/test", h.AdminWebhookTest)
	admin.Post("/webhooks/:id/delete", h.AdminWebhookDelete)
	admin.Get("/satisfaction", h.AdminSatisfaction)
	admin.Get("/groups", h.AdminGroupList)
	admin.Post("/groups", h.AdminGroupCreate)
	admin.Get("/groups/:id", h.AdminGroupShow)
	admin.Post("/groups/:id", h.AdminGroupRename)
	admin.Post("/groups/:id/members", h.AdminGroupMembersAdd)
	admin.Post("/groups/:id/members/remove", h.AdminGroupMembersRemove)
	admin.Post("/groups/:id/import", h.AdminGroupImport)
	admin.Get("/pipelines", h.AdminPipelineList)
	admin.Post("/pipelines", h.AdminPipelineCreate)
	admin.Post("/pipelines/:id/stages", h.AdminStageCreate)
	admin.Post("/stages/:id", h.AdminStageUpdate)
	admin.Get("/inboxes", h.AdminInboxList)
	admin.Post("/inboxes", h.AdminInboxCreate)
	admin.Post("/inboxes/:id/default", h.AdminInboxDefault)
	admin.Get("/inboxes/:id/mail", h.AdminInboxMailShow)
	admin.Post("/inboxes/:id/mail", h.AdminInboxMailUpdate)
	admin.Post("/inboxes/:id/mail/test", h.AdminInboxMailTest)
	admin.Get("/preview", h.AdminPreview)
	admin.Get("/providers", h.AdminProviderList)
	admin.Get("/providers/new", h.AdminProviderNew)
	admin.Post("/providers", h.AdminProviderCreate)
	admin.Get("/providers/:id", h.AdminProviderShow)
	admin.Post("/providers/:id", h.AdminProviderUpdate)
	admin.Post("/providers/:id/enable", h.AdminProviderEnable)
	admin.Post("/providers/:id/disable", h.AdminProviderDisable)
	admin.Post("/providers/:id/delete", h.AdminProviderDelete)
	admin.Post("/providers/:id/rotate", h.AdminProviderRotate)
	admin.Get("/providers/:id/test", h.AdminProviderTest)
	admin.Post("/providers/:id/test", h.AdminProviderTestToken)
	admin.Get("/providers/:id/scim", h.AdminProviderSCIM) // SCIM provisioning tokens (issue 17.4), audited
	admin.Post("/providers/:id/scim/tokens", h.AdminProviderSCIMTokenCreate)
	admin.Post("/providers/:id/scim/tokens/:token/revoke", h.AdminProviderSCIMTokenRevoke)
	admin.Get("/kb", h.AdminKBList)
	admin.Post("/kb", h.AdminKBSave)
	admin.Get("/kb/new", h.AdminKBNew)
	admin.Post("/kb/categories", h.AdminKBCategoryCreate)
	admin.Get("/kb/categories/:id", h.AdminKBCategoryShow)
	admin.Post("/kb/categories/:id", h.AdminKBCategoryUpdate)
	admin.Get("/kb/:id", h.AdminKBShow)
	admin.Post("/kb/:id", h.AdminKBSave)
	admin.Post("/kb/:id/publish", h.AdminKBPublish)
	admin.Post("/kb/:id/unpublish", h.AdminKBUnpublish)
	admin.Get("/forms", h.AdminFormList)
	admin.Post("/forms", h.AdminFormCreate)
	admin.Get("/forms/:id", h.AdminFormShow)
	admin.Post("/forms/:id", h.AdminFormUpdate)
	admin.Post("/forms/:id/portal", h.AdminFormPortal)
	admin.Post("/forms/:id/fields", h.AdminFormFieldAdd)
	admin.Post("/forms/:id/field-settings", h.AdminFormFieldsSave)
	admin.Post("/forms/:id/fields/:field", h.AdminFormFieldUpdate)
	admin.Post("/forms/:id/fields/:field/remove", h.AdminFormFieldRemove)
	admin.Post("/forms/:id/fields/:field/move", h.AdminFormFieldMove)

	// JSON API (issue 17): bearer tokens only. No session, cookie, CSRF or locale (those
	// middlewares skip /api/ paths) and no bearer token on any route above; every error is an
	// RFC 9457 problem (errors.go). Authentication, then the per-token rate limit, then ETags.
	api := app.Group(handlers.APIPrefix, h.APIHeaders)
	api.Get("/openapi.json", h.APIOpenAPI)
	authed := api.Group("", h.APIAuth, h.APIRateLimit, h.APIETag)
	authed.Get("/me", h.APIMe)
	// Tickets: a customer token sees what the portal shows its contact (Viewer); an admin key
	// with the named scope sees and changes every ticket.
	read, write := store.ScopeTicketsRead, store.ScopeTicketsWrite
	authed.Get("/tickets", handlers.APIByKind(h.APITicketList, read, h.APIAdminTicketList))
	authed.Post("/tickets", handlers.RequireScope(write), h.APIIdempotent, h.APIAdminTicketCreate)
	authed.Get("/tickets/:id", handlers.APIByKind(h.APITicketShow, read, h.APIAdminTicketShow))
	authed.Patch("/tickets/:id", handlers.RequireScope(write), h.APIAdminTicketUpdate)
	authed.Post("/tickets/:id/messages", h.APIIdempotent, handlers.APIByKind(h.APITicketReplyCreate, write, h.APIAdminMessageCreate))
	authed.Post("/tickets/:id/close", handlers.RequireCustomer, h.APITicketClose)
	authed.Get("/attachments/:id", handlers.APIByKind(h.APIAttachmentDownload, read, h.APIAdminAttachmentDownload))
	contacts := authed.Group("/contacts", handlers.RequireScope(store.ScopeContacts))
	contacts.Get("", h.APIContactList)
	contacts.Post("", h.APIIdempotent, h.APIContactCreate)
	contacts.Get("/:id", h.APIContactShow)
	contacts.Patch("/:id", h.APIContactUpdate)
	companies := authed.Group("/companies", handlers.RequireScope(store.ScopeCompanies))
	companies.Get("", h.APICompanyList)
	companies.Post("", h.APIIdempotent, h.APICompanyCreate)
	companies.Get("/:id", h.APICompanyShow)
	groups := authed.Group("/groups", handlers.RequireScope(store.ScopeGroups))
	groups.Get("", h.APIGroupList)
	groups.Post("", h.APIIdempotent, h.APIGroupCreate)
	groups.Get("/:id", h.APIGroupShow)
	groups.Post("/:id/members", h.APIGroupMembersAdd)
	groups.Post("/:id/members/remove", h.APIGroupMembersRemove)
	authed.Get("/settings", handlers.RequireScope(store.ScopeSettingsRead), h.APISettingsShow)
	api.Use(h.APINotFound)

	// SCIM 2.0 (issue 17.4): an identity provider's SCIM token only (per provider, rate-limited);
	// no session, cookie, CSRF or locale (IsAPIPath); errors in the SCIM Error schema.
	app.Use(handlers.SCIMPrefix, h.SCIMAuth, h.SCIMRateLimit, h.SCIM())

	app.Use(s.notFound)
	s.uploads = streamedUploads(app)
}
