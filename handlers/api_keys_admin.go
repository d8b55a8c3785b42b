package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// adminKeysPage renders the admin console's API keys (admin/api_keys) with the form v.Form and,
// right after a create, the new key (shown once).
func (h *Handlers) adminKeysPage(c *fiber.Ctx, status int, v tokensView) error {
	p := h.newPage(c, "", nil)
	keys, err := h.Store.APIKeyList(c.UserContext())
	if err != nil {
		return err
	}
	v.Tokens = tokenRows(p, keys)
	if v.Form.Options == nil {
		v.Form = newTokenForm(p, "", "")
	}
	for _, sc := range store.AdminScopes {
		v.Form.ScopeOptions = append(v.Form.ScopeOptions, option{Value: sc, Label: p.T("Scope_" + strings.ReplaceAll(sc, ":", "_")), Selected: v.Form.Scopes[sc]})
	}
	v.APIBase = strings.TrimRight(h.Config.BaseURL, "/") + APIPrefix
	v.RevokeBase = "/admin/api-keys"
	p.Title, p.Data = p.T("APIKeysHeading"), v
	return h.renderAdmin(c, status, "admin/api_keys", p)
}

// AdminAPIKeyList shows the admin API keys (GET /admin/api-keys, admins only): name, start of
// the key, scopes, creator, created, expires, last used, state, revoke; and the create form.
func (h *Handlers) AdminAPIKeyList(c *fiber.Ctx) error {
	v := tokensView{}
	if c.Query("done") == "revoked" {
		v.Notice = h.newPage(c, "", nil).T("TokenRevoked")
	}
	return h.adminKeysPage(c, fiber.StatusOK, v)
}

// AdminAPIKeyCreate creates an admin API key (POST /admin/api-keys: name, expires in days,
// scope checkboxes) and shows it once; audited. 422 with errors beside the fields.
func (h *Handlers) AdminAPIKeyCreate(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	f := newTokenForm(p, strings.TrimSpace(c.FormValue("name")), c.FormValue("expires"))
	var scopes []string
	for _, v := range c.Request().PostArgs().PeekMulti("scopes") {
		scopes = append(scopes, string(v))
		f.Scopes[string(v)] = true
	}
	days, err := strconv.Atoi(f.Expires)
	if err != nil {
		days = -1
	}
	tok, err := h.Store.APIKeyCreate(c.UserContext(), StaffOf(c).ID, f.Name, scopes, days)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		for k, id := range ve.Fields {
			f.Errors[k] = p.T(id)
		}
		return h.adminKeysPage(c, fiber.StatusUnprocessableEntity, tokensView{Form: f})
	}
	if err != nil {
		return err
	}
	return h.adminKeysPage(c, fiber.StatusOK, tokensView{NewToken: tok})
}

// AdminAPIKeyRevoke revokes an admin API key (POST /admin/api-keys/:id/revoke); audited.
func (h *Handlers) AdminAPIKeyRevoke(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.APIKeyRevoke(c.UserContext(), StaffOf(c).ID, id); err != nil {
		return err
	}
	h.apiTokenRevoked(id)
	return Redirect(c, "/admin/api-keys?done=revoked")
}
