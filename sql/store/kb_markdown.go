package store

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
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

var (
	mdSyntax = regexp.MustCompile("[#*_`>\\[\\]|~]+|\\]\\([^)]*\\)|!\\[")
	mdSpaces = regexp.MustCompile(`\s+`)
)

// PlainExcerpt returns Markdown source as one line of plain text, cut at a word boundary to at
// most max characters (an ellipsis marks the cut). It is text, escaped by the templates.
func PlainExcerpt(md string, max int) string {
	s := mdSpaces.ReplaceAllString(mdSyntax.ReplaceAllString(md, " "), " ")
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	cut := string(r[:max])
	if i := strings.LastIndex(cut, " "); i > max/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
