package handlers

import (
	"errors"
	"strconv"

	"portico/sql/store"
)

// Staff pages over CRM records share these pieces: the typed-values-and-errors form, the
// refusal mapping from store errors, ticket rows and the admin/field.html input. One file per
// resource holds its handlers (admin_contacts.go, admin_companies.go, admin_groups.go,
// admin_pipelines.go, admin_inboxes.go, admin_preview.go).

// recordForm carries what was typed and the messages beside the fields.
type recordForm struct {
	Values map[string]string
	Errors map[string]string
}

func newRecordForm() recordForm {
	return recordForm{Values: map[string]string{}, Errors: map[string]string{}}
}

// refusal fills f.Errors from a store error (validation or conflict) and reports whether it did.
func refusal(p *Page, err error, f *recordForm, conflictField string) bool {
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		for k, m := range ve.Fields {
			f.Errors[k] = p.T(m)
		}
		return true
	case errors.Is(err, store.ErrConflict):
		f.Errors[conflictField] = p.T("AlreadyExists")
		return true
	}
	return false
}

func (h *Handlers) ticketRows(p *Page, rows []store.InboxRow) []inboxRowView {
	out := make([]inboxRowView, 0, len(rows))
	for _, r := range rows {
		v := inboxRowView{ID: r.ID, Href: "/admin/inbox/" + strconv.FormatInt(r.ID, 10), Subject: r.Subject, Requester: personName(p, r.RequesterName),
			Owner: r.OwnerName, Stage: r.StageName, Pipeline: r.PipelineName, Channel: r.Channel, StatusClass: "open"}
		if r.IsClosed {
			v.StatusClass = "closed"
		}
		if v.Owner == "" {
			v.Owner = p.T("Unassigned")
		}
		v.Activity, v.ActivityISO = p.Locale.Times(r.LastActivityAt)
		out = append(out, v)
	}
	return out
}

// Field returns a page for shared/field.html: the input name of form (a recordForm or a pointer
// to one) with its label, input type, typed value and error.
func (p *Page) Field(form any, name, label, typ string) *Page {
	var f recordForm
	switch x := form.(type) {
	case recordForm:
		f = x
	case *recordForm:
		f = *x
	}
	return p.Input(name, label, typ, f.Values[name], f.Errors[name])
}
