package mail

import (
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
)

// View is what a mail template shows. Every text is already translated.
type View struct {
	// Lang is the BCP 47 language of the mail (<html lang>).
	Lang string
	// Portal is the portal's name (the admin's page title, else the translated default).
	Portal  string
	Subject string
	// Greeting opens the mail ("Hello Anna,").
	Greeting string
	// Paragraphs are the body before the action.
	Paragraphs []string
	// Quote is a message the mail carries (an agent's answer), paragraph by paragraph, shown
	// after Paragraphs as a quotation (HTML blockquote, text lines starting "> ").
	Quote []string
	// Action is the button text and Link its absolute URL ("" = no button).
	Action, Link string
	// Choices are further links shown as buttons after the action, each with its label (the
	// closing mail's "Good" and "Bad" rating links).
	Choices []Choice
	// After are paragraphs after the action (validity, "if this was not you").
	After []string
	// Color is the brand colour "#rrggbb" for the button and heading.
	Color string
	// Footer closes the mail.
	Footer string
}

// Choice is one link button of View.Choices.
type Choice struct{ Label, Link string }

// Renderer renders partials/email/message.html and message.txt.
type Renderer struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

// NewRenderer parses the mail templates from fsys (the partials tree). Errors: a missing or
// broken template (checked at start, not at send time).
func NewRenderer(fsys fs.FS) (*Renderer, error) {
	h, err := htmltemplate.ParseFS(fsys, "email/message.html")
	if err != nil {
		return nil, err
	}
	t, err := texttemplate.New("message.txt").Funcs(texttemplate.FuncMap{"quote": quoteText}).ParseFS(fsys, "email/message.txt")
	if err != nil {
		return nil, err
	}
	return &Renderer{html: h, text: t}, nil
}

// Render returns the message for v, addressed to (to, toName).
func (r *Renderer) Render(to, toName string, v View) (Message, error) {
	if v.Color == "" {
		v.Color = "#1d4ed8"
	}
	var hb, tb strings.Builder
	if err := r.html.Execute(&hb, v); err != nil {
		return Message{}, err
	}
	if err := r.text.Execute(&tb, v); err != nil {
		return Message{}, err
	}
	return Message{To: to, ToName: toName, Subject: v.Subject, Text: tb.String(), HTML: hb.String()}, nil
}

// QuoteParagraphs splits a message body into paragraphs (at blank lines; line breaks inside a
// paragraph kept as "\n"), dropping empty ones; "" gives none.
func QuoteParagraphs(body string) []string {
	body = strings.ReplaceAll(strings.TrimSpace(body), "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(body, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// quoteText prefixes every line of a paragraph with "> " (text part of a mail).
func quoteText(p string) string {
	return "> " + strings.ReplaceAll(p, "\n", "\n> ")
}
