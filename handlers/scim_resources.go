package handlers

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"portico/sql/store"
)

// scimUsers is the library's resource handler for /Users: contacts provisioned by the
// token's provider.
type scimUsers struct{ h *Handlers }

// scimGroups is the library's resource handler for /Groups: access groups provisioned by the
// token's provider.
type scimGroups struct{ h *Handlers }

// maxSCIMScan bounds how many of a provider's resources a filter the store does not translate
// (anything but "attr eq value" on userName, externalId, id, displayName) is evaluated over.
const maxSCIMScan = 5000

// userDoc is a user as SCIM JSON attributes (without id, externalId and meta).
func userDoc(u store.SCIMUser) map[string]any {
	name := map[string]any{"formatted": u.Name}
	if u.GivenName != "" {
		name["givenName"] = u.GivenName
	}
	if u.FamilyName != "" {
		name["familyName"] = u.FamilyName
	}
	doc := map[string]any{
		"userName":    u.UserName,
		"name":        name,
		"displayName": u.Name,
		"emails":      []any{map[string]any{"value": u.Email, "type": "work", "primary": true}},
		"active":      u.Active,
	}
	if u.Language != "" {
		doc["preferredLanguage"] = u.Language
	}
	return doc
}

func userResource(u store.SCIMUser) scim.Resource {
	r := scim.Resource{ID: strconv.FormatInt(u.ContactID, 10), Attributes: userDoc(u),
		Meta: scim.Meta{Created: &u.CreatedAt, LastModified: &u.UpdatedAt}}
	if u.ExternalID != "" {
		r.ExternalID = optional.NewString(u.ExternalID)
	}
	return r
}

// userInput reads a user's SCIM attributes (validated by the library; names canonical).
// active defaults to true when absent.
func userInput(attrs map[string]any) store.SCIMUserInput {
	in := store.SCIMUserInput{UserName: getString(attrs, "userName"), ExternalID: getString(attrs, "externalId"),
		DisplayName: getString(attrs, "displayName"), Active: true}
	if n := getMap(attrs, "name"); n != nil {
		in.Formatted, in.GivenName, in.FamilyName = getString(n, "formatted"), getString(n, "givenName"), getString(n, "familyName")
	}
	in.Email = pickEmail(getList(attrs, "emails"))
	if in.Language = getString(attrs, "preferredLanguage"); in.Language == "" {
		in.Language = strings.ReplaceAll(getString(attrs, "locale"), "_", "-")
	}
	if a, ok := get(attrs, "active").(bool); ok {
		in.Active = a
	}
	return in
}

// pickEmail chooses the contact's address among a user's emails: the primary one, else the
// work one, else the first with a value.
func pickEmail(list []any) string {
	var work, first string
	for _, e := range list {
		m, _ := e.(map[string]any)
		v := strings.TrimSpace(getString(m, "value"))
		if v == "" {
			continue
		}
		if p, _ := get(m, "primary").(bool); p {
			return v
		}
		if work == "" && strings.EqualFold(getString(m, "type"), "work") {
			work = v
		}
		if first == "" {
			first = v
		}
	}
	if work != "" {
		return work
	}
	return first
}

// Create provisions a user (POST /Users): 201; userName taken at this provider 409
// uniqueness; no usable address 400 invalidValue.
func (s scimUsers) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, p := scimContext(r)
	u, _, err := s.h.Store.SCIMUserCreate(ctx, p, userInput(attrs))
	if err != nil {
		return scim.Resource{}, scimErr(r, "", err)
	}
	if !u.Active {
		if err := s.h.endSessions(ctx, u.ContactID); err != nil {
			return scim.Resource{}, scimErr(r, "", err)
		}
	}
	return userResource(u), nil
}

// Get returns one of the provider's users (GET /Users/{id}); others 404.
func (s scimUsers) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	u, err := s.h.Store.SCIMUserGet(ctx, p.ProviderID, n)
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	return userResource(u), nil
}

// eqFilter recognises `attr eq "value"` (the filters Okta and Entra send) and returns the
// attribute's name (lower case) and value.
func eqFilter(v *scimfilter.Validator) (string, string, bool) {
	if v == nil {
		return "", "", false
	}
	e, ok := v.GetFilter().(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil {
		return "", "", false
	}
	if uri := e.AttributePath.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		return "", "", false
	}
	val, ok := e.CompareValue.(string)
	if !ok {
		return "", "", false
	}
	return strings.ToLower(e.AttributePath.AttributeName), val, true
}

// GetAll lists the provider's users (GET /Users) with startIndex/count pagination and a filter:
// userName eq (case-insensitive), externalId eq and id eq are answered by the database; any
// other filter is evaluated over the provider's users (at most maxSCIMScan, else 400 tooMany).
func (s scimUsers) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	ctx, p := scimContext(r)
	offset, limit := scimPage(params)
	f := store.SCIMUserFilter{}
	if params.FilterValidator != nil {
		attr, val, ok := eqFilter(params.FilterValidator)
		switch {
		case ok && attr == "username":
			f.UserName = &val
		case ok && attr == "externalid":
			f.ExternalID = &val
		case ok && attr == "id":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return scim.Page{Resources: []scim.Resource{}}, nil
			}
			f.IDs = []int64{n}
		default:
			ids, err := s.h.Store.SCIMUserIDs(ctx, p.ProviderID, maxSCIMScan+1)
			if err != nil {
				return scim.Page{}, scimErr(r, "", err)
			}
			if len(ids) > maxSCIMScan {
				return scim.Page{}, scimerr.ScimErrorTooMany
			}
			f.IDs = []int64{}
			for chunk := range slices.Chunk(ids, store.MaxSCIMList) {
				us, _, err := s.h.Store.SCIMUserList(ctx, p.ProviderID, store.SCIMUserFilter{IDs: chunk}, 0, store.MaxSCIMList)
				if err != nil {
					return scim.Page{}, scimErr(r, "", err)
				}
				for _, u := range us {
					doc := userDoc(u)
					doc["id"] = strconv.FormatInt(u.ContactID, 10)
					if u.ExternalID != "" {
						doc["externalId"] = u.ExternalID
					}
					if params.FilterValidator.PassesFilter(doc) == nil {
						f.IDs = append(f.IDs, u.ContactID)
					}
				}
			}
		}
	}
	us, total, err := s.h.Store.SCIMUserList(ctx, p.ProviderID, f, offset, limit)
	if err != nil {
		return scim.Page{}, scimErr(r, "", err)
	}
	page := scim.Page{TotalResults: total, Resources: make([]scim.Resource, len(us))}
	for i, u := range us {
		page.Resources[i] = userResource(u)
	}
	return page, nil
}

// Replace replaces a user (PUT /Users/{id}); active false deactivates (sessions end at once).
func (s scimUsers) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	return s.save(r, ctx, p, n, userInput(attrs))
}

func (s scimUsers) save(r *http.Request, ctx context.Context, p store.SCIMPrincipal, id int64, in store.SCIMUserInput) (scim.Resource, error) {
	u, end, err := s.h.Store.SCIMUserReplace(ctx, p, id, in)
	if err != nil {
		return scim.Resource{}, scimErr(r, strconv.FormatInt(id, 10), err)
	}
	if end || !u.Active {
		if err := s.h.endSessions(ctx, id); err != nil {
			return scim.Resource{}, scimErr(r, "", err)
		}
	}
	return userResource(u), nil
}

// Delete ends a user's provisioning (DELETE /Users/{id}): sign-in disabled, sessions ended,
// the provider's groups left; the contact and its tickets stay (store.SCIMUserDelete). 204.
func (s scimUsers) Delete(r *http.Request, id string) error {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return err
	}
	if err := s.h.Store.SCIMUserDelete(ctx, p, n); err != nil {
		return scimErr(r, id, err)
	}
	return scimErr(r, "", s.h.endSessions(ctx, n))
}

// Patch applies RFC 7644 §3.5.2 operations to a user (PATCH /Users/{id}), with the forms Okta
// and Entra send: ops in any case ("Replace"), booleans as strings ("False"), path-less value
// objects ({"active": false}), filtered paths (emails[type eq "work"].value). Attributes
// Portico does not keep are accepted and ignored. 200 with the user.
func (s scimUsers) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	u, err := s.h.Store.SCIMUserGet(ctx, p.ProviderID, n)
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	doc := userDoc(u)
	doc["externalId"] = u.ExternalID
	for _, op := range ops {
		if err := applyPatch(doc, op, userAttrs); err != nil {
			return scim.Resource{}, err
		}
	}
	return s.save(r, ctx, p, n, userInput(doc))
}

// The attributes a PATCH may change, by lower-case name, with their canonical name and, for
// multi-valued ones, the schema attribute their value filters are checked against.
type patchAttr struct {
	name  string
	multi *schema.CoreAttribute
}

var userAttrs, groupAttrs = func() (map[string]patchAttr, map[string]patchAttr) {
	find := func(s schema.Schema, name string) *schema.CoreAttribute {
		for _, a := range s.Attributes {
			if a.Name() == name {
				return &a
			}
		}
		return nil
	}
	us, gs := schema.CoreUserSchema(), schema.CoreGroupSchema()
	u := map[string]patchAttr{}
	for _, n := range []string{"userName", "externalId", "name", "displayName", "active", "preferredLanguage", "locale"} {
		u[strings.ToLower(n)] = patchAttr{name: n}
	}
	u["emails"] = patchAttr{name: "emails", multi: find(us, "emails")}
	g := map[string]patchAttr{"displayname": {name: "displayName"}, "externalid": {name: "externalId"},
		"members": {name: "members", multi: find(gs, "members")}}
	return u, g
}()

// applyPatch applies one operation to doc (SCIM attributes by canonical name). A path-less
// operation's value is an object whose keys are paths. Attributes not in attrs (ones Portico
// does not keep, extension attributes) are ignored.
func applyPatch(doc map[string]any, op scim.PatchOperation, attrs map[string]patchAttr) error {
	if op.Path == nil {
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return scimerr.ScimErrorInvalidValue
		}
		for k, v := range obj {
			if strings.HasPrefix(strings.ToLower(k), "urn:") && !strings.HasPrefix(strings.ToLower(k), strings.ToLower(scimUserSchema)+":") &&
				!strings.HasPrefix(strings.ToLower(k), strings.ToLower(scimGroupSchema)+":") {
				continue // an extension object (enterprise user): not kept
			}
			path, err := filter.ParsePath([]byte(k))
			if err != nil {
				return scimerr.ScimErrorInvalidPath
			}
			if err := applyPatch(doc, scim.PatchOperation{Op: op.Op, Path: &path, Value: v}, attrs); err != nil {
				return err
			}
		}
		return nil
	}
	ap := op.Path.AttributePath
	if uri := ap.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		return nil // an extension attribute: not kept
	}
	a, ok := attrs[strings.ToLower(ap.AttributeName)]
	if !ok {
		return nil
	}
	sub := ""
	if ap.SubAttribute != nil {
		sub = *ap.SubAttribute
	}
	if op.Path.SubAttribute != nil { // emails[type eq "work"].value
		sub = *op.Path.SubAttribute
	}
	if a.multi == nil {
		return patchSingle(doc, a.name, sub, op)
	}
	return patchMulti(doc, a, sub, op)
}

// patchSingle changes a single-valued attribute (or one sub-attribute of a complex one).
func patchSingle(doc map[string]any, name, sub string, op scim.PatchOperation) error {
	if sub == "" {
		switch op.Op {
		case scim.PatchOperationRemove:
			delete(doc, name)
		default:
			if m, ok := op.Value.(map[string]any); ok {
				if cur, ok := doc[name].(map[string]any); ok && op.Op == scim.PatchOperationAdd {
					for k, v := range m {
						cur[k] = v
					}
					return nil
				}
				doc[name] = m
				return nil
			}
			doc[name] = op.Value
		}
		return nil
	}
	m, _ := doc[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
		doc[name] = m
	}
	for k := range m {
		if strings.EqualFold(k, sub) {
			delete(m, k)
		}
	}
	if op.Op != scim.PatchOperationRemove {
		m[sub] = op.Value
	}
	if name == "name" { // a changed part of the name makes a new formatted name
		delete(m, "formatted")
		if op.Op != scim.PatchOperationRemove && strings.EqualFold(sub, "formatted") {
			m["formatted"] = op.Value
		}
	}
	return nil
}

// patchMulti changes a multi-valued attribute (emails, members): whole lists, elements chosen
// by a value filter, or one sub-attribute of the chosen elements.
func patchMulti(doc map[string]any, a patchAttr, sub string, op scim.PatchOperation) error {
	list, _ := doc[a.name].([]any)
	values := asList(op.Value)
	var match func(map[string]any) bool
	if op.Path.ValueExpression != nil {
		v := scimfilter.NewFilterValidator(op.Path.ValueExpression, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(*a.multi)})
		match = func(m map[string]any) bool { return v.PassesFilter(m) == nil }
	}
	switch {
	case match == nil && sub == "":
		switch op.Op {
		case scim.PatchOperationAdd:
			for _, v := range values {
				if !slices.ContainsFunc(list, func(e any) bool { return sameValue(e, v) }) {
					list = append(list, v)
				}
			}
		case scim.PatchOperationReplace:
			list = values
		case scim.PatchOperationRemove:
			if op.Value == nil {
				list = nil
			} else { // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
				list = slices.DeleteFunc(list, func(e any) bool {
					return slices.ContainsFunc(values, func(v any) bool { return sameValue(e, v) })
				})
			}
		}
	case match != nil && sub == "" && op.Op == scim.PatchOperationRemove:
		list = slices.DeleteFunc(list, func(e any) bool { m, _ := e.(map[string]any); return m != nil && match(m) })
	default:
		hit := false
		for _, e := range list {
			m, _ := e.(map[string]any)
			if m == nil || (match != nil && !match(m)) {
				continue
			}
			hit = true
			switch {
			case op.Op == scim.PatchOperationRemove:
				delete(m, sub)
			case sub != "":
				m[sub] = op.Value
			default:
				if nv, ok := op.Value.(map[string]any); ok {
					for k, v := range nv {
						m[k] = v
					}
				}
			}
		}
		if !hit && op.Op != scim.PatchOperationRemove {
			// Entra adds emails[type eq "work"].value to a user that has no work address yet:
			// the element is made from the filter's equality and the value.
			m := map[string]any{}
			if e, ok := op.Path.ValueExpression.(*filter.AttributeExpression); ok && e.Operator == filter.EQ {
				m[e.AttributePath.AttributeName] = e.CompareValue
			}
			if sub != "" {
				m[sub] = op.Value
			} else if nv, ok := op.Value.(map[string]any); ok {
				for k, v := range nv {
					m[k] = v
				}
			}
			list = append(list, m)
		}
	}
	doc[a.name] = list
	return nil
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// sameValue reports whether two elements of a multi-valued attribute name the same value
// (their "value" sub-attributes, case-insensitively).
func sameValue(a, b any) bool {
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	if am == nil || bm == nil {
		return false
	}
	av, bv := getString(am, "value"), getString(bm, "value")
	return av != "" && strings.EqualFold(av, bv)
}

// groupResource is a group as SCIM JSON; members are left out when withMembers is false
// (excludedAttributes=members, which Entra sends for large groups).
func groupResource(g store.SCIMGroup, base string, withMembers bool) scim.Resource {
	attrs := scim.ResourceAttributes{"displayName": g.Name}
	if withMembers {
		ms := make([]any, len(g.Members))
		for i, m := range g.Members {
			id := strconv.FormatInt(m.ContactID, 10)
			ms[i] = map[string]any{"value": id, "display": m.Display, "$ref": base + "/Users/" + id, "type": "User"}
		}
		attrs["members"] = ms
	}
	r := scim.Resource{ID: strconv.FormatInt(g.ID, 10), Attributes: attrs, Meta: scim.Meta{Created: &g.CreatedAt, LastModified: &g.UpdatedAt}}
	if g.ExternalID != "" {
		r.ExternalID = optional.NewString(g.ExternalID)
	}
	return r
}

// wantMembers reports whether the request wants members returned (attributes /
// excludedAttributes, RFC 7644 §3.4.2.5).
func wantMembers(r *http.Request) bool {
	q := r.URL.Query()
	has := func(list string) bool {
		for _, a := range strings.Split(list, ",") {
			a = strings.ToLower(strings.TrimSpace(a))
			if a == "members" || strings.HasPrefix(a, "members.") || a == strings.ToLower(scimGroupSchema)+":members" {
				return true
			}
		}
		return false
	}
	if ex := q.Get("excludedAttributes"); ex != "" && has(ex) {
		return false
	}
	if at := q.Get("attributes"); at != "" && !has(at) {
		return false
	}
	return true
}

// memberIDs reads members' values as contact ids; a value that is not a number is refused
// (400 invalidValue: no user of this provider has it).
func memberIDs(list []any) ([]int64, error) {
	out := []int64{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		v := strings.TrimSpace(getString(m, "value"))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue,
				Detail: "Member " + strconv.Quote(v) + " is not a user provisioned by this identity provider."}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s scimGroups) base() string { return strings.TrimRight(s.h.Config.BaseURL, "/") + SCIMPrefix }

// Create provisions a group (POST /Groups): a new access group, or the existing one of the
// same name that no provider provisions yet. 201; a name another provider's group has 409.
func (s scimGroups) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, p := scimContext(r)
	members, err := memberIDs(getList(attrs, "members"))
	if err != nil {
		return scim.Resource{}, err
	}
	g, err := s.h.Store.SCIMGroupCreate(ctx, p, getString(attrs, "displayName"), getString(attrs, "externalId"), members)
	if err != nil {
		return scim.Resource{}, scimErr(r, "", err)
	}
	return groupResource(g, s.base(), true), nil
}

// Get returns one of the provider's groups (GET /Groups/{id}).
func (s scimGroups) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	with := wantMembers(r)
	g, err := s.h.Store.SCIMGroupGet(ctx, p.ProviderID, n, with)
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	return groupResource(g, s.base(), with), nil
}

// GetAll lists the provider's groups (GET /Groups): displayName eq (case-insensitive),
// externalId eq and id eq by the database, other filters over the provider's groups.
func (s scimGroups) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	ctx, p := scimContext(r)
	offset, limit := scimPage(params)
	with := wantMembers(r)
	f := store.SCIMGroupFilter{}
	if params.FilterValidator != nil {
		attr, val, ok := eqFilter(params.FilterValidator)
		switch {
		case ok && attr == "displayname":
			f.DisplayName = &val
		case ok && attr == "externalid":
			f.ExternalID = &val
		case ok && attr == "id":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return scim.Page{Resources: []scim.Resource{}}, nil
			}
			f.IDs = []int64{n}
		default:
			ids, err := s.h.Store.SCIMGroupIDs(ctx, p.ProviderID, maxSCIMScan+1)
			if err != nil {
				return scim.Page{}, scimErr(r, "", err)
			}
			if len(ids) > maxSCIMScan {
				return scim.Page{}, scimerr.ScimErrorTooMany
			}
			f.IDs = []int64{}
			for chunk := range slices.Chunk(ids, store.MaxSCIMList) {
				gs, _, err := s.h.Store.SCIMGroupList(ctx, p.ProviderID, store.SCIMGroupFilter{IDs: chunk}, 0, store.MaxSCIMList, true)
				if err != nil {
					return scim.Page{}, scimErr(r, "", err)
				}
				for _, g := range gs {
					res := groupResource(g, s.base(), true)
					doc := map[string]any(res.Attributes)
					doc["id"] = res.ID
					if g.ExternalID != "" {
						doc["externalId"] = g.ExternalID
					}
					if params.FilterValidator.PassesFilter(doc) == nil {
						f.IDs = append(f.IDs, g.ID)
					}
				}
			}
		}
	}
	gs, total, err := s.h.Store.SCIMGroupList(ctx, p.ProviderID, f, offset, limit, with)
	if err != nil {
		return scim.Page{}, scimErr(r, "", err)
	}
	page := scim.Page{TotalResults: total, Resources: make([]scim.Resource, len(gs))}
	for i, g := range gs {
		page.Resources[i] = groupResource(g, s.base(), with)
	}
	return page, nil
}

// Replace replaces a group's name and its members from this provider (PUT /Groups/{id}).
func (s scimGroups) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	members, err := memberIDs(getList(attrs, "members"))
	if err != nil {
		return scim.Resource{}, err
	}
	name, ext := getString(attrs, "displayName"), getString(attrs, "externalId")
	g, err := s.h.Store.SCIMGroupUpdate(ctx, p, n, store.SCIMGroupChange{Name: &name, ExternalID: &ext, Members: members})
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	return groupResource(g, s.base(), true), nil
}

// Delete ends a group's provisioning (DELETE /Groups/{id}): a group the provider created is
// deleted, one it took over is let go (store.SCIMGroupDelete). 204.
func (s scimGroups) Delete(r *http.Request, id string) error {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return err
	}
	return scimErr(r, id, s.h.Store.SCIMGroupDelete(ctx, p, n))
}

// Patch applies operations to a group (PATCH /Groups/{id}): displayName, externalId, and
// members added, removed or replaced in Okta's and Entra's forms (members[value eq "id"] paths,
// Entra's remove with a value list, path-less value objects). Only the difference is written,
// so concurrent patches adding different members both take effect. 200 with the group
// (without members when the request excludes them).
func (s scimGroups) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ctx, p := scimContext(r)
	n, err := scimID(id)
	if err != nil {
		return scim.Resource{}, err
	}
	g, err := s.h.Store.SCIMGroupGet(ctx, p.ProviderID, n, true)
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	doc := map[string]any(groupResource(g, s.base(), true).Attributes)
	doc["externalId"] = g.ExternalID
	before, _ := memberIDs(getList(doc, "members"))
	for _, op := range ops {
		if err := applyPatch(doc, op, groupAttrs); err != nil {
			return scim.Resource{}, err
		}
	}
	after, err := memberIDs(getList(doc, "members"))
	if err != nil {
		return scim.Resource{}, err
	}
	ch := store.SCIMGroupChange{}
	for _, m := range after {
		if !slices.Contains(before, m) {
			ch.Add = append(ch.Add, m)
		}
	}
	for _, m := range before {
		if !slices.Contains(after, m) {
			ch.Remove = append(ch.Remove, m)
		}
	}
	if name := getString(doc, "displayName"); name != g.Name {
		ch.Name = &name
	}
	if ext := getString(doc, "externalId"); ext != g.ExternalID {
		ch.ExternalID = &ext
	}
	g, err = s.h.Store.SCIMGroupUpdate(ctx, p, n, ch)
	if err != nil {
		return scim.Resource{}, scimErr(r, id, err)
	}
	return groupResource(g, s.base(), wantMembers(r)), nil
}
