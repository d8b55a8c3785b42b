package handlers

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// tokenRow is one token as the account page and the admin console list it.
type tokenRow struct {
	ID                    int64
	Name, Hint            string
	Scopes                string
	CreatedBy             string
	Created, CreatedISO   string
	Expires, ExpiresISO   string
	LastUsed, LastUsedISO string
	// State is "active", "expired" or "revoked"; StateLabel its translation.
	State, StateLabel string
}

// tokenRows formats tokens for a list in the page's locale.
func tokenRows(p *Page, tokens []store.APIToken) []tokenRow {
	now := time.Now()
	out := make([]tokenRow, len(tokens))
	for i, t := range tokens {
		r := tokenRow{ID: t.ID, Name: t.Name, Hint: t.Hint, Scopes: strings.Join(t.Scopes, ", "), CreatedBy: t.CreatedBy,
			Expires: p.T("TokenNeverExpires"), LastUsed: p.T("TokenNeverUsed")}
		r.Created, r.CreatedISO = p.Locale.Times(t.CreatedAt)
		if t.ExpiresAt != nil {
			r.Expires, r.ExpiresISO = p.Locale.Times(*t.ExpiresAt)
		}
		if t.LastUsed != nil {
			r.LastUsed, r.LastUsedISO = p.Locale.Times(*t.LastUsed)
		}
		switch {
		case t.RevokedAt != nil:
			r.State = "revoked"
		case !t.Active(now):
			r.State = "expired"
		default:
			r.State = "active"
		}
		r.StateLabel = p.T("TokenState_" + r.State)
		out[i] = r
	}
	return out
}

// tokenForm is the "new token" form with its values and errors.
type tokenForm struct {
	Name    string
	Expires string
	Scopes  map[string]bool
	Errors  map[string]string
	// Options are the lifetimes offered (days; "0" = never).
	Options []option
	// ScopeOptions are the admin scopes offered (admin console only).
	ScopeOptions []option
}

func newTokenForm(p *Page, name, expires string) tokenForm {
	if expires == "" {
		expires = "90"
	}
	f := tokenForm{Name: name, Expires: expires, Errors: map[string]string{}, Scopes: map[string]bool{}}
	for _, d := range store.TokenExpiryDays {
		v := strconv.Itoa(d)
		label := p.T("TokenExpiresInDays", "Count", d)
		if d == 0 {
			label = p.T("TokenNeverExpires")
		}
		f.Options = append(f.Options, option{Value: v, Label: label, Selected: v == expires})
	}
	return f
}

// tokensView is the account's token page (pages/account_tokens).
type tokensView struct {
	Tokens []tokenRow
	Form   tokenForm
	// NewToken is the token just created, shown once ("" otherwise).
	NewToken string
	Notice   string
	// APIBase is the API's URL, for the example.
	APIBase string
	// RevokeBase is the path under which each token's revoke form posts (…/ID/revoke).
	RevokeBase string
}

func (h *Handlers) tokensPage(c *fiber.Ctx, status int, v tokensView) error {
	p := h.newPage(c, "", nil)
	tokens, err := h.Store.APITokenListForContact(c.UserContext(), ContactOf(c).ID)
	if err != nil {
		return err
	}
	v.Tokens = tokenRows(p, tokens)
	if v.Form.Options == nil {
		v.Form = newTokenForm(p, "", "")
	}
	v.APIBase = strings.TrimRight(h.Config.BaseURL, "/") + APIPrefix
	v.RevokeBase = "/account/tokens"
	p.Title, p.Data = p.T("TokensHeading"), v
	return h.renderPage(c, status, "pages/account_tokens", p)
}

// AccountTokenList shows the customer's personal access tokens (GET /account/tokens): name,
// start of the token, created, expires, last used, state, and a revoke button; plus the form
// for a new one.
func (h *Handlers) AccountTokenList(c *fiber.Ctx) error {
	v := tokensView{}
	if c.Query("done") == "revoked" {
		v.Notice = h.newPage(c, "", nil).T("TokenRevoked")
	}
	return h.tokensPage(c, fiber.StatusOK, v)
}

// AccountTokenCreate creates a personal access token (POST /account/tokens, fields name and
// expires in days) and shows it once on the answer page (200; never in a URL). 422 with the
// errors beside the fields.
func (h *Handlers) AccountTokenCreate(c *fiber.Ctx) error {
	p := h.newPage(c, "", nil)
	f := newTokenForm(p, strings.TrimSpace(c.FormValue("name")), c.FormValue("expires"))
	days, err := strconv.Atoi(f.Expires)
	if err != nil {
		days = -1
	}
	tok, err := h.Store.APITokenCreateForContact(c.UserContext(), ContactOf(c).ID, f.Name, days)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		for k, id := range ve.Fields {
			f.Errors[k] = p.T(id)
		}
		return h.tokensPage(c, fiber.StatusUnprocessableEntity, tokensView{Form: f})
	}
	if err != nil {
		return err
	}
	return h.tokensPage(c, fiber.StatusOK, tokensView{NewToken: tok})
}

// AccountTokenRevoke revokes one of the customer's tokens (POST /account/tokens/:id/revoke);
// it stops working at once. Another customer's token: 404.
func (h *Handlers) AccountTokenRevoke(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.APITokenRevokeForContact(c.UserContext(), ContactOf(c).ID, id); err != nil {
		return err
	}
	h.apiTokenRevoked(id)
	return Redirect(c, "/account/tokens?done=revoked")
}
