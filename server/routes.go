package server

// routes is THE route table, grouped by who may enter; guards sit on the groups.
func (s *Server) routes() {
	h := s.Handlers
	app := s.App
	s.plumbing()

	// Everyone (signed in or not).
	app.Get("/", redirectTo("/tickets"))
	app.Get("/healthz", s.health)
	app.Get("/login", h.LoginPage)
	app.Post("/login", s.csrf, h.LoginCreate)

	// Signed-in customers: the guard runs before CSRF so that an expired session on a POST
	// leads to the sign-in page (HX-Redirect for htmx), never to a CSRF error.
	app.Post("/logout", s.requireContact, s.csrf, h.Logout)
	tickets := app.Group("/tickets", s.requireContact, s.csrf)
	tickets.Get("", h.TicketList)
	tickets.Get("/:id", h.TicketShow)
	tickets.Post("/:id/replies", h.TicketReplyCreate)
	tickets.Post("/:id/close", h.TicketClose)
	tickets.Get("/:id/events", h.TicketEvents)
	tickets.Get("/:id/messages", h.TicketMessagesAfter)
	app.Get("/attachments/:id", s.requireContact, h.AttachmentDownload)

	// Branding (public: the login page is branded too).
	app.Get("/branding.css", h.BrandingCSS)
	app.Get("/branding/logo", h.BrandingLogo)

	// Staff. Sign-in is open; everything else needs a staff session (guard before CSRF, as
	// above); settings and configuration need an admin (agents: 403).
	app.Get("/admin/login", h.StaffLoginPage)
	app.Post("/admin/login", s.csrf, h.StaffLoginCreate)
	app.Post("/admin/logout", s.requireStaff, s.csrf, h.StaffLogout)
	staff := app.Group("/admin", s.requireStaff, s.csrf)
	staff.Get("", redirectTo("/admin/inbox"))
	staff.Get("/inbox", h.InboxList)
	staff.Get("/inbox/new", h.InboxTicketNew)
	staff.Post("/inbox/new", h.InboxTicketCreate)
	staff.Get("/inbox/:id", h.InboxTicketShow)
	staff.Post("/inbox/:id/messages", h.InboxMessageCreate)
	staff.Post("/inbox/:id/stage", h.InboxTicketStage)
	staff.Post("/inbox/:id/owner", h.InboxTicketOwner)
	staff.Get("/contacts", h.AdminContactList)
	staff.Get("/contacts/:id", h.AdminContactShow)
	staff.Post("/contacts/:id", h.AdminContactUpdate)
	staff.Get("/companies", h.AdminCompanyList)
	staff.Get("/companies/:id", h.AdminCompanyShow)
	// Admin-only routes carry the guard themselves: a Group("") would guard every /admin route.
	admin := adminOnly{staff, s.requireAdmin}
	admin.Get("/settings", h.AdminSettingsIndex)
	admin.Get("/settings/:section", h.AdminSettingsShow)
	admin.Post("/settings/:section", h.AdminSettingsUpdate)
	admin.Post("/branding/logo", h.AdminLogoUpload)
	admin.Get("/audit", h.AdminAuditList)
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
	admin.Get("/preview", h.AdminPreview)

	app.Use(s.notFound)
}
