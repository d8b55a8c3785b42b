package handlers

import (
	"errors"
	"html/template"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// Knowledge-base administration (/admin/kb, admins only): categories, and articles written in
// Markdown per language, previewed, saved, published and unpublished one language at a time.

// adminKBRow is one article in the admin list.
type adminKBRow struct {
	Href, Slug, Title, Visibility, Category string
	Languages                               []adminKBLang
	Updated, UpdatedISO                     string
}

// adminKBLang is one translation's state in the admin list and the editor's language tabs.
type adminKBLang struct {
	Code, Name, Href string
	Exists           bool
	Published        bool
	Current          bool
}

// adminKBListView is the view model of admin/kb.html.
type adminKBListView struct {
	Rows       []adminKBRow
	Categories []adminKBCategory
	Form       recordForm
	Languages  []option
}

// adminKBCategory is one category in the admin list.
type adminKBCategory struct {
	ID         int64
	Slug, Name string
}

// adminKBEditView is the view model of admin/kb_edit.html (new article or one language of one).
type adminKBEditView struct {
	ID                int64
	Action            string
	Lang, LangName    string
	Form              recordForm
	Categories        []option
	Visibilities      []option
	Languages         []adminKBLang
	Preview           template.HTML
	Previewing        bool
	Exists, Published bool
	PublicHref        string
	Saved             string
}

func (h *Handlers) kbCategoryOptions(p *Page, cats []store.KBCategory, selected int64, def string) []option {
	out := []option{{Value: "0", Label: p.T("KBNoCategory"), Selected: selected == 0}}
	for _, c := range cats {
		out = append(out, option{Value: itoa(c.ID), Label: c.Name(p.Locale.Lang, def), Selected: c.ID == selected})
	}
	return out
}

func kbVisibilityOptions(p *Page, selected string) []option {
	out := make([]option, len(store.KBVisibilities))
	for i, v := range store.KBVisibilities {
		out[i] = option{Value: v, Label: p.T("KBVisibility_" + v), Selected: v == selected}
	}
	return out
}

// kbEditLang returns the supported language named by ?lang= or the form, else the portal default.
func (h *Handlers) kbEditLang(c *fiber.Ctx, given string) string {
	if l, ok := h.Catalogue.Supported(given); ok {
		return l
	}
	return SettingsOf(c).PortalLanguage
}

// AdminKBList lists articles and categories (GET /admin/kb).
func (h *Handlers) AdminKBList(c *fiber.Ctx) error { return h.adminKBListPage(c, fiber.StatusOK, nil) }

func (h *Handlers) adminKBListPage(c *fiber.Ctx, status int, f *recordForm) error {
	ctx := c.UserContext()
	arts, err := h.Store.KBArticleList(ctx)
	if err != nil {
		return err
	}
	cats, err := h.Store.KBCategoryList(ctx)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	p.Title = p.T("KnowledgeBase")
	def := SettingsOf(c).PortalLanguage
	v := &adminKBListView{}
	if f != nil {
		v.Form = *f
	} else {
		v.Form = newRecordForm()
		v.Form.Values["category_lang"] = def
	}
	catName := map[int64]string{}
	for _, cat := range cats {
		catName[cat.ID] = cat.Name(p.Locale.Lang, def)
		v.Categories = append(v.Categories, adminKBCategory{ID: cat.ID, Slug: cat.Slug, Name: catName[cat.ID]})
	}
	for _, code := range h.Catalogue.Languages() {
		v.Languages = append(v.Languages, option{Value: code, Label: languageNames[code], Selected: code == v.Form.Values["category_lang"]})
	}
	for _, a := range arts {
		r := adminKBRow{Href: "/admin/kb/" + itoa(a.ID), Slug: a.Slug, Visibility: p.T("KBVisibility_" + a.Visibility), Category: catName[a.CategoryID]}
		r.Updated, r.UpdatedISO = p.Locale.Times(a.UpdatedAt)
		for _, t := range a.Translations {
			if r.Title == "" || t.Lang == def {
				r.Title = t.Title
			}
			r.Languages = append(r.Languages, adminKBLang{Code: t.Lang, Name: languageNames[t.Lang], Exists: true, Published: t.Published,
				Href: "/admin/kb/" + itoa(a.ID) + "?lang=" + t.Lang})
		}
		v.Rows = append(v.Rows, r)
	}
	p.Data = v
	return h.renderAdmin(c, status, "admin/kb", p)
}

// AdminKBCategoryCreate adds a category (POST /admin/kb/categories: category_slug,
// category_name, category_lang). 303 to the list, or the list with the errors (422).
func (h *Handlers) AdminKBCategoryCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	for _, k := range []string{"category_slug", "category_name", "category_lang"} {
		f.Values[k] = c.FormValue(k)
	}
	pos, _ := strconv.Atoi(c.FormValue("category_position"))
	_, err := h.Store.KBCategoryCreate(c.UserContext(), StaffOf(c).ID, f.Values["category_slug"], h.kbEditLang(c, f.Values["category_lang"]),
		f.Values["category_name"], pos)
	if err != nil {
		p := h.newPage(c, "", nil)
		if refusal(p, err, &f, "category_slug") {
			return h.adminKBListPage(c, fiber.StatusUnprocessableEntity, &f)
		}
		return err
	}
	return Redirect(c, "/admin/kb")
}

// AdminKBNew shows the form for a new article (GET /admin/kb/new).
func (h *Handlers) AdminKBNew(c *fiber.Ctx) error {
	f := newRecordForm()
	f.Values["visibility"] = store.KBPublic
	return h.adminKBEditPage(c, fiber.StatusOK, 0, h.kbEditLang(c, c.Query("lang")), f, false)
}

// AdminKBShow shows one language of an article for editing (GET /admin/kb/:id?lang=). A
// language without a translation yet shows an empty form with the article's settings.
func (h *Handlers) AdminKBShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := h.Store.KBArticleGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	lang := h.kbEditLang(c, c.Query("lang"))
	if _, ok := h.Catalogue.Supported(c.Query("lang")); !ok && len(a.Translations) > 0 {
		if _, has := a.Translation(lang); !has {
			lang = a.Translations[0].Lang
		}
	}
	f := newRecordForm()
	f.Values["slug"], f.Values["visibility"], f.Values["category"] = a.Slug, a.Visibility, itoa(a.CategoryID)
	if t, ok := a.Translation(lang); ok {
		f.Values["title"], f.Values["body"] = t.Title, t.BodyMD
	}
	return h.adminKBEditPage(c, fiber.StatusOK, id, lang, f, false)
}

// adminKBEditPage renders the editor for article id (0 = new) in lang with the form f; when
// preview is set, the typed Markdown is rendered below the form (nothing is saved).
func (h *Handlers) adminKBEditPage(c *fiber.Ctx, status int, id int64, lang string, f recordForm, preview bool) error {
	ctx := c.UserContext()
	cats, err := h.Store.KBCategoryList(ctx)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	def := SettingsOf(c).PortalLanguage
	catID, _ := strconv.ParseInt(f.Values["category"], 10, 64)
	v := &adminKBEditView{ID: id, Lang: lang, LangName: languageNames[lang], Form: f, Action: "/admin/kb",
		Categories: h.kbCategoryOptions(p, cats, catID, def), Visibilities: kbVisibilityOptions(p, f.Values["visibility"]), Previewing: preview}
	p.Title = p.T("KBNewArticle")
	if id != 0 {
		a, err := h.Store.KBArticleGet(ctx, id)
		if err != nil {
			return err
		}
		v.Action = "/admin/kb/" + itoa(id)
		p.Title = p.T("KBEditArticle", "Slug", a.Slug)
		for _, code := range h.Catalogue.Languages() {
			t, ok := a.Translation(code)
			v.Languages = append(v.Languages, adminKBLang{Code: code, Name: languageNames[code], Exists: ok, Published: t.Published,
				Current: code == lang, Href: "/admin/kb/" + itoa(id) + "?lang=" + code})
			if code == lang {
				v.Exists, v.Published = ok, t.Published
				if !preview && ok {
					v.Preview = template.HTML(t.BodyHTML) // sanitised on save
				}
			}
		}
		if v.Published {
			v.PublicHref = "/kb/" + a.Slug + "?lang=" + lang
		}
	}
	if preview {
		html, err := store.RenderMarkdown(f.Values["body"])
		if err != nil {
			return err
		}
		v.Preview = template.HTML(html) // goldmark + bluemonday UGCPolicy
	}
	switch c.Query("saved") {
	case "1":
		v.Saved = p.T("Saved")
	case "published":
		v.Saved = p.T("KBPublished")
	case "unpublished":
		v.Saved = p.T("KBUnpublished")
	}
	p.Data = v
	return h.renderAdmin(c, status, "admin/kb_edit", p)
}

// AdminKBSave creates (POST /admin/kb) or updates (POST /admin/kb/:id) an article and its
// translation in the form's lang; with action=preview it only shows the rendered preview.
// Success: 303 to the editor of that language. Refused: the editor with errors (422).
func (h *Handlers) AdminKBSave(c *fiber.Ctx) error {
	var id int64
	if c.Params("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
	}
	f := newRecordForm()
	for _, k := range []string{"slug", "title", "body", "visibility", "category"} {
		f.Values[k] = c.FormValue(k)
	}
	lang := h.kbEditLang(c, c.FormValue("lang"))
	if c.FormValue("action") == "preview" {
		return h.adminKBEditPage(c, fiber.StatusOK, id, lang, f, true)
	}
	catID, _ := strconv.ParseInt(f.Values["category"], 10, 64)
	saved, err := h.Store.KBArticleSave(c.UserContext(), StaffOf(c).ID, id, store.KBArticleInput{Slug: f.Values["slug"],
		CategoryID: catID, Visibility: f.Values["visibility"], Lang: lang, Title: f.Values["title"], BodyMD: f.Values["body"]})
	if err != nil {
		p := h.newPage(c, "", nil)
		if refusal(p, err, &f, "slug") {
			return h.adminKBEditPage(c, fiber.StatusUnprocessableEntity, id, lang, f, false)
		}
		return err
	}
	return Redirect(c, "/admin/kb/"+itoa(saved)+"?lang="+lang+"&saved=1")
}

// AdminKBPublish publishes the article's translation in the form's lang (POST
// /admin/kb/:id/publish); 303 to its editor. No such translation: 404.
func (h *Handlers) AdminKBPublish(c *fiber.Ctx) error { return h.kbSetPublished(c, true) }

// AdminKBUnpublish unpublishes the article's translation in the form's lang (POST
// /admin/kb/:id/unpublish); 303 to its editor. No such translation: 404.
func (h *Handlers) AdminKBUnpublish(c *fiber.Ctx) error { return h.kbSetPublished(c, false) }

// kbSetPublished is AdminKBPublish/AdminKBUnpublish: the route decides, never the path's
// spelling (Fiber matches case-insensitively and ignores a trailing slash).
func (h *Handlers) kbSetPublished(c *fiber.Ctx, publish bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	lang := h.kbEditLang(c, c.FormValue("lang"))
	if err := h.Store.KBTranslationPublish(c.UserContext(), StaffOf(c).ID, id, lang, publish); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrNotFound
		}
		return err
	}
	state := "unpublished"
	if publish {
		state = "published"
	}
	return Redirect(c, "/admin/kb/"+itoa(id)+"?lang="+lang+"&saved="+state)
}

// adminKBCategoryView is the view model of admin/kb_category.html: one name input per language.
type adminKBCategoryView struct {
	ID         int64
	Slug, Name string
	Action     string
	Names      []adminKBCategoryName
	Error      string
	Saved      bool
}

// adminKBCategoryName is one language's name input.
type adminKBCategoryName struct {
	Lang, Language, Value, Error string
}

// AdminKBCategoryShow shows a category's names, one per language, for editing (GET
// /admin/kb/categories/:id). Unknown: 404.
func (h *Handlers) AdminKBCategoryShow(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cat, err := h.Store.KBCategoryGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	return h.adminKBCategoryPage(c, fiber.StatusOK, cat, cat.Names, nil)
}

// AdminKBCategoryUpdate saves a category's names (POST /admin/kb/categories/:id, fields
// name_<lang> for each language the portal speaks; an empty one removes that language's name,
// readers then see the portal default's). 303 back with saved=1, or the form with the errors
// and what was typed (422). Unknown: 404.
func (h *Handlers) AdminKBCategoryUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, code := range h.Catalogue.Languages() {
		names[code] = c.FormValue("name_" + code)
	}
	err = h.Store.KBCategorySetNames(c.UserContext(), StaffOf(c).ID, id, names)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		cat, gerr := h.Store.KBCategoryGet(c.UserContext(), id)
		if gerr != nil {
			return gerr
		}
		return h.adminKBCategoryPage(c, fiber.StatusUnprocessableEntity, cat, names, ve.Fields)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/admin/kb/categories/"+itoa(id)+"?saved=1")
}

func (h *Handlers) adminKBCategoryPage(c *fiber.Ctx, status int, cat store.KBCategory, values, errs map[string]string) error {
	p := h.newPage(c, "", nil)
	def := SettingsOf(c).PortalLanguage
	v := &adminKBCategoryView{ID: cat.ID, Slug: cat.Slug, Name: cat.Name(p.Locale.Lang, def), Action: "/admin/kb/categories/" + itoa(cat.ID),
		Saved: c.Query("saved") == "1" && status == fiber.StatusOK}
	if m := errs["names"]; m != "" {
		v.Error = p.T(m)
	}
	for _, code := range h.Catalogue.Languages() {
		n := adminKBCategoryName{Lang: code, Language: languageNames[code], Value: values[code]}
		if m := errs["name_"+code]; m != "" {
			n.Error = p.T(m)
		}
		v.Names = append(v.Names, n)
	}
	p.Title = p.T("KBCategoryHeading", "Name", v.Name)
	p.Data = v
	return h.renderAdmin(c, status, "admin/kb_category", p)
}
