package handlers

import (
	"html/template"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portico/partials"
)

// TestFieldComponent: shared/field.html ties the control to its help and error by
// aria-describedby (help first), marks a refused value aria-invalid, and keeps the typed value.
func TestFieldComponent(t *testing.T) {
	tpl := template.Must(template.New("shared/field").ParseFS(partials.FS, "shared/field.html"))
	tpl = tpl.Lookup("field.html")
	render := func(p *Page) *goquery.Document {
		var b strings.Builder
		if err := tpl.Execute(&b, p); err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	p := &Page{}
	doc := render(p.Input("body", "Body", "textarea", "typed <text>", "Too long", "rows", 16, "help", "Markdown works"))
	ta := doc.Find("textarea#f-body")
	if ta.Length() != 1 || ta.AttrOr("aria-describedby", "") != "h-body e-body" || ta.AttrOr("aria-invalid", "") != "true" ||
		ta.AttrOr("rows", "") != "16" || ta.Text() != "typed <text>" {
		t.Fatalf("textarea: %s", must(doc.Html()))
	}
	if doc.Find(`label[for=f-body]`).Text() != "Body" || doc.Find("#h-body").Text() != "Markdown works" || doc.Find("#e-body[role=alert]").Text() != "Too long" {
		t.Fatalf("label, help or error: %s", must(doc.Html()))
	}
	doc = render(p.Input("subject", "Subject", "text", "hi", "", "maxlength", 200))
	in := doc.Find("input#f-subject")
	if in.AttrOr("maxlength", "") != "200" || in.AttrOr("value", "") != "hi" || in.Is("[aria-invalid]") || in.Is("[aria-describedby]") || doc.Find(".field-error").Length() != 0 {
		t.Fatalf("valid input: %s", must(doc.Html()))
	}
}

func must(s string, _ error) string { return s }
