package handlers

import (
	"encoding/csv"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// Satisfaction (issue 16.4): "How did we do?" on a closed ticket's page, the page behind the
// closing mail's links (GET shows a form and records nothing; its POST records), the votes on
// the inbox's ticket page and the admins' report with a CSV export.

// ratingView is the ticket page's satisfaction box (tickets/rating.html).
type ratingView struct {
	Action, Question string
	// Rated is the translated vote already given ("" = none yet: the form shows).
	Rated string
	Error string
}

// ratingQuestion is the admin's question for the page's language, else the translated default.
func ratingQuestion(p *Page, st store.Settings) string {
	if q := st.CSATQuestion(p.Locale.Lang); q != "" {
		return q
	}
	return p.T("CSATQuestion")
}

// scoreLabel translates a vote.
func scoreLabel(p *Page, score string) string {
	if score == store.ScoreBad {
		return p.T("CSATBad")
	}
	return p.T("CSATGood")
}

// rateTicket adds the box to a closed ticket the viewer holds, when the survey is on.
func rateTicket(c *fiber.Ctx, p *Page, tv *ticketView, d store.TicketDetail) {
	st := SettingsOf(c)
	if !st.CSATEnabled || !d.Ticket.IsClosed || !d.Access.Manage {
		return
	}
	tv.Rating = &ratingView{Action: "/tickets/" + strconv.FormatInt(d.Ticket.ID, 10) + "/rating", Question: ratingQuestion(p, st)}
	if d.Ticket.Rated != "" {
		tv.Rating.Rated = p.T("CSATThanks", "Score", scoreLabel(p, d.Ticket.Rated))
	}
	if c.Query("rating") == "invalid" {
		tv.Rating.Error = p.T("RatingScoreInvalid")
	}
}

// TicketRatingCreate records the viewer's vote on a closed ticket they hold (POST
// /tickets/:id/rating, fields score=good|bad and comment): 303 back to the ticket. A second vote
// for the same close changes nothing. Outside scope, or the survey off: 404.
func (h *Handlers) TicketRatingCreate(c *fiber.Ctx) error {
	id, err := ticketID(c)
	if err != nil {
		return err
	}
	if !SettingsOf(c).CSATEnabled {
		return store.ErrNotFound
	}
	back := "/tickets/" + strconv.FormatInt(id, 10)
	err = h.Store.TicketRateForViewer(c.UserContext(), h.viewer(c, ""), id, c.FormValue("score"), c.FormValue("comment"))
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return Redirect(c, back+"?rating=invalid#rating")
	case errors.Is(err, store.ErrConflict):
	case err != nil:
		return err
	}
	return Redirect(c, back+"#rating")
}

// ratePage is the view model of pages/rate.html.
type ratePage struct {
	Action, Subject, Question string
	Score                     string
	// Done is the thanks shown once a vote exists for this close.
	Done  string
	Error string
}

// rateLink resolves a rating link's token. Errors: ErrNotFound for anything forged, expired by
// a reopen, or when the survey is off.
func (h *Handlers) rateLink(c *fiber.Ctx) (store.RatingRef, store.RatingLink, error) {
	if h.RatingLinks == nil || !SettingsOf(c).CSATEnabled {
		return store.RatingRef{}, store.RatingLink{}, store.ErrNotFound
	}
	ref, ok := h.RatingLinks.Parse(c.Params("token"))
	if !ok {
		return ref, store.RatingLink{}, store.ErrNotFound
	}
	l, err := h.Store.RatingLinkGet(c.UserContext(), ref)
	return ref, l, err
}

// RatePage shows the page a closing mail's rating link opens (GET /rate/:token?score=good|bad):
// the chosen vote preselected, an optional comment and a button that records it. It records
// nothing itself, so a mail scanner following the link changes nothing. No sign-in needed.
func (h *Handlers) RatePage(c *fiber.Ctx) error {
	_, l, err := h.rateLink(c)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	v := &ratePage{Action: "/rate/" + url.PathEscape(c.Params("token")), Subject: l.Subject, Question: ratingQuestion(p, SettingsOf(c)), Score: c.Query("score")}
	if l.Rated != "" {
		v.Done = p.T("CSATThanks", "Score", scoreLabel(p, l.Rated))
	}
	p.Title, p.Data = v.Question, v
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.renderPage(c, fiber.StatusOK, "pages/rate", p)
}

// RateCreate records the vote of a rating link (POST /rate/:token, fields score and comment,
// CSRF-checked): 303 back to the page, which then thanks. Invalid: 422 with the form.
func (h *Handlers) RateCreate(c *fiber.Ctx) error {
	ref, l, err := h.rateLink(c)
	if err != nil {
		return err
	}
	err = h.Store.TicketRateByLink(c.UserContext(), ref, c.FormValue("score"), c.FormValue("comment"))
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		p := h.newPage(c, "", nil)
		v := &ratePage{Action: "/rate/" + url.PathEscape(c.Params("token")), Subject: l.Subject, Question: ratingQuestion(p, SettingsOf(c)),
			Error: p.T("RatingScoreInvalid")}
		p.Title, p.Data = v.Question, v
		return h.renderPage(c, fiber.StatusUnprocessableEntity, "pages/rate", p)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return Redirect(c, "/rate/"+url.PathEscape(c.Params("token")))
}

// ratingRow is one vote on the inbox's ticket page or in the report.
type ratingRow struct {
	TicketID                       int64
	Href, Subject, Score, Class    string
	Comment, Contact, Inbox, Agent string
	Time, TimeISO                  string
}

func ratingRows(p *Page, rs []store.Rating) []ratingRow {
	out := make([]ratingRow, len(rs))
	for i, r := range rs {
		out[i] = ratingRow{TicketID: r.TicketID, Href: "/admin/inbox/" + strconv.FormatInt(r.TicketID, 10), Subject: r.Subject,
			Score: scoreLabel(p, r.Score), Class: r.Score, Comment: r.Comment, Contact: r.ContactName, Inbox: r.Inbox, Agent: r.Agent}
		out[i].Time, out[i].TimeISO = p.Locale.Times(r.RatedAt)
	}
	return out
}

// reportView is the view model of admin/satisfaction.html.
type reportView struct {
	From, To string
	Total    reportLine
	// Sections are the tables by week, inbox and agent.
	Sections []reportSection
	CSV      string
	Recent   []ratingRow
}

// reportSection is one table of the report.
type reportSection struct {
	ID, Heading, Column string
	Lines               []reportLine
}

type reportLine struct {
	Label     string
	Good, Bad int
	Score     string
}

func reportLines(p *Page, gs []store.RatingGroup, empty string) []reportLine {
	out := make([]reportLine, len(gs))
	for i, g := range gs {
		out[i] = reportLine{Label: g.Label, Good: g.Good, Bad: g.Bad, Score: p.T("CSATScore", "Percent", g.Score())}
		if out[i].Label == "" {
			out[i].Label = empty
		}
	}
	return out
}

// reportPeriod reads from and to (YYYY-MM-DD, to inclusive) with a default of the last 12 weeks.
func reportPeriod(c *fiber.Ctx) (time.Time, time.Time) {
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -84)
	if t, err := time.Parse(time.DateOnly, c.Query("from")); err == nil {
		from = t
	}
	if t, err := time.Parse(time.DateOnly, c.Query("to")); err == nil {
		to = t.AddDate(0, 0, 1)
	}
	if !from.Before(to) {
		from = to.AddDate(0, 0, -1)
	}
	return from, to
}

// AdminSatisfaction shows the satisfaction report (GET /admin/satisfaction?from=&to=): the
// share of good votes in the period, by week, inbox and agent, and the latest votes;
// &format=csv downloads every vote of the period as CSV.
func (h *Handlers) AdminSatisfaction(c *fiber.Ctx) error {
	from, to := reportPeriod(c)
	ctx := c.UserContext()
	list, err := h.Store.RatingList(ctx, from, to)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="satisfaction-`+from.Format(time.DateOnly)+`.csv"`)
		w := csv.NewWriter(c.Response().BodyWriter())
		w.Write([]string{"rated_at", "ticket_id", "subject", "score", "comment", "contact", "inbox", "agent", "closed_at"})
		for _, r := range list {
			w.Write([]string{r.RatedAt.UTC().Format(time.RFC3339), strconv.FormatInt(r.TicketID, 10), csvSafe(r.Subject), r.Score,
				csvSafe(r.Comment), csvSafe(r.ContactName), csvSafe(r.Inbox), csvSafe(r.Agent), r.ClosedAt.UTC().Format(time.RFC3339)})
		}
		w.Flush()
		return w.Error()
	}
	rep, err := h.Store.RatingReportGet(ctx, from, to)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	last := to.AddDate(0, 0, -1)
	v := &reportView{From: from.Format(time.DateOnly), To: last.Format(time.DateOnly), Sections: []reportSection{
		{"by-week", p.T("CSATByWeek"), p.T("CSATWeekOf"), reportLines(p, rep.ByWeek, "")},
		{"by-inbox", p.T("CSATByInbox"), p.T("Inbox"), reportLines(p, rep.ByInbox, p.T("CSATNoInbox"))},
		{"by-agent", p.T("CSATByAgent"), p.T("TicketOwner"), reportLines(p, rep.ByAgent, p.T("Unassigned"))},
	}}
	v.Total = reportLine{Good: rep.Total.Good, Bad: rep.Total.Bad, Score: p.T("CSATScore", "Percent", rep.Total.Score())}
	v.CSV = "/admin/satisfaction?" + url.Values{"from": {v.From}, "to": {v.To}, "format": {"csv"}}.Encode()
	if len(list) > 50 {
		list = list[:50]
	}
	v.Recent = ratingRows(p, list)
	p.Title, p.Data = p.T("CSATReport"), v
	return h.renderAdmin(c, fiber.StatusOK, "admin/satisfaction", p)
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (OWASP CSV injection).
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
