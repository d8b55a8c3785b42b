package handlers

import (
	"html/template"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/sql/store"
)

// The public knowledge base (/kb): categories of Markdown articles, searchable in the reader's
// language, readable without signing in. Portal-only articles need a signed-in customer and
// internal ones a staff session; anyone else gets 404 (no existence leak).

// kbSearchLimit is the most search results shown.
const kbSearchLimit = 50

// kbChrome is what the knowledge-base layout needs beside the Page envelope.
type kbChrome struct {
	// PortalLink shows "Go to {portal name}" at the top right (setting kb_show_portal_link).
	PortalLink bool
	// Q is the search box's text.
	Q string
	// Banner: the page has its own search banner (the help center's index), so the layout
	// leaves its search form out.
	Banner bool
}

// kbEntryView is one article in a list or search result.
type kbEntryView struct {
	Href, Title, Excerpt string
	// Lang is set when the article is shown in another language than the page's.
	Lang                string
	Updated, UpdatedISO string
}

// kbCategoryView is one category with its articles on the index page.
type kbCategoryView struct {
	Anchor, Name string
	Articles     []kbEntryView
}

// kbIndexView is the view model of kb/index.html.
type kbIndexView struct {
	kbChrome
	Cards      []kbCardView
	Categories []kbCategoryView
	Empty      bool
}

// kbSearchView is the view model of kb/search.html.
type kbSearchView struct {
	kbChrome
	Results []kbEntryView
	Summary string
}

// kbArticleView is the view model of kb/article.html.
type kbArticleView struct {
	kbChrome
	Slug     string
	Title    string
	Lang     string
	Body     template.HTML
	Category string
	// Fallback explains that the article is not available in the page's language.
	Fallback            string
	Updated, UpdatedISO string
	// Translations link to the article in its other published languages.
	Translations []LanguageOption
	Visibility   string
	// Outline is the table of contents (the article's h2 and h3), shown from two entries on.
	Outline []store.KBHeading
	// Related are other articles of the same category (at most kbRelated).
	Related []kbEntryView
	// Helpful is the "was this helpful" state: Thanks after an answer, with the tally.
	Thanks bool
	Tally  string
}

// kbRelated is the most related articles listed under an article.
const kbRelated = 5

// kbAudience says who reads: staff (a live staff session), a signed-in customer, or a visitor.
func (h *Handlers) kbAudience(c *fiber.Ctx) store.KBAudience {
	if sess := SessionOf(c); sess.Authenticated() && sess.Kind == auth.KindStaff {
		if _, err := h.Store.StaffGet(c.UserContext(), sess.PrincipalID); err == nil {
			return store.KBStaff
		}
	}
	if ContactOf(c) != nil {
		return store.KBCustomer
	}
	return store.KBVisitor
}

// kbLangs returns the page's language and the portal default (the article fallback).
func kbLangs(c *fiber.Ctx, p *Page) (string, string) {
	return p.Locale.Lang, SettingsOf(c).PortalLanguage
}

func (h *Handlers) kbEntry(p *Page, e store.KBEntry) kbEntryView {
	v := kbEntryView{Href: "/kb/" + e.Slug, Title: e.Title, Excerpt: e.Excerpt}
	v.Updated, v.UpdatedISO = p.Locale.Times(e.UpdatedAt)
	if e.Lang != p.Locale.Lang {
		v.Lang = e.Lang
		v.Href += "?lang=" + url.QueryEscape(e.Lang)
	}
	return v
}

func (h *Handlers) renderKB(c *fiber.Ctx, status int, name string, p *Page) error {
	c.Status(status)
	return c.Render(name, p, "kb/layout")
}

// KBIndex lists the published articles the reader may see, by category (GET /kb).
func (h *Handlers) KBIndex(c *fiber.Ctx) error {
	// No page title of its own: the KB layout's title already says "Knowledge base".
	p := h.newPage(c, "", nil)
	lang, def := kbLangs(c, p)
	ctx := c.UserContext()
	entries, err := h.Store.KBPublishedList(ctx, h.kbAudience(c), lang, def)
	if err != nil {
		return err
	}
	cats, err := h.Store.KBCategoryList(ctx)
	if err != nil {
		return err
	}
	v := &kbIndexView{kbChrome: kbChrome{PortalLink: SettingsOf(c).KBShowPortalLink, Banner: true}, Empty: len(entries) == 0}
	v.Cards = h.kbCards(p, cats, entries, lang, def)
	byCat := map[int64][]kbEntryView{}
	for _, e := range entries {
		byCat[e.CategoryID] = append(byCat[e.CategoryID], h.kbEntry(p, e))
	}
	for _, cat := range cats {
		if len(byCat[cat.ID]) > 0 {
			v.Categories = append(v.Categories, kbCategoryView{Anchor: "category-" + cat.Slug, Name: cat.Name(lang, def), Articles: byCat[cat.ID]})
		}
	}
	if len(byCat[0]) > 0 {
		v.Categories = append(v.Categories, kbCategoryView{Anchor: "category-other", Name: p.T("KBOtherArticles"), Articles: byCat[0]})
	}
	p.Data = v
	return h.renderKB(c, fiber.StatusOK, "kb/index", p)
}

// KBSearch searches the published articles the reader may see, in the reader's language with
// stemming (GET /kb/search?q=).
func (h *Handlers) KBSearch(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	q := c.Query("q")
	if len([]rune(q)) > 200 {
		q = string([]rune(q)[:200])
	}
	p.Title = p.T("KBSearchTitle", "Query", q)
	lang, def := kbLangs(c, p)
	found, err := h.Store.KBSearch(c.UserContext(), h.kbAudience(c), q, lang, def, kbSearchLimit)
	if err != nil {
		return err
	}
	v := &kbSearchView{kbChrome: kbChrome{PortalLink: SettingsOf(c).KBShowPortalLink, Q: q}}
	for _, e := range found {
		v.Results = append(v.Results, h.kbEntry(p, e))
	}
	v.Summary = p.T("KBResultCount", "Count", p.Locale.Number(int64(len(v.Results))), "Query", q)
	if q == "" {
		v.Summary = p.T("KBSearchEmpty")
	}
	p.Data = v
	return h.renderKB(c, fiber.StatusOK, "kb/search", p)
}

// KBArticleShow shows one published article (GET /kb/:slug, optional ?lang= for a translation):
// in the requested language, else the page's, else the portal default, else any. Not published
// or not visible to the reader: 404.
func (h *Handlers) KBArticleShow(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	lang, def := kbLangs(c, p)
	want := c.Query("lang")
	ctx := c.UserContext()
	e, err := h.Store.KBPublishedGet(ctx, h.kbAudience(c), c.Params("slug"), want, lang, def)
	if err != nil {
		return err
	}
	p.Title = e.Title
	body, outline := store.KBOutline(e.BodyHTML) // sanitised on save (store.RenderMarkdown); ids added from text
	v := &kbArticleView{kbChrome: kbChrome{PortalLink: SettingsOf(c).KBShowPortalLink}, Slug: e.Slug, Title: e.Title,
		Body: template.HTML(body), Visibility: e.Visibility}
	if len(outline) >= 2 {
		v.Outline = outline
	}
	if c.Query("helpful") != "" {
		v.Thanks = true
		yes, total, err := h.Store.KBFeedbackTally(ctx, e.ArticleID)
		if err != nil {
			return err
		}
		if total > 0 {
			v.Tally = p.T("KBHelpfulTally", "Yes", p.Locale.Number(yes), "Total", p.Locale.Number(total))
		}
	}
	if e.CategoryID != 0 {
		all, err := h.Store.KBPublishedList(ctx, h.kbAudience(c), lang, def)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.CategoryID == e.CategoryID && o.ArticleID != e.ArticleID && len(v.Related) < kbRelated {
				v.Related = append(v.Related, h.kbEntry(p, o))
			}
		}
	}
	v.Updated, v.UpdatedISO = p.Locale.Times(e.UpdatedAt)
	if e.Lang != lang {
		v.Lang = e.Lang // the article element carries its own lang for screen readers
		if want == "" {
			v.Fallback = p.T("KBFallbackNotice", "Language", tOr(p, "KBLanguageName_"+e.Lang, languageNames[e.Lang]))
		}
	}
	for _, l := range e.Languages {
		v.Translations = append(v.Translations, LanguageOption{Code: l, Name: languageNames[l], Current: l == e.Lang})
	}
	if e.CategoryID != 0 {
		cats, err := h.Store.KBCategoryList(ctx)
		if err != nil {
			return err
		}
		for _, cat := range cats {
			if cat.ID == e.CategoryID {
				v.Category = cat.Name(lang, def)
			}
		}
	}
	p.Data = v
	return h.renderKB(c, fiber.StatusOK, "kb/article", p)
}

// itoa is strconv.FormatInt for ids.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// KBFeedback records "was this article helpful" (POST /kb/:slug/helpful, form helpful=yes|no,
// lang = the language read) and goes back to the article, which then thanks the reader. An
// article the reader may not see: 404, like reading it.
func (h *Handlers) KBFeedback(c *fiber.Ctx) error {
	helpful := c.FormValue("helpful")
	if helpful != "yes" && helpful != "no" {
		return ErrBadForm
	}
	lang := c.FormValue("lang")
	if lang == "" {
		lang = h.newPage(c, "", nil).Locale.Lang
	}
	slug := c.Params("slug")
	if err := h.Store.KBFeedbackAdd(c.UserContext(), h.kbAudience(c), slug, lang, helpful == "yes"); err != nil {
		return err
	}
	return Redirect(c, "/kb/"+url.PathEscape(slug)+"?lang="+url.QueryEscape(lang)+"&helpful="+helpful+"#kb-helpful")
}
