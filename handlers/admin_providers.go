package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/auth/providers"
	"portico/sql/store"
)

// providerForm is the add/edit form of an identity provider: typed values (never a stored
// secret) and per-field errors (translated).
type providerForm struct {
	ID       int64
	Kind     string
	Enabled  bool
	Values   map[string]string
	Errors   map[string]string
	HasKey   map[string]bool // which secrets are stored (shown as "stored; leave empty to keep")
	Metadata string          // the SP metadata URL (SAML)
	Rollover bool            // a next SP certificate is published, waiting to be activated (SAML)
	Kinds    []string
	Algs     []string
	// Notice is a message above the form (e.g. why the provider was not enabled).
	Notice string
	labels map[string]string // translated field labels, for ErrorList
}

// providerFieldOrder is the order of the provider form's fields (the error summary follows it).
var providerFieldOrder = []string{"name", "slug", "client_id", "client_secret", "tenant", "org_url", "discovery_url",
	"idp_metadata_url", "idp_metadata_xml", "allow_idp_initiated", "alg", "jwt_secret", "public_key", "jwks_url",
	"remote_login_url", "remote_logout_url", "clock_skew", "attr_email", "attr_name", "attr_company", "attr_groups",
	"issuer", "token_audience", "audience", "authoritative_domains", "groups"}

// providerError is one line of the form's error summary: a link to the field, its label and
// the message.
type providerError struct{ Field, Label, Message string }

// ErrorList returns the form's errors in form order, each with its field's label (translated
// with T), for the summary above the form. A field the form does not show is reported under
// the button label.
func (f providerForm) ErrorList() []providerError {
	var out []providerError
	seen := map[string]bool{}
	for _, k := range providerFieldOrder {
		if msg, ok := f.Errors[k]; ok {
			out = append(out, providerError{Field: k, Label: f.labels[k], Message: msg})
			seen[k] = true
		}
	}
	for k, msg := range f.Errors {
		if !seen[k] {
			out = append(out, providerError{Field: "name", Label: f.labels["name"], Message: msg})
		}
	}
	return out
}

// providerList is the provider list page's view model.
type providerList struct {
	Providers []store.IdentityProvider
	Kinds     []string
}

func (h *Handlers) newProviderForm(kind string) providerForm {
	return providerForm{Kind: kind, Values: map[string]string{"audience": store.AudienceAll, "allow_create": "true"},
		Errors: map[string]string{}, HasKey: map[string]bool{}, Kinds: store.ProviderKinds, Algs: providers.JWTAlgorithms}
}

// AdminProviderList lists the identity providers (GET /admin/providers).
func (h *Handlers) AdminProviderList(c *fiber.Ctx) error {
	list, err := h.Store.IdentityProviderList(c.UserContext())
	if err != nil {
		return err
	}
	p := h.newPage(c, "", providerList{Providers: list, Kinds: store.ProviderKinds})
	p.Title = p.T("SSOProviders")
	p.Flash = flashText(p, c.Query("flash"))
	return h.renderAdmin(c, fiber.StatusOK, "admin/providers", p)
}

func flashText(p *Page, code string) string {
	switch code {
	case "created", "saved":
		return p.T("Saved")
	case "deleted":
		return p.T("SSODeleted")
	case "rotated":
		return p.T("SSOCertRotated")
	case "rollover":
		return p.T("SSOCertRollover")
	}
	return ""
}

// AdminProviderNew shows the add form for a kind (GET /admin/providers/new?kind=saml).
func (h *Handlers) AdminProviderNew(c *fiber.Ctx) error {
	kind := c.Query("kind")
	if _, ok := providers.SettingKeys[kind]; !ok {
		kind = store.KindOIDC
	}
	return h.renderProviderForm(c, fiber.StatusOK, h.newProviderForm(kind))
}

func (h *Handlers) renderProviderForm(c *fiber.Ctx, status int, f providerForm) error {
	lp := h.newPage(c, "", nil)
	f.labels = map[string]string{"audience": lp.T("SSOAudience")}
	for _, k := range providerFieldOrder {
		if k != "audience" {
			f.labels[k] = lp.T("SSOField_" + k)
		}
	}
	p := h.newPage(c, "", f)
	if f.ID == 0 {
		p.Title = p.T("SSONewProvider")
	} else {
		p.Title = f.Values["name"]
	}
	p.Flash = flashText(p, c.Query("flash"))
	return h.renderAdmin(c, status, "admin/provider", p)
}

// readProviderForm reads the submitted form into row (settings of row.Kind only) and returns
// the new secrets (empty = keep).
func readProviderForm(c *fiber.Ctx, row *store.IdentityProvider, f *providerForm) map[string]string {
	row.Name = strings.TrimSpace(c.FormValue("name"))
	row.Audience = c.FormValue("audience")
	row.Groups = splitList(c.FormValue("groups"))
	row.AllowCreate = c.FormValue("allow_create") == "true"
	row.TrustOrganization = c.FormValue("trust_organization") == "true"
	f.Values["name"], f.Values["audience"], f.Values["groups"] = row.Name, row.Audience, c.FormValue("groups")
	f.Values["allow_create"] = strconv.FormatBool(row.AllowCreate)
	f.Values["trust_organization"] = strconv.FormatBool(row.TrustOrganization)
	keep := map[string]string{}
	if row.Settings != nil {
		for _, k := range []string{"sp_cert", "sp_cert_next"} {
			if v, ok := row.Settings[k]; ok {
				keep[k] = v
			}
		}
	}
	row.Settings = keep
	for _, k := range providers.SettingKeys[row.Kind] {
		v := strings.TrimSpace(c.FormValue(k))
		if k == "allow_idp_initiated" || k == "allow_app_initiated" {
			v = strconv.FormatBool(v == "true")
		}
		row.Settings[k], f.Values[k] = v, v
	}
	secrets := map[string]string{}
	for _, k := range providers.SecretKeys[row.Kind] {
		secrets[k] = c.FormValue(k)
	}
	return secrets
}

func splitList(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// providerRefusal puts a validation or configuration error on the form (every field it
// names; a field that already has a message keeps it); false when err is neither (an internal
// error).
func providerRefusal(p *Page, err error, f *providerForm) bool {
	var ce *providers.ConfigError
	var ve *store.ValidationError
	set := func(field, msg string) {
		if field == "" {
			field = "name"
		}
		if _, ok := f.Errors[field]; !ok {
			f.Errors[field] = msg
		}
	}
	switch {
	case errors.As(err, &ce):
		set(ce.Field, p.T(ce.MessageID, "Detail", ce.Detail))
		for k, id := range ce.Fields {
			set(k, p.T(id))
		}
	case errors.As(err, &ve):
		for k, id := range ve.Fields {
			set(k, p.T(id))
		}
	case errors.Is(err, store.ErrConflict):
		set("slug", p.T("SSOSlugTaken"))
	default:
		return false
	}
	return true
}

// checkProviderForm validates everything the form holds at once: the store's fields (name,
// slug, audience, groups) and the kind's settings and secrets (providers.Apply, which seals
// the secrets only when all is well). It returns whether the row may be saved; refusals are on
// f. err is an internal error.
func (h *Handlers) checkProviderForm(p *Page, row *store.IdentityProvider, secrets map[string]string, f *providerForm) (bool, error) {
	ok := true
	if err := row.Validate(); err != nil {
		if !providerRefusal(p, err, f) {
			return false, err
		}
		ok = false
	}
	if err := ApplyProvider(row, secrets, h.SSODeps.Sealer, h.SSODeps.AllowInsecureURLs); err != nil {
		if !providerRefusal(p, err, f) {
			return false, err
		}
		ok = false
	}
	return ok, nil
}

// AdminProviderCreate adds a provider, disabled until tested and enabled (POST /admin/providers).
func (h *Handlers) AdminProviderCreate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	kind := c.FormValue("kind")
	if _, ok := providers.SettingKeys[kind]; !ok {
		kind = store.KindOIDC
	}
	f := h.newProviderForm(kind)
	row := store.IdentityProvider{Kind: kind, Slug: strings.ToLower(strings.TrimSpace(c.FormValue("slug")))}
	f.Values["slug"] = row.Slug
	secrets := readProviderForm(c, &row, &f)
	p := h.newPage(c, "", nil)
	ok, err := h.checkProviderForm(p, &row, secrets, &f)
	if err != nil {
		return err
	}
	if ok {
		row, err = h.Store.IdentityProviderCreate(ctx, *StaffOf(c), row)
	}
	if err != nil && !providerRefusal(p, err, &f) {
		return err
	}
	if !ok || err != nil {
		return h.renderProviderForm(c, fiber.StatusUnprocessableEntity, f)
	}
	h.providersChanged(c)
	return Redirect(c, "/admin/providers/"+strconv.FormatInt(row.ID, 10)+"?flash=created")
}

func (h *Handlers) providerByParam(c *fiber.Ctx) (store.IdentityProvider, error) {
	id, err := pathID(c)
	if err != nil {
		return store.IdentityProvider{}, err
	}
	return h.Store.IdentityProviderGet(c.UserContext(), id)
}

func (h *Handlers) formFor(row store.IdentityProvider) providerForm {
	f := h.newProviderForm(row.Kind)
	f.ID, f.Enabled = row.ID, row.Enabled
	for k, v := range row.Settings {
		f.Values[k] = v
	}
	f.Values["name"], f.Values["slug"], f.Values["audience"] = row.Name, row.Slug, row.Audience
	f.Values["groups"] = strings.Join(row.Groups, ", ")
	f.Values["allow_create"] = strconv.FormatBool(row.AllowCreate)
	f.Values["trust_organization"] = strconv.FormatBool(row.TrustOrganization)
	if secrets, err := h.SSODeps.Sealer.Open(row.Slug, row.Secrets); err == nil {
		for k, v := range secrets {
			f.HasKey[k] = v != ""
		}
	}
	if row.Kind == store.KindSAML {
		f.Metadata = h.Config.BaseURL + "/sso/" + row.Slug + "/metadata"
		f.Rollover = row.Settings["sp_cert_next"] != ""
	}
	return f
}

// AdminProviderShow shows a provider's edit form (GET /admin/providers/{id}).
func (h *Handlers) AdminProviderShow(c *fiber.Ctx) error {
	row, err := h.providerByParam(c)
	if err != nil {
		return err // ErrNotFound: 404 through the error table
	}
	return h.renderProviderForm(c, fiber.StatusOK, h.formFor(row))
}

// AdminProviderUpdate saves a provider's settings (POST /admin/providers/{id}); an empty secret
// field keeps the stored secret.
func (h *Handlers) AdminProviderUpdate(c *fiber.Ctx) error {
	row, err := h.providerByParam(c)
	if err != nil {
		return err // ErrNotFound: 404 through the error table
	}
	f := h.formFor(row)
	secrets := readProviderForm(c, &row, &f)
	p := h.newPage(c, "", nil)
	ok, err := h.checkProviderForm(p, &row, secrets, &f)
	if err != nil {
		return err
	}
	if ok && row.Enabled {
		// An enabled provider stays one customers can sign in with.
		if err := providers.CheckDiscovery(c.UserContext(), ProviderConfig(row), h.SSODeps); err != nil {
			if !providerRefusal(p, err, &f) {
				return err
			}
			ok = false
		}
	}
	if ok {
		err = h.Store.IdentityProviderUpdate(c.UserContext(), *StaffOf(c), row)
	}
	if err != nil && !providerRefusal(p, err, &f) {
		return err
	}
	if !ok || err != nil {
		return h.renderProviderForm(c, fiber.StatusUnprocessableEntity, f)
	}
	h.providersChanged(c)
	return Redirect(c, "/admin/providers/"+c.Params("id")+"?flash=saved")
}

// AdminProviderEnable switches a provider on (POST /admin/providers/{id}/enable).
func (h *Handlers) AdminProviderEnable(c *fiber.Ctx) error { return h.providerSetEnabled(c, true) }

// AdminProviderDisable switches a provider off (POST /admin/providers/{id}/disable).
func (h *Handlers) AdminProviderDisable(c *fiber.Ctx) error { return h.providerSetEnabled(c, false) }

// providerSetEnabled switches a provider on or off. A provider is enabled only when it would
// work: its settings are complete and an OpenID Connect provider's discovery document answers
// (providers.CheckDiscovery); otherwise its form comes back (422) with the reason next to the
// field, instead of customers meeting "Access denied" at sign-in.
func (h *Handlers) providerSetEnabled(c *fiber.Ctx, on bool) error {
	if on {
		row, err := h.providerByParam(c)
		if err != nil {
			return err
		}
		f := h.formFor(row)
		p := h.newPage(c, "", nil)
		if err := h.checkEnable(c.UserContext(), row); err != nil {
			if !providerRefusal(p, err, &f) {
				return err
			}
			f.Notice = p.T("SSONotEnabled")
			return h.renderProviderForm(c, fiber.StatusUnprocessableEntity, f)
		}
	}
	return h.providerChange(c, "saved", func(row store.IdentityProvider) error {
		return h.Store.IdentityProviderSetEnabled(c.UserContext(), *StaffOf(c), row.ID, on)
	})
}

// checkEnable reports why row cannot be enabled: unusable settings, else an unreachable or
// invalid discovery document (*providers.ConfigError), or nil.
func (h *Handlers) checkEnable(ctx context.Context, row store.IdentityProvider) error {
	secrets, err := h.SSODeps.Sealer.Open(row.Slug, row.Secrets)
	if err != nil {
		return err
	}
	cfg := ProviderConfig(row)
	if all := providers.ValidateAll(cfg, secrets, h.SSODeps.AllowInsecureURLs); len(all) > 0 {
		msg := providers.Validate(cfg, secrets, h.SSODeps.AllowInsecureURLs)
		return &providers.ConfigError{Field: providers.FieldOf(msg), MessageID: msg, Fields: all}
	}
	return providers.CheckDiscovery(ctx, cfg, h.SSODeps)
}

// providerChange applies change to the provider named by :id, tells every instance to reload
// the registry, and goes back to the list with flash. Unknown provider: 404 (via the error table).
func (h *Handlers) providerChange(c *fiber.Ctx, flash string, change func(store.IdentityProvider) error) error {
	row, err := h.providerByParam(c)
	if err == nil {
		err = change(row)
	}
	if err != nil {
		return err
	}
	h.providersChanged(c)
	return Redirect(c, "/admin/providers?flash="+flash)
}

// AdminProviderDelete removes a provider and its contact links (POST /admin/providers/{id}/delete).
func (h *Handlers) AdminProviderDelete(c *fiber.Ctx) error {
	return h.providerChange(c, "deleted", func(row store.IdentityProvider) error {
		return h.Store.IdentityProviderDelete(c.UserContext(), *StaffOf(c), row.ID)
	})
}

// AdminProviderRotate advances a SAML provider's SP key rollover (POST
// /admin/providers/{id}/rotate, providers.RotateSPKey): the first press adds a next
// certificate to the SP metadata beside the current one, the second (once the IdP has loaded
// the metadata) makes it the current one.
func (h *Handlers) AdminProviderRotate(c *fiber.Ctx) error {
	row, err := h.providerByParam(c)
	if err != nil {
		return err
	}
	if row.Kind != store.KindSAML {
		return store.ErrNotFound
	}
	var step string
	err = EditProviderConfig(&row, func(cfg *providers.Config) (err error) {
		step, err = providers.RotateSPKey(cfg, h.SSODeps.Sealer)
		return err
	})
	if err != nil {
		return err
	}
	if err := h.Store.IdentityProviderUpdate(c.UserContext(), *StaffOf(c), row); err != nil {
		return err
	}
	h.providersChanged(c)
	flash := "rotated"
	if step == "prepared" {
		flash = "rollover"
	}
	return Redirect(c, "/admin/providers/"+c.Params("id")+"?flash="+flash)
}

// AdminProviderTest runs the provider's sign-in as a test (GET /admin/providers/{id}/test):
// the IdP's answer comes back to the usual callback, which shows the received claims and the
// exact validation error instead of signing anyone in. Works for disabled providers too.
func (h *Handlers) AdminProviderTest(c *fiber.Ctx) error {
	row, err := h.providerByParam(c)
	if err != nil {
		return err // ErrNotFound: 404 through the error table
	}
	p, ok := h.SSO.Get(row.Slug)
	if !ok {
		if _, err := providers.Build(ProviderConfig(row), h.SSODeps); err != nil {
			return h.ssoTestPage(c, testLabel(row), nil, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: err.Error()})
		}
		return h.ssoTestPage(c, testLabel(row), nil, &auth.Refusal{Reason: auth.ReasonUnavailable, Detail: LocaleOf(c).T("SSOProviderNotLoaded")})
	}
	if row.Kind == store.KindJWT {
		return h.ssoTestPage(c, p, nil, nil)
	}
	target, err := p.Begin(c.UserContext(), auth.BeginRequest{Test: true, Binding: sessionID(c), Browser: h.ssoBrowser(c)})
	if r := auth.AsRefusal(err); r != nil {
		return h.ssoTestPage(c, p, nil, r)
	}
	if err != nil {
		return err
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// AdminProviderTestToken checks a pasted JWT without recording its jti or signing anyone in
// (POST /admin/providers/{id}/test).
func (h *Handlers) AdminProviderTestToken(c *fiber.Ctx) error {
	row, err := h.providerByParam(c)
	if err != nil {
		return err // ErrNotFound: 404 through the error table
	}
	p, ok := h.SSO.Get(row.Slug)
	insp, isJWT := p.(auth.TokenInspector)
	if !ok || !isJWT {
		return h.ErrorPage(c, fiber.StatusNotFound)
	}
	id, err := insp.Inspect(c.UserContext(), c.FormValue("jwt"))
	if r := auth.AsRefusal(err); r != nil {
		return h.ssoTestPage(c, p, r.Identity, r)
	}
	if err != nil {
		return err
	}
	return h.ssoTestPage(c, p, &id, nil)
}

// testLabel wraps a row that failed to build, for the test page's heading.
type testLabel store.IdentityProvider

func (t testLabel) Info() auth.ProviderInfo {
	return auth.ProviderInfo{Slug: t.Slug, Kind: t.Kind, Label: t.Name}
}
func (testLabel) Begin(_ context.Context, _ auth.BeginRequest) (string, error) { return "", nil }
func (testLabel) Complete(_ context.Context, _ auth.CompleteRequest) (auth.Result, error) {
	return auth.Result{}, nil
}

// providersChanged reloads the registry here and on every other instance.
func (h *Handlers) providersChanged(c *fiber.Ctx) {
	if h.ProvidersChanged == nil {
		return
	}
	if err := h.ProvidersChanged(c.UserContext()); err != nil {
		Log(c).Error("identity providers reload", "err", err)
	}
}

// providerField is admin/providers_field.html's view model.
type providerField struct {
	Form       providerForm
	Name, Type string
}

// ProviderField returns a page for admin/providers_field.html: one input of the provider form
// (type text, url, number, password, textarea or checkbox).
func (p *Page) ProviderField(f providerForm, name, typ string) *Page {
	return p.With(providerField{Form: f, Name: name, Type: typ})
}
