package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Knowledge-base article visibilities (kb_articles.visibility).
const (
	// KBPublic articles are read by anyone, signed in or not.
	KBPublic = "public"
	// KBPortal articles are read by signed-in customers (and staff).
	KBPortal = "portal"
	// KBInternal articles are read by staff only.
	KBInternal = "internal"
)

// KBVisibilities lists the visibilities in the order the admin console offers them.
var KBVisibilities = []string{KBPublic, KBPortal, KBInternal}

// KBAudience is who reads the knowledge base: it decides which visibilities they may see.
type KBAudience int

// Audiences, from the least to the most trusted.
const (
	KBVisitor  KBAudience = iota // anonymous
	KBCustomer                   // a signed-in contact
	KBStaff                      // a signed-in agent or admin
)

// Visibilities returns the article visibilities a reads: visitors public, customers also
// portal-only, staff everything.
func (a KBAudience) Visibilities() []string {
	switch a {
	case KBStaff:
		return []string{KBPublic, KBPortal, KBInternal}
	case KBCustomer:
		return []string{KBPublic, KBPortal}
	}
	return []string{KBPublic}
}

// KBSearchConfigs maps a language code to its PostgreSQL text search configuration; any other
// language is searched with "simple" (the generated column in migration 00005 uses the same table).
var KBSearchConfigs = map[string]string{"en": "english", "nl": "dutch", "de": "german", "fr": "french", "es": "spanish"}

// KBSearchConfig returns the text search configuration for lang ("simple" when unknown).
func KBSearchConfig(lang string) string {
	if c, ok := KBSearchConfigs[lang]; ok {
		return c
	}
	return "simple"
}

// KBCategory groups articles. Names holds its name per language.
type KBCategory struct {
	ID       int64
	Slug     string
	Names    map[string]string
	Position int
}

// Name returns the category's name in lang, else in fallback, else any name, else the slug.
func (c KBCategory) Name(lang, fallback string) string {
	if n := c.Names[lang]; n != "" {
		return n
	}
	if n := c.Names[fallback]; n != "" {
		return n
	}
	if n := c.Names["en"]; n != "" {
		return n
	}
	for _, n := range c.Names {
		if n != "" {
			return n
		}
	}
	return c.Slug
}

// KBEntry is one published article as a reader gets it, in one language.
type KBEntry struct {
	ArticleID  int64
	Slug       string
	CategoryID int64
	Visibility string
	Lang       string
	Title      string
	BodyHTML   string
	// Excerpt is the start of the Markdown source as plain text (for lists and search results).
	Excerpt   string
	UpdatedAt time.Time
	// Languages are the languages the article is published in (sorted).
	Languages []string
}

// KBTranslation is one language of an article as the admin console edits it.
type KBTranslation struct {
	Lang        string
	Title       string
	BodyMD      string
	BodyHTML    string
	Published   bool
	PublishedAt time.Time
	UpdatedAt   time.Time
}

// KBArticle is an article with every translation (admin console).
type KBArticle struct {
	ID           int64
	Slug         string
	CategoryID   int64
	Visibility   string
	UpdatedAt    time.Time
	Translations []KBTranslation
}

// Translation returns the article's translation in lang and whether it exists.
func (a KBArticle) Translation(lang string) (KBTranslation, bool) {
	for _, t := range a.Translations {
		if t.Lang == lang {
			return t, true
		}
	}
	return KBTranslation{}, false
}

// KBArticleInput is what the admin typed for an article and one of its languages.
type KBArticleInput struct {
	Slug       string
	CategoryID int64
	Visibility string
	Lang       string
	Title      string
	BodyMD     string
}

var kbSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// kbLang matches a language code as stored (ISO 639-1 or -3, lower case).
var kbLang = regexp.MustCompile(`^[a-z]{2,3}$`)

// KBMaxBody is the longest Markdown body accepted, in characters.
const KBMaxBody = 100_000

// validate normalises in and returns a *ValidationError naming the first bad field.
func (in *KBArticleInput) validate() error {
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	in.Title = strings.TrimSpace(in.Title)
	in.Lang = strings.ToLower(strings.TrimSpace(in.Lang))
	in.BodyMD = strings.ReplaceAll(in.BodyMD, "\r\n", "\n")
	fields := map[string]string{}
	if len(in.Slug) > 100 || !kbSlug.MatchString(in.Slug) {
		fields["slug"] = "KBSlugInvalid"
	}
	if in.Title == "" || len([]rune(in.Title)) > 200 {
		fields["title"] = "KBTitleInvalid"
	}
	if len([]rune(in.BodyMD)) > KBMaxBody || strings.ContainsRune(in.BodyMD, 0) {
		fields["body"] = "KBBodyInvalid"
	}
	if !kbLang.MatchString(in.Lang) {
		fields["lang"] = "KBLangInvalid"
	}
	ok := false
	for _, v := range KBVisibilities {
		ok = ok || v == in.Visibility
	}
	if !ok {
		fields["visibility"] = "KBVisibilityInvalid"
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// KBCategoryList returns every category in display order.
func (s *Store) KBCategoryList(ctx context.Context) ([]KBCategory, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, slug, names, position FROM kb_categories ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("kb categories: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KBCategory, error) {
		var c KBCategory
		var names []byte
		if err := r.Scan(&c.ID, &c.Slug, &names, &c.Position); err != nil {
			return c, err
		}
		return c, json.Unmarshal(names, &c.Names)
	})
}

// KBCategoryCreate adds a category with its name in lang. Errors: *ValidationError (slug,
// name), ErrConflict when the slug is taken.
func (s *Store) KBCategoryCreate(ctx context.Context, staffID int64, slug, lang, name string, position int) (KBCategory, error) {
	slug = strings.ToLower(strings.TrimSpace(slug))
	name = strings.TrimSpace(name)
	if len(slug) > 100 || !kbSlug.MatchString(slug) {
		return KBCategory{}, Invalid("category_slug", "KBSlugInvalid")
	}
	if name == "" || len([]rune(name)) > 100 {
		return KBCategory{}, Invalid("category_name", "KBTitleInvalid")
	}
	if !kbLang.MatchString(lang) {
		return KBCategory{}, Invalid("category_lang", "KBLangInvalid")
	}
	c := KBCategory{Slug: slug, Names: map[string]string{lang: name}, Position: position}
	names, _ := json.Marshal(c.Names)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO kb_categories (slug, names, position) VALUES ($1, $2, $3) RETURNING id`,
			slug, names, position).Scan(&c.ID); err != nil {
			return err
		}
		return kbAudit(ctx, tx, staffID, "kb.category."+slug, "", name)
	})
	if isUnique(err) {
		return KBCategory{}, fmt.Errorf("kb category %q: %w", slug, ErrConflict)
	}
	if err != nil {
		return KBCategory{}, fmt.Errorf("kb category: %w", err)
	}
	return c, nil
}

// KBCategoryRename sets the category's name in lang ("" removes that language's name).
// Errors: ErrNotFound, *ValidationError (category_name).
func (s *Store) KBCategoryRename(ctx context.Context, staffID, id int64, lang, name string) error {
	name = strings.TrimSpace(name)
	if len([]rune(name)) > 100 {
		return Invalid("category_name", "KBTitleInvalid")
	}
	if !kbLang.MatchString(lang) {
		return Invalid("category_lang", "KBLangInvalid")
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var slug, before string
		err := tx.QueryRow(ctx, `SELECT slug, coalesce(names->>$2, '') FROM kb_categories WHERE id = $1 FOR UPDATE`, id, lang).Scan(&slug, &before)
		if err != nil {
			return notFound(err)
		}
		if name == "" {
			_, err = tx.Exec(ctx, `UPDATE kb_categories SET names = names - $2 WHERE id = $1`, id, lang)
		} else {
			_, err = tx.Exec(ctx, `UPDATE kb_categories SET names = names || jsonb_build_object($2::text, $3::text) WHERE id = $1`, id, lang, name)
		}
		if err != nil {
			return err
		}
		return kbAudit(ctx, tx, staffID, "kb.category."+slug+"."+lang, before, name)
	})
}

// KBCategoryGet returns one category. Errors: ErrNotFound.
func (s *Store) KBCategoryGet(ctx context.Context, id int64) (KBCategory, error) {
	var c KBCategory
	var names []byte
	err := s.Pool.QueryRow(ctx, `SELECT id, slug, names, position FROM kb_categories WHERE id = $1`, id).Scan(&c.ID, &c.Slug, &names, &c.Position)
	if err != nil {
		return c, fmt.Errorf("kb category %d: %w", id, notFound(err))
	}
	return c, json.Unmarshal(names, &c.Names)
}

// KBCategorySetNames sets the category's names, language code → name ("" removes that
// language's name; languages not in names are left alone), in one transaction with one audit
// entry per changed language. Errors: ErrNotFound, *ValidationError ("name_<lang>":
// KBTitleInvalid for a name over 100 characters; "names": KBCategoryNeedsName when no name
// would remain; "category_lang": a malformed language code).
func (s *Store) KBCategorySetNames(ctx context.Context, staffID, id int64, names map[string]string) error {
	clean := map[string]string{}
	fields := map[string]string{}
	for lang, name := range names {
		if !kbLang.MatchString(lang) {
			return Invalid("category_lang", "KBLangInvalid")
		}
		name = strings.TrimSpace(name)
		if len([]rune(name)) > 100 {
			fields["name_"+lang] = "KBTitleInvalid"
		}
		clean[lang] = name
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var slug string
		var raw []byte
		if err := tx.QueryRow(ctx, `SELECT slug, names FROM kb_categories WHERE id = $1 FOR UPDATE`, id).Scan(&slug, &raw); err != nil {
			return fmt.Errorf("kb category %d: %w", id, notFound(err))
		}
		current := map[string]string{}
		if err := json.Unmarshal(raw, &current); err != nil {
			return err
		}
		next := maps.Clone(current)
		for lang, name := range clean {
			if name == "" {
				delete(next, lang)
			} else {
				next[lang] = name
			}
		}
		if len(next) == 0 {
			return Invalid("names", "KBCategoryNeedsName")
		}
		b, _ := json.Marshal(next)
		if _, err := tx.Exec(ctx, `UPDATE kb_categories SET names = $2 WHERE id = $1`, id, b); err != nil {
			return err
		}
		langs := slices.Sorted(maps.Keys(clean))
		for _, lang := range langs {
			if current[lang] != next[lang] {
				if err := kbAudit(ctx, tx, staffID, "kb.category."+slug+"."+lang, current[lang], next[lang]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// kbEntryColumns are the columns scanned by scanKBEntry, over kb_articles a and kb_translations t.
const kbEntryColumns = `a.id, a.slug, coalesce(a.category_id, 0), a.visibility, t.lang, t.title, t.body_html,
	left(t.body_md, 2000), t.updated_at,
	ARRAY(SELECT x.lang FROM kb_translations x WHERE x.article_id = a.id AND x.published ORDER BY x.lang)`

func scanKBEntry(r pgx.CollectableRow) (KBEntry, error) {
	var e KBEntry
	err := r.Scan(&e.ArticleID, &e.Slug, &e.CategoryID, &e.Visibility, &e.Lang, &e.Title, &e.BodyHTML, &e.Excerpt, &e.UpdatedAt, &e.Languages)
	e.Excerpt = PlainExcerpt(e.Excerpt, 160)
	return e, err
}

// kbPreference orders an article's published translations for a reader of lang: lang first,
// then the portal default fallback, then any other (alphabetically). $2 = lang, $3 = fallback.
const kbPreference = `(t.lang = $2) DESC, (t.lang = $3) DESC, t.lang`

// KBPublishedList returns one entry per published article that a may read, in lang when it
// exists, else in fallback (the portal default), else in any published language; ordered by
// category and title.
func (s *Store) KBPublishedList(ctx context.Context, a KBAudience, lang, fallback string) ([]KBEntry, error) {
	rows, err := s.Pool.Query(ctx, `SELECT * FROM (
		SELECT DISTINCT ON (a.id) `+kbEntryColumns+`
		FROM kb_articles a JOIN kb_translations t ON t.article_id = a.id AND t.published
		WHERE a.visibility = ANY($1)
		ORDER BY a.id, `+kbPreference+`) e ORDER BY lower(title)`, a.Visibilities(), lang, fallback)
	if err != nil {
		return nil, fmt.Errorf("kb list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanKBEntry)
	if err != nil {
		return nil, fmt.Errorf("kb list: %w", err)
	}
	return out, nil
}

// KBPublishedGet returns the published article slug for a: in want when it is published in
// it, else in lang, else fallback, else any published language. Outside a's visibilities or
// unpublished: ErrNotFound (no existence leak).
func (s *Store) KBPublishedGet(ctx context.Context, a KBAudience, slug, want, lang, fallback string) (KBEntry, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+kbEntryColumns+`
		FROM kb_articles a JOIN kb_translations t ON t.article_id = a.id AND t.published
		WHERE a.visibility = ANY($1) AND a.slug = $4
		ORDER BY (t.lang = $5) DESC, `+kbPreference+` LIMIT 1`, a.Visibilities(), lang, fallback, slug, want)
	if err != nil {
		return KBEntry{}, fmt.Errorf("kb get: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanKBEntry)
	if err != nil {
		return KBEntry{}, fmt.Errorf("kb article %q: %w", slug, notFound(err))
	}
	return e, nil
}

// kbSearchConfigSQL is KBSearchConfigs as an SQL expression over a translation's t.lang, the
// same mapping as the generated search column of migration 00005.
var kbSearchConfigSQL = func() string {
	var b strings.Builder
	b.WriteString("(CASE t.lang")
	for _, lang := range []string{"en", "nl", "de", "fr", "es"} {
		b.WriteString(" WHEN '" + lang + "' THEN '" + KBSearchConfigs[lang] + "'")
	}
	b.WriteString(" ELSE 'simple' END)::regconfig")
	return b.String()
}()

// KBSearch finds published articles a may read whose text matches q (websearch syntax: words,
// "phrases", -excluded, or). Each article is searched in the translation the reader is shown in
// the list (lang, else fallback, the portal default, else any published language), with that
// translation's own language's stemming: a German-only article listed for an English reader is
// found by its German words. Best matches first; at most limit.
func (s *Store) KBSearch(ctx context.Context, a KBAudience, q, lang, fallback string, limit int) ([]KBEntry, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if len([]rune(q)) > 200 {
		q = string([]rune(q)[:200])
	}
	rows, err := s.Pool.Query(ctx, `WITH shown AS (
			SELECT DISTINCT ON (a.id) a.id AS article_id, t.lang
			FROM kb_articles a JOIN kb_translations t ON t.article_id = a.id AND t.published
			WHERE a.visibility = ANY($1)
			ORDER BY a.id, `+kbPreference+`)
		SELECT `+kbEntryColumns+`
		FROM shown JOIN kb_translations t ON t.article_id = shown.article_id AND t.lang = shown.lang
		JOIN kb_articles a ON a.id = t.article_id
		WHERE t.search @@ websearch_to_tsquery(`+kbSearchConfigSQL+`, $4)
		ORDER BY ts_rank(t.search, websearch_to_tsquery(`+kbSearchConfigSQL+`, $4)) DESC, a.id
		LIMIT $5`, a.Visibilities(), lang, fallback, q, limit)
	if err != nil {
		return nil, fmt.Errorf("kb search: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanKBEntry)
	if err != nil {
		return nil, fmt.Errorf("kb search: %w", err)
	}
	return out, nil
}

// KBArticleList returns every article with its translations (admin console), newest change first.
func (s *Store) KBArticleList(ctx context.Context) ([]KBArticle, error) {
	rows, err := s.Pool.Query(ctx, `SELECT a.id, a.slug, coalesce(a.category_id, 0), a.visibility, a.updated_at,
		t.lang, t.title, t.published
		FROM kb_articles a LEFT JOIN kb_translations t ON t.article_id = a.id
		ORDER BY a.updated_at DESC, a.id DESC, t.lang`)
	if err != nil {
		return nil, fmt.Errorf("kb articles: %w", err)
	}
	defer rows.Close()
	var out []KBArticle
	for rows.Next() {
		var a KBArticle
		var lang, title *string
		var published *bool
		if err := rows.Scan(&a.ID, &a.Slug, &a.CategoryID, &a.Visibility, &a.UpdatedAt, &lang, &title, &published); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != a.ID {
			out = append(out, a)
		}
		if lang != nil {
			last := &out[len(out)-1]
			last.Translations = append(last.Translations, KBTranslation{Lang: *lang, Title: *title, Published: *published})
		}
	}
	return out, rows.Err()
}

// KBArticleGet returns article id with every translation. Errors: ErrNotFound.
func (s *Store) KBArticleGet(ctx context.Context, id int64) (KBArticle, error) {
	var a KBArticle
	err := s.Pool.QueryRow(ctx, `SELECT id, slug, coalesce(category_id, 0), visibility, updated_at FROM kb_articles WHERE id = $1`, id).
		Scan(&a.ID, &a.Slug, &a.CategoryID, &a.Visibility, &a.UpdatedAt)
	if err != nil {
		return a, fmt.Errorf("kb article %d: %w", id, notFound(err))
	}
	rows, err := s.Pool.Query(ctx, `SELECT lang, title, body_md, body_html, published, coalesce(published_at, 'epoch'), updated_at
		FROM kb_translations WHERE article_id = $1 ORDER BY lang`, id)
	if err != nil {
		return a, err
	}
	a.Translations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (KBTranslation, error) {
		var t KBTranslation
		err := r.Scan(&t.Lang, &t.Title, &t.BodyMD, &t.BodyHTML, &t.Published, &t.PublishedAt, &t.UpdatedAt)
		return t, err
	})
	return a, err
}

// KBArticleSave creates (id 0) or updates article id: its slug, category and visibility, and
// its translation in in.Lang (Markdown rendered and sanitised here). A new translation starts
// unpublished; an edited one keeps its state. Every save is audited. It returns the article
// id. Errors: *ValidationError (slug, title, body, lang, visibility, category), ErrConflict
// (slug taken), ErrNotFound (id).
func (s *Store) KBArticleSave(ctx context.Context, staffID, id int64, in KBArticleInput) (int64, error) {
	if err := in.validate(); err != nil {
		return 0, err
	}
	html, err := RenderMarkdown(in.BodyMD)
	if err != nil {
		return 0, Invalid("body", "KBBodyInvalid")
	}
	var cat *int64
	if in.CategoryID != 0 {
		cat = &in.CategoryID
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if cat != nil {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM kb_categories WHERE id = $1`, *cat).Scan(&one); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return Invalid("category", "KBCategoryInvalid")
				}
				return err
			}
		}
		before := ""
		if id == 0 {
			if err := tx.QueryRow(ctx, `INSERT INTO kb_articles (slug, category_id, visibility) VALUES ($1, $2, $3) RETURNING id`,
				in.Slug, cat, in.Visibility).Scan(&id); err != nil {
				return err
			}
		} else {
			if err := tx.QueryRow(ctx, `SELECT slug || ' ' || visibility FROM kb_articles WHERE id = $1 FOR UPDATE`, id).Scan(&before); err != nil {
				return notFound(err)
			}
			if _, err := tx.Exec(ctx, `UPDATE kb_articles SET slug = $2, category_id = $3, visibility = $4, updated_at = now() WHERE id = $1`,
				id, in.Slug, cat, in.Visibility); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO kb_translations (article_id, lang, title, body_md, body_html) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (article_id, lang) DO UPDATE SET title = $3, body_md = $4, body_html = $5, updated_at = now()`,
			id, in.Lang, in.Title, in.BodyMD, html); err != nil {
			return err
		}
		return kbAudit(ctx, tx, staffID, fmt.Sprintf("kb.article.%d.%s", id, in.Lang), before, in.Slug+" "+in.Visibility+": "+in.Title)
	})
	switch {
	case isUnique(err):
		return 0, fmt.Errorf("kb article %q: %w", in.Slug, ErrConflict)
	case err != nil:
		return 0, fmt.Errorf("kb article save: %w", err)
	}
	return id, nil
}

// KBTranslationPublish publishes or unpublishes article id's translation in lang (audited).
// Errors: ErrNotFound when the article has no such translation.
func (s *Store) KBTranslationPublish(ctx context.Context, staffID, id int64, lang string, publish bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `UPDATE kb_translations n SET published = $3,
			published_at = CASE WHEN $3 AND NOT o.published THEN now() WHEN $3 THEN n.published_at ELSE NULL END
			FROM kb_translations o WHERE o.article_id = n.article_id AND o.lang = n.lang AND n.article_id = $1 AND n.lang = $2
			RETURNING o.published`, id, lang, publish).Scan(&was)
		if err != nil {
			return fmt.Errorf("kb article %d %s: %w", id, lang, notFound(err))
		}
		state := map[bool]string{true: "published", false: "draft"}
		if was == publish {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE kb_articles SET updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		return kbAudit(ctx, tx, staffID, fmt.Sprintf("kb.article.%d.%s", id, lang), state[was], state[publish])
	})
}

// kbAudit writes one audit_log row for a knowledge-base change by staffID (0 = the system).
func kbAudit(ctx context.Context, tx pgx.Tx, staffID int64, key, before, after string) error {
	return auditByStaffID(ctx, tx, staffID, key, before, after)
}
