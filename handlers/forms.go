package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The customer side of support forms: GET /tickets/new shows the form connected to the portal
// (setting support_form_id), POST /tickets/new creates the ticket with its attachments.

// supportFormMenu is the navigation text of the connected support form: the admin's menu text,
// else the translated "Submit a support ticket"; "" when no form is connected.
func supportFormMenu(loc *Locale, st store.Settings) string {
	if st.SupportFormID == 0 {
		return ""
	}
	if st.SupportFormMenuText != "" {
		return st.SupportFormMenuText
	}
	return loc.T("SubmitSupportTicket")
}

// formFieldView is one input of the support form, with what was typed and its error.
type formFieldView struct {
	// Name is the input name (store.FormField.InputName), ID the element id.
	Name, ID         string
	Label, Help      string
	Value, Error     string
	Required         bool
	Textarea, Select bool
	Options          []option
	MaxRunes         int
}

// supportFormView is the view model of forms/form.html.
type supportFormView struct {
	Heading, Intro string
	Action         string
	Fields         []formFieldView
	// CanAttach, Limits and FileError describe the file input.
	CanAttach         bool
	Limits, FileError string
	// Error is a message for the whole form ("" = none).
	Error string
	// SubmissionKey identifies this filling-in of the form (store.FormSubmission.Key): sent
	// twice, it still makes one ticket.
	SubmissionKey string
}

// newSubmissionKey returns a fresh submission key: 128 random bits as 32 hex digits.
func newSubmissionKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// fieldLabel is the label of a field: the admin's, else the property's translated name.
func fieldLabel(p *Page, f store.FormField) string {
	if f.Label != "" {
		return f.Label
	}
	switch f.Property {
	case store.FormSubject:
		return p.T("Subject")
	case store.FormDescription:
		return p.T("FormDescription")
	case store.FormPriority:
		return p.T("Priority")
	case store.FormCategory:
		return p.T("Category")
	}
	return f.Key
}

// supportFormView builds the form for form with the typed values and the errors (catalogue ids
// by input name); fileErr is a refused file's catalogue id.
func (h *Handlers) supportFormView(p *Page, st store.Settings, form store.SupportForm, values, errs map[string]string, fileErr string) *supportFormView {
	v := &supportFormView{Action: "/tickets/new", CanAttach: st.AttachmentMaxFiles > 0, SubmissionKey: newSubmissionKey()}
	switch {
	case st.SupportFormHeaderText != "":
		v.Heading = st.SupportFormHeaderText
	case st.TicketsLabel != "": // the admin renamed tickets: the heading names them
		v.Heading = p.T("FormHeading", "Tickets", p.TicketsLabel)
	default:
		v.Heading = p.T("SubmitSupportTicket")
	}
	if v.CanAttach {
		v.Limits = attachmentText(p, st, "AttachmentLimits")
	}
	if fileErr != "" {
		v.FileError = attachmentText(p, st, fileErr)
	}
	for _, f := range form.Fields {
		fv := formFieldView{Name: f.InputName(), ID: "form-" + f.InputName(), Label: fieldLabel(p, f), Help: f.Help,
			Value: values[f.InputName()], Required: f.Required || f.Property == store.FormSubject,
			Textarea: f.Property == store.FormDescription, MaxRunes: f.MaxRunes()}
		if id := errs[f.InputName()]; id != "" {
			fv.Error = p.T(id, "Max", f.MaxRunes())
		}
		choices := f.Choices
		if f.Property == store.FormPriority && len(choices) == 0 {
			choices = store.Priorities
		}
		if len(choices) > 0 && !fv.Textarea && f.Property != store.FormSubject {
			fv.Select = true
			fv.Options = append(fv.Options, option{Value: "", Label: p.T("FormChoose"), Selected: fv.Value == ""})
			for _, c := range choices {
				label := c
				if f.Property == store.FormPriority {
					label = tOr(p, "Priority_"+c, c)
				}
				fv.Options = append(fv.Options, option{Value: c, Label: label, Selected: c == fv.Value})
			}
		}
		v.Fields = append(v.Fields, fv)
	}
	return v
}

// connectedForm returns the support form connected to the portal. Errors: ErrNotFound when
// none is connected (or it no longer exists).
func (h *Handlers) connectedForm(c *fiber.Ctx) (store.SupportForm, error) {
	id := SettingsOf(c).SupportFormID
	if id == 0 {
		return store.SupportForm{}, store.ErrNotFound
	}
	return h.Store.SupportFormGet(c.UserContext(), id)
}

// TicketNew shows the support form connected to the portal (GET /tickets/new); none: 404.
func (h *Handlers) TicketNew(c *fiber.Ctx) error {
	form, err := h.connectedForm(c)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	// ?draft= restores what was typed before a session expired (see LoginRedirectKeepingDraft).
	values := h.takeDraft(c, 0)
	v := h.supportFormView(p, SettingsOf(c), form, values, nil, "")
	if values != nil {
		v.Error = p.T("DraftRestoredForm")
	}
	p.Title, p.Data = v.Heading, v
	return h.renderPage(c, fiber.StatusOK, "forms/new", p)
}

// TicketCreate creates a ticket from the connected support form (POST /tickets/new, the form's
// fields and files, urlencoded or streamed multipart; the same upload path as replies). Success:
// 303 to the new ticket (HX-Redirect for htmx). Refused: 422 with every typed value kept and the
// message beside each field (htmx: the form fragment; else the whole page). No form: 404.
func (h *Handlers) TicketCreate(c *fiber.Ctx) error {
	form, err := h.connectedForm(c)
	if err != nil {
		return err
	}
	st := SettingsOf(c)
	mf, err := h.readMessageForm(c, store.LimitsFrom(st))
	if err != nil {
		if errors.Is(err, errCSRF) {
			return h.ErrorPage(c, fiber.StatusForbidden)
		}
		return err
	}
	ctx := c.UserContext()
	defer mf.Files.Discard(ctx)
	if mf.FileError != "" {
		vals, verr := store.ValidateSubmission(form, mf.Fields)
		var ve *store.ValidationError
		errs := map[string]string{}
		if errors.As(verr, &ve) {
			errs = ve.Fields
		}
		return h.supportFormRefused(c, form, vals, errs, mf.FileError)
	}
	lang := ""
	if l := LocaleOf(c); l != nil {
		lang = l.Lang
	}
	id, err := h.Store.SupportFormSubmit(ctx, h.viewer(c, ""), form.ID, store.FormSubmission{Values: mf.Fields, Lang: lang, Files: mf.Files,
		Key: mf.Fields["submission"]})
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		vals, _ := store.ValidateSubmission(form, mf.Fields)
		again := ""
		if mf.Files != nil && len(mf.Files.Files) > 0 {
			again = "FormAttachAgain" // the files were fine but are not kept with a refused form
		}
		return h.supportFormRefused(c, form, vals, ve.Fields, again)
	case errors.Is(err, store.ErrConflict):
		// The form's pipeline has no open stage: nothing is stored; keep everything typed and
		// say so (422), rather than a bare 409 page.
		vals, _ := store.ValidateSubmission(form, mf.Fields)
		again := ""
		if mf.Files != nil && len(mf.Files.Files) > 0 {
			again = "FormAttachAgain"
		}
		return h.supportFormMessage(c, form, vals, map[string]string{}, again, "FormCannotTakeTickets")
	case err != nil:
		return err
	}
	h.Live.Publish(ctx, id)
	// An admin's ticket filters may hide tickets of this form from customers: then the ticket
	// exists but its page would answer 404, so say it was received on the list instead.
	if err := h.Store.TicketVisible(ctx, h.viewer(c, ""), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Redirect(c, "/tickets?submitted=1")
		}
		return err
	}
	return Redirect(c, "/tickets/"+strconv.FormatInt(id, 10))
}

// supportFormRefused answers 422 with the form, the typed values and the messages. Files cannot
// be kept by a browser: when any were sent, a note asks to attach them again.
func (h *Handlers) supportFormRefused(c *fiber.Ctx, form store.SupportForm, vals, errs map[string]string, fileErr string) error {
	return h.supportFormMessage(c, form, vals, errs, fileErr, "FormHasErrors")
}

// supportFormMessage is supportFormRefused with the form-level message msgID.
func (h *Handlers) supportFormMessage(c *fiber.Ctx, form store.SupportForm, vals, errs map[string]string, fileErr, msgID string) error {
	p := h.newPage(c, "", nil)
	v := h.supportFormView(p, SettingsOf(c), form, vals, errs, fileErr)
	v.Error = p.T(msgID)
	p.Title, p.Data = v.Heading, v
	if IsHTMX(c) {
		return h.renderFragment(c, fiber.StatusUnprocessableEntity, "forms/form", p)
	}
	return h.renderPage(c, fiber.StatusUnprocessableEntity, "forms/new", p)
}
