package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/PuerkitoBio/goquery"

	"portico/sql/db"
)

// The help center's additions to the knowledge base (issue 14): "was this helpful" answers per
// article and the outline (table of contents) of an article's headings.

// KBFeedbackAdd records one "was this helpful" answer for the article slug as the reader a may
// see it, in the language lang the reader read. Errors: ErrNotFound when the article is not
// published or not visible to a (the same 404 as reading it).
func (s *Store) KBFeedbackAdd(ctx context.Context, a KBAudience, slug, lang string, helpful bool) error {
	e, err := s.KBPublishedGet(ctx, a, slug, lang, lang, lang)
	if err != nil {
		return err
	}
	if err := db.New(s.Pool).KBFeedbackAdd(ctx, db.KBFeedbackAddParams{ArticleID: e.ArticleID, Lang: e.Lang, Helpful: helpful}); err != nil {
		return fmt.Errorf("kb feedback: %w", err)
	}
	return nil
}

// KBFeedbackTally returns how many answers said the article was helpful, and how many answers
// there are in all.
func (s *Store) KBFeedbackTally(ctx context.Context, articleID int64) (yes, total int64, err error) {
	r, err := db.New(s.Pool).KBFeedbackTally(ctx, articleID)
	if err != nil {
		return 0, 0, fmt.Errorf("kb feedback tally: %w", err)
	}
	return r.Yes, r.Total, nil
}

// KBHeading is one entry of an article's outline.
type KBHeading struct {
	// ID is the heading's id attribute (the link target "#ID").
	ID string
	// Text is the heading's text; Level is 2 or 3.
	Text  string
	Level int
}

var kbAnchorUnsafe = regexp.MustCompile(`[^\p{L}\p{N}]+`)

// KBOutline gives every h2 and h3 of the article body bodyHTML (already sanitised) an id
// ("section-…" from its text, unique in the article, never one the body already uses) and
// returns the body with those ids and the outline in document order. A body without such
// headings comes back unchanged with no outline.
func KBOutline(bodyHTML string) (string, []KBHeading) {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<div id=\"kb-outline-root\">" + bodyHTML + "</div>"))
	if err != nil {
		return bodyHTML, nil
	}
	root := doc.Find("#kb-outline-root")
	hs := root.Find("h2, h3")
	if hs.Length() == 0 {
		return bodyHTML, nil
	}
	used := map[string]bool{}
	root.Find("[id]").Each(func(_ int, s *goquery.Selection) { used[s.AttrOr("id", "")] = true })
	var out []KBHeading
	hs.Each(func(_ int, s *goquery.Selection) {
		text := strings.Join(strings.Fields(s.Text()), " ")
		if text == "" {
			return
		}
		id := s.AttrOr("id", "")
		if id == "" {
			base := "section-" + strings.Trim(kbAnchorUnsafe.ReplaceAllString(strings.ToLower(text), "-"), "-")
			id = base
			for n := 2; used[id]; n++ {
				id = fmt.Sprintf("%s-%d", base, n)
			}
			used[id] = true
			s.SetAttr("id", id)
		}
		level := 2
		if goquery.NodeName(s) == "h3" {
			level = 3
		}
		out = append(out, KBHeading{ID: id, Text: text, Level: level})
	})
	html, err := root.Html()
	if err != nil {
		return bodyHTML, nil
	}
	return html, out
}
