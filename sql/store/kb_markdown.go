package store

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// markdown renders CommonMark with GitHub tables, strikethrough and autolinks. Raw HTML in the
// source is left out by goldmark (no html.WithUnsafe) and the output is sanitised again below.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify))

var (
	policyOnce sync.Once
	policy     *bluemonday.Policy
)

// kbPolicy is bluemonday's user-generated-content policy: no script, style, event handlers or
// javascript: URLs; links get rel="nofollow noopener" and open nowhere else.
func kbPolicy() *bluemonday.Policy {
	policyOnce.Do(func() {
		policy = bluemonday.UGCPolicy()
		policy.RequireNoFollowOnLinks(true)
		policy.AddTargetBlankToFullyQualifiedLinks(false)
	})
	return policy
}

// RenderMarkdown turns an article's Markdown into sanitised HTML, safe to place in a page as is
// (goldmark, CommonMark + GFM tables; bluemonday UGCPolicy). Errors: only from the renderer.
func RenderMarkdown(md string) (string, error) {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(md), &buf); err != nil {
		return "", err
	}
	return kbPolicy().Sanitize(buf.String()), nil
}

var mdSpaces = regexp.MustCompile(`\s+`)

// PlainExcerpt returns Markdown source as one line of plain text, cut at a word boundary to at
// most max characters (an ellipsis marks the cut). It is the text a reader sees: the source is
// parsed like RenderMarkdown and only its words are kept (no headings, emphasis marks, link targets,
// images, raw HTML, list or heading markers, table pipes or code blocks). It is text, escaped by
// the templates.
func PlainExcerpt(md string, max int) string {
	src := []byte(md)
	var b strings.Builder
	_ = ast.Walk(markdown.Parser().Parse(text.NewReader(src)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n := n.(type) {
		case *ast.Image, *ast.HTMLBlock, *ast.RawHTML, *ast.FencedCodeBlock, *ast.CodeBlock, *ast.Heading:
			// Headings are the article's structure (the first one usually repeats its title):
			// an excerpt of them would run a heading into the sentence after it.
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			if entering {
				b.Write(n.Segment.Value(src))
				if n.SoftLineBreak() || n.HardLineBreak() {
					b.WriteByte(' ')
				}
			}
		case *ast.String:
			if entering {
				b.Write(n.Value)
			}
		case *ast.AutoLink:
			if entering {
				b.Write(n.Label(src))
			}
			return ast.WalkSkipChildren, nil
		default:
			if !entering && n.Type() == ast.TypeBlock {
				b.WriteByte(' ') // blocks (paragraphs, headings, list items, table cells) are separate words
			}
		}
		return ast.WalkContinue, nil
	})
	s := strings.TrimSpace(mdSpaces.ReplaceAllString(b.String(), " "))
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	cut := string(r[:max])
	if i := strings.LastIndex(cut, " "); i > max/2 {
		cut = cut[:i]
	}
	// "end of a sentence.…" reads as a typo: the ellipsis replaces the punctuation it follows.
	return strings.TrimRight(cut, ".,;:!?") + "…"
}
