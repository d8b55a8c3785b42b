package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The support-form builder (admins only): /admin/forms lists and creates forms;
// /admin/forms/:id edits one (name, inbox, pipeline), its fields (add, remove, reorder, label,
// help, required, choices) and its connection to the portal (menu and header texts). Every
// change is audited by the store; plain forms, 303 back with a notice, 422 with messages.

// adminFieldView is one field row of the builder.
type adminFieldView struct {
	ID                                    int64
	Property, PropertyLabel, Label, Help  string
	Choices                               string
	Required, Locked, First, Last, Choice bool
	// Key is the field id as text: the suffix of its inputs' names in the builder's one form.
	Key string
	// Action is the field's update URL; Errors its messages after a refused update.
	Action string
	Errors map[string]string
}

// adminFormView is the view model of admin/forms_edit.html.
type adminFormView struct {
	ID                 int64
	Name               string
	Action             string
	Settings           recordForm
	Inboxes, Pipelines []option
	Fields             []adminFieldView
	Add                recordForm
	Properties         []option
	Portal             recordForm
	Connected          bool
	Saved              string
}

// adminFormsView is the view model of admin/forms.html.
type adminFormsView struct {
	Forms              []adminFormRow
	Create             recordForm
	Inboxes, Pipelines []option
	Saved              bool
}

type adminFormRow struct {
	Href, Name, Inbox, Pipeline string
	Connected                   bool
}

func propertyLabel(p *Page, prop string) string {
	return p.T("FormProperty_" + prop)
}

// formRefOptions returns the inbox and pipeline choices with the given ids selected.
func (h *Handlers) formRefOptions(c *fiber.Ctx, inbox, pipeline string) ([]option, []option, error) {
	ctx := c.UserContext()
	inboxes, err := h.Store.InboxList(ctx)
	if err != nil {
		return nil, nil, err
	}
	pipes, err := h.Store.PipelineList(ctx)
	if err != nil {
		return nil, nil, err
	}
	var io, po []option
	for _, i := range inboxes {
		if inbox == "" && i.IsDefault {
			inbox = strconv.FormatInt(i.ID, 10)
		}
		io = append(io, idOpt(i.ID, i.Name, inbox))
	}
	for _, pl := range pipes {
		po = append(po, idOpt(pl.ID, pl.Name, pipeline))
	}
	return io, po, nil
}

// AdminFormList lists the support forms with the create form (GET /admin/forms).
func (h *Handlers) AdminFormList(c *fiber.Ctx) error { return h.formsPage(c, fiber.StatusOK, nil) }

func (h *Handlers) formsPage(c *fiber.Ctx, status int, f *recordForm) error {
	forms, err := h.Store.SupportFormList(c.UserContext())
	if err != nil {
		return err
	}
	if f == nil {
		ff := newRecordForm()
		f = &ff
	}
	v := &adminFormsView{Create: *f, Saved: c.Query("saved") == "1"}
	if v.Inboxes, v.Pipelines, err = h.formRefOptions(c, f.Values["inbox"], f.Values["pipeline"]); err != nil {
		return err
	}
	connected := SettingsOf(c).SupportFormID
	for _, x := range forms {
		v.Forms = append(v.Forms, adminFormRow{Href: "/admin/forms/" + strconv.FormatInt(x.ID, 10), Name: x.Name,
			Inbox: x.InboxName, Pipeline: x.PipelineName, Connected: x.ID == connected})
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("SupportForms"), v
	return h.renderAdmin(c, status, "admin/forms", p)
}

// AdminFormCreate creates a form (POST /admin/forms, fields name, inbox, pipeline) with its
// subject and description fields, then opens it.
func (h *Handlers) AdminFormCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	for _, k := range []string{"name", "inbox", "pipeline"} {
		f.Values[k] = c.FormValue(k)
	}
	id, err := h.Store.SupportFormCreate(c.UserContext(), StaffOf(c).ID, f.Values["name"], parseID(f.Values["inbox"]), parseID(f.Values["pipeline"]))
	if err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.formsPage(c, fiber.StatusUnprocessableEntity, &f)
		}
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=created")
}

// formEdit carries a refused change back to the edit page.
type formEdit struct {
	settings, add, portal *recordForm
	fieldID               int64
	field                 *recordForm
	// fields are the builder's inputs as typed, by field id, after a refused save.
	fields map[int64]recordForm
}

// AdminFormShow shows the builder for one form (GET /admin/forms/:id).
func (h *Handlers) AdminFormShow(c *fiber.Ctx) error {
	return h.formPage(c, fiber.StatusOK, formEdit{})
}

func (h *Handlers) formPage(c *fiber.Ctx, status int, e formEdit) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	form, err := h.Store.SupportFormGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	p := h.newPage(c, form.Name, nil)
	st := SettingsOf(c)
	base := "/admin/forms/" + strconv.FormatInt(id, 10)
	v := &adminFormView{ID: id, Name: form.Name, Action: base, Connected: st.SupportFormID == id, Saved: c.Query("saved")}
	if e.settings != nil {
		v.Settings = *e.settings
	} else {
		v.Settings = newRecordForm()
		v.Settings.Values["name"] = form.Name
		v.Settings.Values["inbox"] = strconv.FormatInt(form.InboxID, 10)
		v.Settings.Values["pipeline"] = strconv.FormatInt(form.PipelineID, 10)
	}
	if v.Inboxes, v.Pipelines, err = h.formRefOptions(c, v.Settings.Values["inbox"], v.Settings.Values["pipeline"]); err != nil {
		return err
	}
	for i, f := range form.Fields {
		fv := adminFieldView{ID: f.ID, Property: f.InputName(), PropertyLabel: propertyLabel(p, f.Property), Label: f.Label, Help: f.Help,
			Choices: strings.Join(f.Choices, "\n"), Required: f.Required, Locked: f.Locked(), First: i == 0, Last: i == len(form.Fields)-1,
			Choice: !f.Locked(), Action: base + "/fields/" + strconv.FormatInt(f.ID, 10), Key: strconv.FormatInt(f.ID, 10)}
		if f.Property == store.FormCustom {
			fv.PropertyLabel += " · " + f.Key
		}
		if rf, ok := e.fields[f.ID]; ok {
			fv.Label, fv.Help, fv.Choices = rf.Values["label"], rf.Values["help"], rf.Values["choices"]
			fv.Required = rf.Values["required"] == "true"
			fv.Errors = rf.Errors
		}
		if e.field != nil && e.fieldID == f.ID {
			if _, typed := e.field.Values["label"]; typed { // a refused update: show what was typed
				fv.Label, fv.Help, fv.Choices = e.field.Values["label"], e.field.Values["help"], e.field.Values["choices"]
				fv.Required = e.field.Values["required"] == "true"
			}
			fv.Errors = e.field.Errors
		}
		v.Fields = append(v.Fields, fv)
	}
	if e.add != nil {
		v.Add = *e.add
	} else {
		v.Add = newRecordForm()
	}
	for _, prop := range store.FormProperties {
		if prop == store.FormSubject || prop == store.FormDescription {
			continue // every form has them
		}
		v.Properties = append(v.Properties, option{Value: prop, Label: propertyLabel(p, prop), Selected: v.Add.Values["property"] == prop})
	}
	if e.portal != nil {
		v.Portal = *e.portal
	} else {
		v.Portal = newRecordForm()
		v.Portal.Values["menu_text"], v.Portal.Values["header_text"] = st.SupportFormMenuText, st.SupportFormHeaderText
	}
	p.Data = v
	return h.renderAdmin(c, status, "admin/forms_edit", p)
}

// AdminFormUpdate renames the form and changes its inbox and pipeline (POST /admin/forms/:id).
func (h *Handlers) AdminFormUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := newRecordForm()
	for _, k := range []string{"name", "inbox", "pipeline"} {
		f.Values[k] = c.FormValue(k)
	}
	err = h.Store.SupportFormUpdate(c.UserContext(), StaffOf(c).ID, id, f.Values["name"], parseID(f.Values["inbox"]), parseID(f.Values["pipeline"]))
	if err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{settings: &f})
		}
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=settings")
}

// AdminFormPortal connects the form to the portal, or disconnects it (POST
// /admin/forms/:id/portal, fields connected=true, menu_text, header_text): the settings
// support_form_id, support_form_menu_text and support_form_header_text, audited, every instance
// told.
func (h *Handlers) AdminFormPortal(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.SupportFormGet(c.UserContext(), id); err != nil {
		return err
	}
	f := newRecordForm()
	f.Values["menu_text"], f.Values["header_text"] = c.FormValue("menu_text"), c.FormValue("header_text")
	values := map[string]string{"support_form_menu_text": f.Values["menu_text"], "support_form_header_text": f.Values["header_text"]}
	switch {
	case c.FormValue("connected") == "true":
		values["support_form_id"] = strconv.FormatInt(id, 10)
	case SettingsOf(c).SupportFormID == id:
		values["support_form_id"] = "0"
	}
	_, err = h.Store.SettingsSetAudited(c.UserContext(), StaffOf(c).ID, values)
	var se *store.SettingsError
	if errors.As(err, &se) {
		p := h.newPage(c, "", nil)
		for k, e := range se.Fields {
			f.Errors[strings.TrimPrefix(k, "support_form_")] = p.T("SettingInvalid", "Reason", e.Reason)
		}
		return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{portal: &f})
	}
	if err != nil {
		return err
	}
	if err := h.settingsChanged(c); err != nil {
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=portal")
}

// fieldInput reads a field's label, help, required and choices from the request.
func fieldInput(c *fiber.Ctx) (store.FormField, recordForm) {
	f := newRecordForm()
	for _, k := range []string{"property", "key", "label", "help", "choices"} {
		f.Values[k] = c.FormValue(k)
	}
	if c.FormValue("required") == "true" {
		f.Values["required"] = "true"
	}
	return store.FormField{Property: f.Values["property"], Key: f.Values["key"], Label: f.Values["label"], Help: f.Values["help"],
		Required: f.Values["required"] == "true", Choices: store.ParseChoices(f.Values["choices"])}, f
}

// fieldRefusal fills f.Errors from a refused field change (translated with the limits).
func fieldRefusal(p *Page, err error, f *recordForm) bool {
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		for k, m := range ve.Fields {
			f.Errors[k] = p.T(m, "Max", store.MaxFormChoices, "Label", store.MaxFormLabelRunes, "Help", store.MaxFormHelpRunes)
		}
		return true
	case errors.Is(err, store.ErrConflict):
		f.Errors["property"] = p.T("FormFieldExists")
		return true
	}
	return false
}

// AdminFormFieldAdd appends a field (POST /admin/forms/:id/fields, fields property, key for a
// custom property, label, help, required=true, choices one per line).
func (h *Handlers) AdminFormFieldAdd(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	field, f := fieldInput(c)
	if err := h.Store.SupportFormFieldAdd(c.UserContext(), StaffOf(c).ID, id, field); err != nil {
		if fieldRefusal(h.newPage(c, "", nil), err, &f) {
			return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{add: &f})
		}
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=fields#fields")
}

// fieldIDs returns the form id and field id of /admin/forms/:id/fields/:field.
func fieldIDs(c *fiber.Ctx) (int64, int64, error) {
	id, err := pathID(c)
	if err != nil {
		return 0, 0, err
	}
	fid, err := strconv.ParseInt(c.Params("field"), 10, 64)
	if err != nil || fid <= 0 {
		return 0, 0, store.ErrNotFound
	}
	return id, fid, nil
}

// AdminFormFieldUpdate changes a field's label, help, required flag and choices (POST
// /admin/forms/:id/fields/:field).
func (h *Handlers) AdminFormFieldUpdate(c *fiber.Ctx) error {
	id, fid, err := fieldIDs(c)
	if err != nil {
		return err
	}
	field, f := fieldInput(c)
	if err := h.Store.SupportFormFieldUpdate(c.UserContext(), StaffOf(c).ID, id, fid, field); err != nil {
		if fieldRefusal(h.newPage(c, "", nil), err, &f) {
			return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{fieldID: fid, field: &f})
		}
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=fields#field-"+strconv.FormatInt(fid, 10))
}

// AdminFormFieldRemove removes a field (POST /admin/forms/:id/fields/:field/remove); subject
// and description stay (422).
func (h *Handlers) AdminFormFieldRemove(c *fiber.Ctx) error {
	id, fid, err := fieldIDs(c)
	if err != nil {
		return err
	}
	if err := h.Store.SupportFormFieldRemove(c.UserContext(), StaffOf(c).ID, id, fid); err != nil {
		f := newRecordForm()
		if fieldRefusal(h.newPage(c, "", nil), err, &f) {
			return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{fieldID: fid, field: &f})
		}
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=fields#fields")
}

// AdminFormFieldMove moves a field one place (POST /admin/forms/:id/fields/:field/move, field
// dir=up|down).
func (h *Handlers) AdminFormFieldMove(c *fiber.Ctx) error {
	id, fid, err := fieldIDs(c)
	if err != nil {
		return err
	}
	delta := 1
	if c.FormValue("dir") == "up" {
		delta = -1
	}
	if err := h.Store.SupportFormFieldMove(c.UserContext(), StaffOf(c).ID, id, fid, delta); err != nil {
		return err
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=fields#field-"+strconv.FormatInt(fid, 10))
}

// AdminFormFieldsSave saves every field of the builder in one go (POST
// /admin/forms/:id/field-settings, inputs label-ID, help-ID, choices-ID and required-ID=true
// for each field ID of the form; a field whose inputs were not sent is left alone), then, when
// one of the move buttons sent the form (move=ID:up or ID:down), moves that field one place.
// A refusal re-renders the builder (422) with everything as typed and every message beside its
// input; nothing is stored. Success: 303 back to the fields.
func (h *Handlers) AdminFormFieldsSave(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	form, err := h.Store.SupportFormGet(ctx, id)
	if err != nil {
		return err
	}
	args := c.Request().PostArgs()
	edits := map[int64]store.FormField{}
	typed := map[int64]recordForm{}
	for _, f := range form.Fields {
		k := strconv.FormatInt(f.ID, 10)
		if !args.Has("label-" + k) {
			continue
		}
		rf := newRecordForm()
		for _, in := range []string{"label", "help", "choices"} {
			rf.Values[in] = c.FormValue(in + "-" + k)
		}
		if c.FormValue("required-"+k) == "true" {
			rf.Values["required"] = "true"
		}
		edits[f.ID] = store.FormField{Label: rf.Values["label"], Help: rf.Values["help"], Required: rf.Values["required"] == "true",
			Choices: store.ParseChoices(rf.Values["choices"])}
		typed[f.ID] = rf
	}
	err = h.Store.SupportFormFieldsUpdate(ctx, StaffOf(c).ID, id, edits)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		p := h.newPage(c, "", nil)
		for key, m := range ve.Fields {
			fid, input, _ := strings.Cut(key, ".")
			if rf, ok := typed[parseID(fid)]; ok {
				rf.Errors[input] = p.T(m, "Max", store.MaxFormChoices, "Label", store.MaxFormLabelRunes, "Help", store.MaxFormHelpRunes)
			}
		}
		return h.formPage(c, fiber.StatusUnprocessableEntity, formEdit{fields: typed})
	}
	if err != nil {
		return err
	}
	anchor := "fields"
	if mv := c.FormValue("move"); mv != "" {
		fid, dir, _ := strings.Cut(mv, ":")
		delta := 1
		if dir == "up" {
			delta = -1
		}
		if err := h.Store.SupportFormFieldMove(ctx, StaffOf(c).ID, id, parseID(fid), delta); err != nil {
			return err
		}
		anchor = "field-" + strconv.FormatInt(parseID(fid), 10)
	}
	return Redirect(c, "/admin/forms/"+strconv.FormatInt(id, 10)+"?saved=fields#"+anchor)
}
