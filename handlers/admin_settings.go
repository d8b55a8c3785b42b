package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// The settings pages are generated from the registry (store.SettingDefs): one page per
// section, one field per definition; labels and help come from the catalogue by key
// (Setting_<key>, SettingHelp_<key>, SettingSection_<section>, SettingOption_<key>_<value>),
// falling back to the key so that a setting added by another area appears at once.

// tOr translates id, or returns fallback when the catalogue has no such message.
func tOr(p *Page, id, fallback string) string {
	if s := p.T(id); s != id {
		return s
	}
	return fallback
}

// settingField is one generated input.
type settingField struct {
	Key, Label, Help, Kind, Value, Error string
	Checked                              bool
	Options                              []option
}

// settingsSection is a link in the settings navigation.
type settingsSection struct {
	Name, Label, Href string
	Current           bool
}

// settingsView is the view model of admin/settings.html.
type settingsView struct {
	Section string
	// SectionLabel names the section: the legend of its fieldset.
	SectionLabel string
	Sections     []settingsSection
	Fields       []settingField
	Action       string
	Saved        bool
	Branding     *brandingView
}

// settingSections returns the sections in registry order (sorted by name), without sections
// that hold only hidden settings.
func settingSections() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range store.SettingDefs() {
		if d.Kind == store.SettingHidden || seen[d.Section] {
			continue
		}
		seen[d.Section] = true
		out = append(out, d.Section)
	}
	return out
}

func sectionDefs(section string) []store.SettingDef {
	var out []store.SettingDef
	for _, d := range store.SettingDefs() {
		if d.Section == section && d.Kind != store.SettingHidden {
			out = append(out, d)
		}
	}
	return out
}

// settingsView builds the page for section with values (key → text) and errors (key → text).
func (h *Handlers) settingsView(p *Page, section string, values, errs map[string]string) *settingsView {
	v := &settingsView{Section: section, Action: "/admin/settings/" + section, SectionLabel: tOr(p, "SettingSection_"+section, section)}
	for _, s := range settingSections() {
		v.Sections = append(v.Sections, settingsSection{Name: s, Label: tOr(p, "SettingSection_"+s, s),
			Href: "/admin/settings/" + s, Current: s == section})
	}
	for _, d := range sectionDefs(section) {
		f := settingField{Key: d.Key, Label: tOr(p, "Setting_"+d.Key, d.Key), Help: tOr(p, "SettingHelp_"+d.Key, ""),
			Kind: string(d.Kind), Value: values[d.Key], Error: errs[d.Key]}
		f.Checked = f.Value == "true"
		for _, o := range d.Options {
			f.Options = append(f.Options, option{Value: o, Label: tOr(p, "SettingOption_"+d.Key+"_"+o, o), Selected: o == f.Value})
		}
		v.Fields = append(v.Fields, f)
	}
	return v
}

// settingErrorText turns a refused value into the message shown beside its field, in the
// page's language: the registry's catalogue message id with its parameters (the English Reason
// is for the command line). A refusal without an id falls back to the kind's generic message.
func settingErrorText(p *Page, kind store.SettingKind, e *store.SettingError) string {
	if e.MessageID != "" {
		args := make([]any, 0, 2*len(e.Args))
		for k, v := range e.Args {
			args = append(args, k, v)
		}
		if s := p.T(e.MessageID, args...); s != e.MessageID {
			return s
		}
	}
	switch kind {
	case store.SettingBool:
		return p.T("SettingInvalidBool")
	case store.SettingEnum:
		return p.T("SettingInvalidEnum")
	case store.SettingDuration:
		return p.T("SettingInvalidDuration", "Reason", e.Reason)
	}
	return p.T("SettingInvalid", "Reason", e.Reason)
}

// AdminSettingsIndex redirects to the first settings section (GET /admin/settings).
func (h *Handlers) AdminSettingsIndex(c *fiber.Ctx) error {
	secs := settingSections()
	if len(secs) == 0 {
		return store.ErrNotFound
	}
	return c.Redirect("/admin/settings/"+secs[0], fiber.StatusSeeOther)
}

// AdminSettingsShow shows one settings section (GET /admin/settings/:section); unknown: 404.
func (h *Handlers) AdminSettingsShow(c *fiber.Ctx) error {
	section := c.Params("section")
	if len(sectionDefs(section)) == 0 {
		return store.ErrNotFound
	}
	raw, err := h.Store.SettingsRaw(c.UserContext())
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	v := h.settingsView(p, section, raw, nil)
	v.Saved = c.Query("saved") == "1"
	return h.renderSettings(c, fiber.StatusOK, p, v)
}

func (h *Handlers) renderSettings(c *fiber.Ctx, status int, p *Page, v *settingsView) error {
	if v.Section == "branding" {
		b, err := h.brandingView(c, p)
		if err != nil {
			return err
		}
		v.Branding = b
	}
	p.Title = p.T("Settings") + ": " + tOr(p, "SettingSection_"+v.Section, v.Section)
	p.Data = v
	return h.renderAdmin(c, status, "admin/settings", p)
}

// AdminSettingsUpdate saves one settings section (POST /admin/settings/:section). Only the
// section's own keys are read (a checkbox absent from the form is false). Every value is
// validated first; any refusal answers 422 with the typed values and a message beside each bad
// field, and nothing is stored. Success: stored and audited in one transaction, every instance
// told over Redis, then 303 back with a notice.
func (h *Handlers) AdminSettingsUpdate(c *fiber.Ctx) error {
	section := c.Params("section")
	defs := sectionDefs(section)
	if len(defs) == 0 {
		return store.ErrNotFound
	}
	values := map[string]string{}
	kinds := map[string]store.SettingKind{}
	for _, d := range defs {
		kinds[d.Key] = d.Kind
		v := c.FormValue(d.Key)
		if d.Kind == store.SettingBool {
			v = strconv.FormatBool(v == "true")
		}
		values[d.Key] = v
	}
	ctx := c.UserContext()
	_, err := h.Store.SettingsSetAudited(ctx, StaffOf(c).ID, values)
	var se *store.SettingsError
	if errors.As(err, &se) {
		p := h.newPage(c, "", nil)
		errs := map[string]string{}
		for k, e := range se.Fields {
			errs[k] = settingErrorText(p, kinds[k], e)
		}
		return h.renderSettings(c, fiber.StatusUnprocessableEntity, p, h.settingsView(p, section, values, errs))
	}
	if err != nil {
		return err
	}
	if err := h.settingsChanged(c); err != nil {
		return err
	}
	return Redirect(c, "/admin/settings/"+section+"?saved=1")
}

// settingsChanged tells every instance (this one included) to reload the settings.
func (h *Handlers) settingsChanged(c *fiber.Ctx) error {
	if h.SettingsChanged == nil {
		return nil
	}
	if err := h.SettingsChanged(c.UserContext()); err != nil {
		// The change is stored; other instances see it when their cache expires.
		Log(c).Error("settings change not published", "err", err)
	}
	return nil
}

// auditRow is one audit entry ready to print.
type auditRow struct {
	Time, TimeISO, Staff, Key, Label, Before, After string
}

// auditView is the view model of admin/audit.html.
type auditView struct {
	Key, From, To string
	StaffID       int64
	Keys          []option
	Staff         []option
	Rows          []auditRow
	NextHref      string
	Error         string
}

const dateLayout = "2006-01-02"

// AdminAuditList shows the settings audit log (GET /admin/audit), newest first, filterable by
// key, staff and date (from/to inclusive, YYYY-MM-DD, UTC), paged by before=<id>.
func (h *Handlers) AdminAuditList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := h.newPage(c, "", nil)
	v := &auditView{Key: c.Query("key"), From: c.Query("from"), To: c.Query("to")}
	v.StaffID, _ = strconv.ParseInt(c.Query("staff"), 10, 64)
	f := store.AuditFilter{Key: v.Key, StaffID: v.StaffID}
	f.BeforeID, _ = strconv.ParseInt(c.Query("before"), 10, 64)
	if v.From != "" {
		t, err := time.Parse(dateLayout, v.From)
		if err != nil {
			v.Error = p.T("DateInvalid")
		}
		f.From = t
	}
	if v.To != "" {
		t, err := time.Parse(dateLayout, v.To)
		if err != nil {
			v.Error = p.T("DateInvalid")
		} else {
			f.To = t.Add(24 * time.Hour)
		}
	}
	status := fiber.StatusOK
	if v.Error != "" {
		status = fiber.StatusUnprocessableEntity
		f = store.AuditFilter{Key: v.Key, StaffID: v.StaffID}
	}
	rows, next, err := h.Store.AuditList(ctx, f)
	if err != nil {
		return err
	}
	v.Keys = []option{{Value: "", Label: p.T("AllKeys"), Selected: v.Key == ""}}
	for _, k := range store.SettingKeys() {
		v.Keys = append(v.Keys, option{Value: k, Label: tOr(p, "Setting_"+k, k), Selected: k == v.Key})
	}
	staff, err := h.Store.StaffList(ctx)
	if err != nil {
		return err
	}
	v.Staff = []option{{Value: "", Label: p.T("AllStaff"), Selected: v.StaffID == 0}}
	for _, s := range staff {
		v.Staff = append(v.Staff, option{Value: strconv.FormatInt(s.ID, 10), Label: s.Name, Selected: s.ID == v.StaffID})
	}
	for _, r := range rows {
		row := auditRow{Staff: r.StaffName, Key: r.Key, Label: tOr(p, "Setting_"+r.Key, r.Key), Before: r.Before, After: r.After}
		row.Time, row.TimeISO = p.Locale.Times(r.At)
		v.Rows = append(v.Rows, row)
	}
	if next != 0 {
		v.NextHref = fmt.Sprintf("/admin/audit?key=%s&staff=%s&from=%s&to=%s&before=%d", urlQueryEscape(v.Key),
			strings.TrimPrefix(strconv.FormatInt(v.StaffID, 10), "0"), urlQueryEscape(v.From), urlQueryEscape(v.To), next)
	}
	p.Title, p.Data = p.T("AuditLog"), v
	return h.renderAdmin(c, status, "admin/audit", p)
}
