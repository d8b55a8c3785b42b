package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"portico/auth"
	"portico/metrics"
	"portico/sql/store"
)

// SCIM 2.0 server (issue 17.4; RFC 7643 schemas, RFC 7644 protocol) for identity providers
// such as Okta and Microsoft Entra. Users are contacts, Groups are access groups. The protocol
// (routing, schema validation of bodies, PATCH parsing, filter parsing, discovery documents,
// the Error schema) is github.com/elimity-com/scim, a net/http handler bridged into Fiber with
// Fiber's adaptor; the mapping to Portico's records and permission model is here and in
// store/scim.go. A provider's token sees only what that provider provisions.

// SCIMPrefix is the base path of the SCIM service (the "Tenant URL" / "SCIM connector base URL"
// an IdP is given, after the public base URL).
const SCIMPrefix = "/scim/v2"

// SCIM media type (RFC 7644 §3.1) and schema URNs used here.
const (
	scimMediaType   = "application/scim+json"
	scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

const (
	localSCIMPrincipal = "portico.scim_principal"
	localSCIMCtx       = "portico.scim_ctx"
	localSCIMFailure   = "portico.scim_failure"
)

// scimFailure carries an internal error out of the net/http handler, so that Fiber's error
// table answers it (503 for an outage, 500 otherwise; logged once) instead of the library
// showing err.Error() to the client.
type scimFailure struct{ err error }

// SCIMPrincipalOf returns the SCIM token's provider (zero when none).
func SCIMPrincipalOf(c *fiber.Ctx) store.SCIMPrincipal {
	p, _ := c.Locals(localSCIMPrincipal).(store.SCIMPrincipal)
	return p
}

// SCIMError writes a SCIM error (RFC 7644 §3.12: schema urn:ietf:params:scim:api:messages:2.0:Error,
// status as a string, scimType where the RFC defines one) as application/scim+json. It returns
// nil (the answer is written).
func SCIMError(c *fiber.Ctx, status int, scimType, detail string) error {
	b, err := json.Marshal(scimerr.ScimError{Status: status, ScimType: scimerr.ScimType(scimType), Detail: detail})
	if err != nil {
		return err
	}
	c.Set("Cache-Control", "no-store")
	c.Set(fiber.HeaderContentType, scimMediaType)
	return c.Status(status).Send(b)
}

func isSCIMPath(path string) bool { return path == "/scim" || strings.HasPrefix(path, "/scim/") }

// SCIMAuth is the SCIM service's authentication (RFC 7644 §2, RFC 6750 bearer token): a live
// SCIM token of an identity provider, else 401 with WWW-Authenticate and a SCIM error. Cookies
// are never read. The token is looked up by its SHA-256 and compared in constant time.
func (h *Handlers) SCIMAuth(c *fiber.Ctx) error {
	scheme, tok, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portico-scim"`)
		return SCIMError(c, fiber.StatusUnauthorized, "", "Send the provider's SCIM token as Authorization: Bearer TOKEN.")
	}
	p, err := h.Store.SCIMAuthenticate(c.UserContext(), strings.TrimSpace(tok))
	if errors.Is(err, store.ErrNotFound) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portico-scim", error="invalid_token"`)
		return SCIMError(c, fiber.StatusUnauthorized, "", "The token is unknown, revoked or expired.")
	}
	if err != nil {
		return err
	}
	c.Locals(localSCIMPrincipal, p)
	return c.Next()
}

// SCIMRateLimit counts every request of a SCIM token against Limits.SCIMToken (Redis, shared
// by every instance): over the limit, 429 with Retry-After (Okta and Entra back off on it).
func (h *Handlers) SCIMRateLimit(c *fiber.Ctx) error {
	lim := h.Limits.SCIMToken
	if lim.Max <= 0 || h.Limiter == nil {
		return c.Next()
	}
	subject := "s:" + strconv.FormatInt(SCIMPrincipalOf(c).TokenID, 10)
	n, err := h.Limiter.Hit(c.UserContext(), lim, subject)
	if err != nil {
		return err
	}
	if n > lim.Max {
		wait, err := h.Limiter.Blocked(c.UserContext(), lim, subject)
		if err != nil {
			return err
		}
		metrics.RateLimited(lim.Name)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
		return SCIMError(c, fiber.StatusTooManyRequests, "", "Too many requests with this token; see Retry-After.")
	}
	return c.Next()
}

// scimServers are the two library servers: ops validates bodies leniently against the full
// RFC 7643 User (with the enterprise extension) and Group schemas, so that an IdP's default
// attribute mappings (title, phoneNumbers, department…) are accepted and ignored; disc answers
// the discovery endpoints with the attributes Portico actually keeps.
type scimServers struct {
	once      sync.Once
	ops, disc fiber.Handler
}

// SCIM serves /scim/v2 for an authenticated provider (SCIMAuth first): discovery
// (/ServiceProviderConfig, /ResourceTypes, /Schemas), /Users and /Groups. Answers are
// application/scim+json and never cached.
func (h *Handlers) SCIM() fiber.Handler {
	srv := &scimServers{}
	return func(c *fiber.Ctx) error {
		srv.once.Do(func() { srv.ops, srv.disc = h.newSCIMServers() })
		fail := &scimFailure{}
		c.Locals(localSCIMFailure, fail)
		c.Locals(localSCIMCtx, c.UserContext())
		rest := strings.TrimPrefix(c.Path(), SCIMPrefix)
		var err error
		switch {
		case rest == "/ServiceProviderConfig" || rest == "/Schemas" || strings.HasPrefix(rest, "/Schemas/") ||
			rest == "/ResourceTypes" || strings.HasPrefix(rest, "/ResourceTypes/"):
			if c.Method() != fiber.MethodGet {
				return SCIMError(c, fiber.StatusMethodNotAllowed, "", "Discovery endpoints answer GET only.")
			}
			err = srv.disc(c)
		default:
			err = srv.ops(c)
		}
		if err == nil {
			err = fail.err
		}
		if err != nil {
			return err
		}
		if c.Method() == fiber.MethodGet && (rest == "/Users" || rest == "/Groups") && c.Response().StatusCode() == fiber.StatusOK {
			fixItemsPerPage(c)
		}
		c.Set("Cache-Control", "no-store")
		return nil
	}
}

// fixItemsPerPage makes a list answer's itemsPerPage the number of resources on the page
// (RFC 7644 §3.4.2: "the number of resources returned in a list response page"); the library
// puts the requested count there.
func fixItemsPerPage(c *fiber.Ctx) {
	var lr map[string]json.RawMessage
	if json.Unmarshal(c.Response().Body(), &lr) != nil {
		return
	}
	var res []json.RawMessage
	_ = json.Unmarshal(lr["Resources"], &res)
	lr["itemsPerPage"] = json.RawMessage(strconv.Itoa(len(res)))
	if b, err := json.Marshal(lr); err == nil {
		c.Response().SetBodyRaw(b)
	}
}

func (h *Handlers) newSCIMServers() (ops, disc fiber.Handler) {
	// Microsoft Entra sends booleans as strings ("False"); the library's switch is global and
	// Portico has no other SCIM server, so it is set here once.
	schema.SetAllowStringValues(true)
	base := strings.TrimRight(h.Config.BaseURL, "/") + SCIMPrefix
	config := &scim.ServiceProviderConfig{
		DocumentationURI: optional.NewString(strings.TrimRight(h.Config.BaseURL, "/") + "/admin/providers"),
		AuthenticationSchemes: []scim.AuthenticationScheme{{
			Type: scim.AuthenticationTypeOauthBearerToken, Name: "Bearer token", Primary: true,
			Description: "A SCIM token of the identity provider, created in Portico's admin console (Single sign-on → the provider → Provisioning).",
			SpecURI:     optional.NewString("https://www.rfc-editor.org/rfc/rfc6750"),
		}},
		MaxResults:       store.MaxSCIMList,
		SupportFiltering: true,
		SupportPatch:     true,
	}
	users := scimUsers{h: h}
	groups := scimGroups{h: h}
	lenient := []scim.ResourceType{
		{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("A contact of the portal"),
			Schema: schema.CoreUserSchema(), SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}, Handler: users},
		{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("An access group of the portal"),
			Schema: schema.CoreGroupSchema(), Handler: groups},
	}
	truthful := []scim.ResourceType{
		{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("A contact of the portal"),
			Schema: scimStoredUserSchema(), Handler: users},
		{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("An access group of the portal"),
			Schema: scimStoredGroupSchema(), Handler: groups},
	}
	o, err := scim.NewServer(&scim.ServerArgs{ServiceProviderConfig: config, ResourceTypes: lenient}, scim.WithBaseURL(base))
	if err != nil {
		panic("scim server: " + err.Error()) // static arguments: a programming error
	}
	d, err := scim.NewServer(&scim.ServerArgs{ServiceProviderConfig: config, ResourceTypes: truthful}, scim.WithBaseURL(base))
	if err != nil {
		panic("scim server: " + err.Error())
	}
	return adaptor.HTTPHandler(http.StripPrefix("/scim", o)), adaptor.HTTPHandler(http.StripPrefix("/scim", d))
}

// scimStoredUserSchema is the User schema as Portico keeps it (what /Schemas tells an IdP):
// userName, name (formatted, givenName, familyName), displayName, emails, active,
// preferredLanguage. Other attributes are accepted and not kept.
func scimStoredUserSchema() schema.Schema {
	str := func(name, desc string, required bool, unique bool) schema.CoreAttribute {
		p := schema.StringParams{Name: name, Description: optional.NewString(desc), Required: required}
		if unique {
			p.Uniqueness = schema.AttributeUniquenessServer()
		}
		return schema.SimpleCoreAttribute(schema.SimpleStringParams(p))
	}
	return schema.Schema{
		ID: scimUserSchema, Name: optional.NewString("User"), Description: optional.NewString("A contact of the portal"),
		Attributes: []schema.CoreAttribute{
			str("userName", "The IdP's sign-in name, unique per identity provider (case-insensitive). When no email is given it must be an email address.", true, true),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "name", Description: optional.NewString("The user's name; the contact's name is displayName, else formatted, else givenName familyName."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "formatted"}),
					schema.SimpleStringParams(schema.StringParams{Name: "givenName"}),
					schema.SimpleStringParams(schema.StringParams{Name: "familyName"}),
				}}),
			str("displayName", "The contact's name as shown to agents and in mails.", false, false),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "emails", MultiValued: true,
				Description: optional.NewString("The contact's address: the primary entry, else the work entry, else the first. Only one is kept."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value"}),
					schema.SimpleStringParams(schema.StringParams{Name: "type", CanonicalValues: []string{"work", "home", "other"}}),
					schema.SimpleBooleanParams(schema.BooleanParams{Name: "primary"}),
				}}),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "active",
				Description: optional.NewString("false: the contact cannot sign in and every session ends at once; tickets are kept.")})),
			str("preferredLanguage", "The language of the contact's mails and pages (e.g. en, de-CH).", false, false),
		},
	}
}

// scimStoredGroupSchema is the Group schema as Portico keeps it: displayName (the access
// group's name) and members (users of the same provider).
func scimStoredGroupSchema() schema.Schema {
	return schema.Schema{
		ID: scimGroupSchema, Name: optional.NewString("Group"), Description: optional.NewString("An access group of the portal"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "displayName", Required: true, Uniqueness: schema.AttributeUniquenessServer(),
				Description: optional.NewString("The access group's name: 1 to 200 characters, no comma; unique regardless of case.")})),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "members", MultiValued: true,
				Description: optional.NewString("Users of this identity provider in the group. Contacts the provider does not provision are never shown nor changed."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", Mutability: schema.AttributeMutabilityImmutable()}),
					schema.SimpleReferenceParams(schema.ReferenceParams{Name: "$ref", ReferenceTypes: []schema.AttributeReferenceType{"User"}, Mutability: schema.AttributeMutabilityImmutable()}),
					schema.SimpleStringParams(schema.StringParams{Name: "display", Mutability: schema.AttributeMutabilityReadOnly()}),
				}}),
		},
	}
}

// scimContext returns the request's deadline-bound context and provider, put there by SCIM.
func scimContext(r *http.Request) (context.Context, store.SCIMPrincipal) {
	ctx, _ := r.Context().Value(localSCIMCtx).(context.Context)
	if ctx == nil {
		ctx = r.Context()
	}
	p, _ := r.Context().Value(localSCIMPrincipal).(store.SCIMPrincipal)
	return ctx, p
}

// scimErr turns a store error into the library's SCIM error: not found 404, uniqueness 409,
// refused values 400 invalidValue; anything else is kept for Fiber's error table (503 or 500,
// logged once, never shown) and the library writes a bare 500 meanwhile.
func scimErr(r *http.Request, id string, err error) error {
	var conflict *store.SCIMConflictError
	var invalid *store.SCIMInvalidError
	var se scimerr.ScimError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrNotFound):
		return scimerr.ScimErrorResourceNotFound(id)
	case errors.As(err, &conflict):
		return scimerr.ScimError{Status: http.StatusConflict, ScimType: scimerr.ScimTypeUniqueness, Detail: conflict.Detail}
	case errors.As(err, &invalid):
		return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue, Detail: invalid.Detail}
	}
	if f, ok := r.Context().Value(localSCIMFailure).(*scimFailure); ok && f.err == nil {
		f.err = err
	}
	return scimerr.ScimErrorInternal
}

// scimID parses a resource id (a positive integer) or answers 404 (RFC 7644 §3.4.1).
func scimID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return 0, scimerr.ScimErrorResourceNotFound(id)
	}
	return n, nil
}

// scimPage turns startIndex (1-based) and count into an offset and limit.
func scimPage(p scim.ListRequestParams) (offset, limit int) {
	return max(p.StartIndex, 1) - 1, min(max(p.Count, 0), store.MaxSCIMList)
}

// get returns m's value for key, matched case-insensitively (SCIM attribute names are
// case-insensitive, RFC 7643 §2.1).
func get(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func getString(m map[string]any, key string) string {
	s, _ := get(m, key).(string)
	return s
}

func getMap(m map[string]any, key string) map[string]any {
	v, _ := get(m, key).(map[string]any)
	return v
}

func getList(m map[string]any, key string) []any {
	switch v := get(m, key).(type) {
	case []any:
		return v
	case map[string]any:
		return []any{v}
	}
	return nil
}

// endSessions ends every session of a contact that is inactive or whose address changed. It
// runs again on every such answer (Redis failing after the change committed fails the request,
// and the IdP's retry ends them then).
func (h *Handlers) endSessions(ctx context.Context, contactID int64) error {
	if h.Sessions == nil {
		return nil
	}
	_, err := h.Sessions.RevokeAll(ctx, auth.KindContact, contactID)
	return err
}
