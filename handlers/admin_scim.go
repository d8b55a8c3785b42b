package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// scimView is the provider's provisioning page (admin/provider_scim): the SCIM base URL, what
// the provider provisions, its tokens and the form for a new one.
type scimView struct {
	Provider store.IdentityProvider
	// BaseURL is the SCIM base URL the IdP is given (Okta: SCIM connector base URL; Entra:
	// Tenant URL).
	BaseURL string
	Stats   store.SCIMProviderStats
	// Tokens, Form, NewToken and RevokeBase as on the API key page (api/token_list).
	Tokens     []tokenRow
	Form       tokenForm
	NewToken   string
	Notice     string
	RevokeBase string
}

func (h *Handlers) scimPage(c *fiber.Ctx, status int, v scimView) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	prov, err := h.Store.IdentityProviderGet(ctx, id)
	if err != nil {
		return err
	}
	toks, err := h.Store.SCIMTokenList(ctx, id)
	if err != nil {
		return err
	}
	if v.Stats, err = h.Store.SCIMStats(ctx, id); err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	v.Provider, v.Tokens = prov, tokenRows(p, toks)
	if v.Form.Options == nil {
		v.Form = newTokenForm(p, "", "365")
	}
	v.BaseURL = strings.TrimRight(h.Config.BaseURL, "/") + SCIMPrefix
	v.RevokeBase = "/admin/providers/" + strconv.FormatInt(id, 10) + "/scim/tokens"
	p.Title, p.Data = p.T("SCIMHeading", "Name", prov.Name), v
	return h.renderAdmin(c, status, "admin/provider_scim", p)
}

// AdminProviderSCIM shows a provider's SCIM provisioning (GET /admin/providers/:id/scim,
// admins only): base URL, counts, tokens (start, created, expires, last used, state, revoke)
// and the form for a new token.
func (h *Handlers) AdminProviderSCIM(c *fiber.Ctx) error {
	v := scimView{}
	if c.Query("done") == "revoked" {
		v.Notice = h.newPage(c, "", nil).T("TokenRevoked")
	}
	return h.scimPage(c, fiber.StatusOK, v)
}

// AdminProviderSCIMTokenCreate creates a SCIM token for the provider (POST
// /admin/providers/:id/scim/tokens: name, expires in days) and shows it once; audited. 422
// with the errors beside the fields, the values kept.
func (h *Handlers) AdminProviderSCIMTokenCreate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	f := newTokenForm(p, strings.TrimSpace(c.FormValue("name")), c.FormValue("expires"))
	days, err := strconv.Atoi(f.Expires)
	if err != nil {
		days = -1
	}
	tok, err := h.Store.SCIMTokenCreate(c.UserContext(), StaffOf(c).ID, id, f.Name, days)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		for k, msg := range ve.Fields {
			f.Errors[k] = p.T(msg)
		}
		return h.scimPage(c, fiber.StatusUnprocessableEntity, scimView{Form: f})
	}
	if err != nil {
		return err
	}
	return h.scimPage(c, fiber.StatusOK, scimView{NewToken: tok})
}

// AdminProviderSCIMTokenRevoke revokes one of the provider's SCIM tokens (POST
// /admin/providers/:id/scim/tokens/:token/revoke); audited. It stops working at once.
func (h *Handlers) AdminProviderSCIMTokenRevoke(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tid, err := strconv.ParseInt(c.Params("token"), 10, 64)
	if err != nil || tid <= 0 {
		return store.ErrNotFound
	}
	if err := h.Store.SCIMTokenRevoke(c.UserContext(), StaffOf(c).ID, id, tid); err != nil {
		return err
	}
	return Redirect(c, "/admin/providers/"+strconv.FormatInt(id, 10)+"/scim?done=revoked")
}
