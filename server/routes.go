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

	app.Use(s.notFound)
}
