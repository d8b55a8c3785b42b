package handlers

import (
	"fmt"
	"strings"
)

// The shared template components under partials/shared take their own view model, handed over
// with a Page method: {{template "shared/pagination" (.Pager .Data.PrevHref .Data.NextHref true)}},
// {{template "shared/field" (.Input "subject" (.T "Subject") "text" .Data.Subject (index .Data.Errors "subject") "maxlength" 200)}},
// {{template "shared/signin_form" (.SignInForm "/login" "login-form")}}.

// PagerData is shared/pagination.html's view model: the previous and next page links ("" =
// none) and whether they load through htmx (hx-get) or as plain links.
type PagerData struct {
	Prev, Next string
	HX         bool
}

// Pager returns a page for shared/pagination.html.
func (p *Page) Pager(prev, next string, hx bool) *Page {
	return p.With(PagerData{Prev: prev, Next: next, HX: hx})
}

// FieldData is shared/field.html's view model: one labelled input or textarea with an optional
// help text and error message, tied to them by aria-describedby (help first). Ids follow one
// scheme: f-NAME for the control, h-NAME for the help, e-NAME for the error.
type FieldData struct {
	Name, Label, Type, Value string
	// Help is shown under the control ("" = none); Error is the message of a refused value.
	Help, Error string
	// Autocomplete is the autocomplete token ("" = none); Max the maxlength (0 = none); Rows a
	// textarea's rows (0 = 3).
	Autocomplete string
	Max, Rows    int
	Required     bool
	// Placeholder is shown in an empty control ("" = none), e.g. "stored" for a kept secret.
	Placeholder string
}

// ID is the control's id (f-NAME).
func (f FieldData) ID() string { return "f-" + f.Name }

// HelpID is the help text's id (h-NAME).
func (f FieldData) HelpID() string { return "h-" + f.Name }

// ErrorID is the error message's id (e-NAME).
func (f FieldData) ErrorID() string { return "e-" + f.Name }

// Describedby is the aria-describedby value: the help's and the error's ids, those present.
func (f FieldData) Describedby() string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, f.HelpID())
	}
	if f.Error != "" {
		ids = append(ids, f.ErrorID())
	}
	return strings.Join(ids, " ")
}

// Input returns a page for shared/field.html. typ is an input type or "textarea"; opts are
// pairs of option name and value: "help" string, "maxlength" int, "rows" int, "autocomplete"
// string, "required" bool, "placeholder" string. An unknown option or a value of the wrong type panics (a template
// error, caught by the template tests).
func (p *Page) Input(name, label, typ, value, errMsg string, opts ...any) *Page {
	f := FieldData{Name: name, Label: label, Type: typ, Value: value, Error: errMsg}
	if len(opts)%2 != 0 {
		panic(fmt.Sprintf("Input %s: options come in pairs", name))
	}
	for i := 0; i < len(opts); i += 2 {
		switch k := opts[i].(string); k {
		case "help":
			f.Help = opts[i+1].(string)
		case "maxlength":
			f.Max = opts[i+1].(int)
		case "rows":
			f.Rows = opts[i+1].(int)
		case "autocomplete":
			f.Autocomplete = opts[i+1].(string)
		case "required":
			f.Required = opts[i+1].(bool)
		case "placeholder":
			f.Placeholder = opts[i+1].(string)
		default:
			panic(fmt.Sprintf("Input %s: unknown option %q", name, k))
		}
	}
	return p.With(f)
}

// SignInFormData is shared/signin_form.html's view model: where the form posts, its id, and
// the sign-in form's state (typed email, error, notice, return_to).
type SignInFormData struct {
	Action, FormID string
	loginForm
}

// SignInForm returns a page for shared/signin_form.html posting to action, from the page's
// loginForm data (the customer and the staff sign-in pages share the form).
func (p *Page) SignInForm(action, formID string) *Page {
	f, _ := p.Data.(loginForm)
	return p.With(SignInFormData{Action: action, FormID: formID, loginForm: f})
}

// ConfirmData is shared/confirm_step.html's view model: a destructive action behind a
// confirmation step that needs no JavaScript (a disclosure whose summary names the action and
// opens the question with the button that really does it).
type ConfirmData struct {
	// ID prefixes the ids: ID (the disclosure), ID-yes (the button that does it).
	ID string
	// Summary names the action ("Delete"); Label, when set, is the summary's accessible name
	// ("Delete: Okta"); Question says what happens; Yes is the button's text.
	Summary, Label, Question, Yes string
	// Action is the form's POST target; Hidden are name, value pairs posted with it.
	Action string
	Hidden [][2]string
}

// Confirm returns a page for shared/confirm_step.html; hidden are name, value pairs.
func (p *Page) Confirm(id, summary, label, question, action, yes string, hidden ...string) *Page {
	d := ConfirmData{ID: id, Summary: summary, Label: label, Question: question, Action: action, Yes: yes}
	for i := 0; i+1 < len(hidden); i += 2 {
		d.Hidden = append(d.Hidden, [2]string{hidden[i], hidden[i+1]})
	}
	return p.With(d)
}
