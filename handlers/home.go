package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The portal home (GET /, issue 14): a branded welcome with the knowledge-base search, the
// signed-in customer's open tickets and "Submit a support ticket", and the help center's
// categories. Visitors get the public home when the knowledge base has public articles, else
// the sign-in page.

// homeOpenTickets is the most open tickets listed on the home page (the rest: "All tickets").
const homeOpenTickets = 5

// homeView is the view model of pages/home.html.
type homeView struct {
	// Welcome, OpenHeading, NoOpen and AllTickets are the translated headings with the portal's
	// names filled in.
	Welcome, OpenHeading, NoOpen, AllTickets string
	// Open lists the customer's open tickets, newest activity first (signed in only).
	Open []listRow
	// MoreOpen is set when there are more open tickets than shown.
	MoreOpen bool
	// Categories are the help center's category cards.
	Categories []kbCardView
}

// kbCardView is one category card of the help center.
type kbCardView struct {
	Href, Name, Count string
	// Titles are the first articles of the category.
	Titles []kbEntryView
}

// kbCards groups the entries by category into cards (in the categories' order, uncategorised
// last), each with its first three articles; href links each card to its section of /kb.
func (h *Handlers) kbCards(p *Page, cats []store.KBCategory, entries []store.KBEntry, lang, def string) []kbCardView {
	byCat := map[int64][]kbEntryView{}
	for _, e := range entries {
		byCat[e.CategoryID] = append(byCat[e.CategoryID], h.kbEntry(p, e))
	}
	var out []kbCardView
	add := func(anchor, name string, list []kbEntryView) {
		if len(list) == 0 {
			return
		}
		out = append(out, kbCardView{Href: "/kb#" + anchor, Name: name, Count: p.T("KBArticleCount", "Count", p.Locale.Number(int64(len(list)))), Titles: list[:min(3, len(list))]})
	}
	for _, cat := range cats {
		add("category-"+cat.Slug, cat.Name(lang, def), byCat[cat.ID])
	}
	add("category-other", p.T("KBOtherArticles"), byCat[0])
	return out
}

// lowerLabel puts an admin-set name (e.g. "Tickets") inside a sentence: lower case, except in
// German, where nouns keep their capital.
func lowerLabel(p *Page, s string) string {
	if p.Locale.Lang == "de" {
		return s
	}
	return strings.ToLower(s)
}

// Home shows the portal home (GET /).
func (h *Handlers) Home(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	lang, def := kbLangs(c, p)
	ctx := c.UserContext()
	entries, err := h.Store.KBPublishedList(ctx, h.kbAudience(c), lang, def)
	if err != nil {
		return err
	}
	ct := ContactOf(c)
	if ct == nil && len(entries) == 0 {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	cats, err := h.Store.KBCategoryList(ctx)
	if err != nil {
		return err
	}
	tickets := lowerLabel(p, p.TicketsLabel)
	v := &homeView{Welcome: p.T("HomeWelcome", "Portal", p.PortalTitle), OpenHeading: p.T("HomeOpenTickets", "Tickets", tickets),
		NoOpen: p.T("HomeNoOpenTickets", "Tickets", tickets), AllTickets: p.T("HomeAllTickets", "Tickets", tickets),
		Categories: h.kbCards(p, cats, entries, lang, def)}
	if ct != nil {
		page, err := h.Store.TicketListForViewer(ctx, h.viewer(c, store.ViewMine), store.TicketListParams{Status: store.StatusOpen, Limit: homeOpenTickets,
			StatusByStage: SettingsOf(c).ShowCustomStages})
		if err != nil {
			return err
		}
		v.Open = listRows(p, SettingsOf(c), page.Rows, "/tickets/")
		v.MoreOpen = page.NextCursor != ""
	}
	p.Title, p.Data = p.T("HomeTitle"), v
	return h.renderPage(c, fiber.StatusOK, "pages/home", p)
}
