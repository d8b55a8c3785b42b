package handlers

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portico/auth"
	"portico/auth/providers"
	"portico/metrics"
	"portico/sql/store"
)

// ssoDenied is the access-denied page's view model: a safe, translated reason.
type ssoDenied struct {
	Reason auth.Reason
	Text   string
}

// ssoTestResult is the admin test mode's view model: what the provider sent and the exact
// validation error, without anyone being signed in.
type ssoTestResult struct {
	Provider string
	OK       bool
	Reason   auth.Reason
	Detail   string
	Identity *auth.Identity
	Claims   []ssoClaim
}

type ssoClaim struct{ Name, Value string }

// ssoProvider returns the registered provider named by the :provider parameter.
func (h *Handlers) ssoProvider(c *fiber.Ctx) (auth.Provider, bool) {
	if h.SSO == nil {
		return nil, false
	}
	return h.SSO.Get(strings.ToLower(c.Params("provider")))
}

// SSOStart begins a sign-in at an enabled provider (GET /sso/{provider}/start?return_to=):
// a redirect to the IdP (OIDC authorization endpoint, SAML Redirect binding, or the JWT app's
// remote login URL). An unknown, disabled or unreachable provider shows the access-denied page;
// the other providers and the password sign-in are untouched.
func (h *Handlers) SSOStart(c *fiber.Ctx) error {
	p, ok := h.ssoProvider(c)
	if !ok || !p.Info().Enabled {
		return h.ssoDeny(c, auth.ReasonUnavailable)
	}
	ret := c.Query("return_to")
	if !LocalPath(ret) {
		ret = ""
	}
	// Login CSRF defence: the flow is bound to this browser's session, so a browser without one
	// (e.g. an htmx request, which the middleware gives none) gets a pre-sign-in session first.
	if SessionOf(c) == nil {
		sess, err := h.Sessions.Create(c.UserContext(), auth.KindAnonymous, 0, auth.AnonymousIdle)
		if err != nil {
			return err
		}
		SetSession(c, sess)
		h.setSessionCookie(c, sess.ID)
	}
	target, err := p.Begin(c.UserContext(), auth.BeginRequest{ReturnTo: ret, Binding: sessionID(c), Browser: h.ssoBrowser(c)})
	if r := auth.AsRefusal(err); r != nil {
		return h.ssoDeny(c, r.Reason)
	}
	if err != nil {
		return err
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// SSOCallback completes an OpenID Connect sign-in (GET /sso/{provider}/callback).
func (h *Handlers) SSOCallback(c *fiber.Ctx) error { return h.ssoComplete(c) }

// SSOAssertion is the SAML assertion consumer service (POST /sso/{provider}/acs). It is a
// cross-site POST from the IdP, so it is exempt from the CSRF check and gets no (Lax) session
// cookie: the signature, InResponseTo (request id kept in Redis), the SSO flow cookie of the
// browser that started the request and the replay cache are its checks (OWASP SAML Security
// Cheat Sheet); an IdP-initiated response (where enabled) only leads to the "Continue as …?"
// page.
func (h *Handlers) SSOAssertion(c *fiber.Ctx) error { return h.ssoComplete(c) }

// SSOToken receives a JWT SSO token (POST /sso/{provider}/jwt, auto-submitted form, preferred;
// or GET ?jwt=). Like the ACS it is a cross-site POST with its own checks (signature, single-use
// jti, short lifetime, the state of a flow this browser started) and exempt from the CSRF
// check; a token without state (app-initiated, where enabled) only leads to the "Continue as
// …?" page.
func (h *Handlers) SSOToken(c *fiber.Ctx) error { return h.ssoComplete(c) }

// SSOMetadata serves a SAML provider's SP metadata (GET /sso/{provider}/metadata), also while
// the provider is disabled (the IdP's admin needs it before the first sign-in).
func (h *Handlers) SSOMetadata(c *fiber.Ctx) error {
	p, ok := h.ssoProvider(c)
	m, isSAML := p.(auth.MetadataPublisher)
	if !ok || !isSAML {
		return h.ErrorPage(c, fiber.StatusNotFound)
	}
	b, err := m.Metadata()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/samlmetadata+xml")
	c.Set("Cache-Control", "public, max-age=300")
	return c.Send(b)
}

func sessionID(c *fiber.Ctx) string {
	if s := SessionOf(c); s != nil {
		return s.ID
	}
	return ""
}

func (h *Handlers) requestValues(c *fiber.Ctx) auth.CompleteRequest {
	q := url.Values{}
	for k, v := range c.Context().QueryArgs().All() {
		q.Add(string(k), string(v))
	}
	f := url.Values{}
	if c.Method() == fiber.MethodPost {
		for k, v := range c.Context().PostArgs().All() {
			f.Add(string(k), string(v))
		}
	}
	return auth.CompleteRequest{Query: q, Form: f, URL: c.BaseURL() + c.OriginalURL(), Binding: sessionID(c),
		Browser: c.Cookies(h.ssoFlowCookieName())}
}

// ssoFlowCookieTTL is the SSO flow cookie's lifetime, renewed at every start: as long as a
// started flow may take at the IdP.
const ssoFlowCookieTTL = providers.FlowTTL

// ssoFlowCookieName is the browser's SSO flow cookie: "__Host-portico_sso" behind https, else
// "portico_sso".
func (h *Handlers) ssoFlowCookieName() string {
	if h.Config.SecureCookies() {
		return "__Host-portico_sso"
	}
	return "portico_sso"
}

// ssoBrowser returns this browser's SSO flow cookie value, setting a new random one (32
// bytes) when it has none, and renews the cookie for ssoFlowCookieTTL. SAML request ids and
// JWT states are bound to it (issue 10 point 7). It is SameSite=None, so that the IdP's or the
// app's cross-site POST carries it back (the session cookie is Lax and stays behind), and
// therefore always Secure (browsers refuse SameSite=None without it; they accept a Secure
// cookie from http://localhost and 127.0.0.1, so plain-http development on a loopback address
// works; on another plain-http host the cookie is dropped and SP-initiated SAML and JWT
// sign-ins are refused as expired). HttpOnly, host-only, Path=/.
func (h *Handlers) ssoBrowser(c *fiber.Ctx) string {
	v := c.Cookies(h.ssoFlowCookieName())
	if len(v) < 32 || len(v) > 64 {
		v = auth.NewToken()
	}
	c.Cookie(&fiber.Cookie{Name: h.ssoFlowCookieName(), Value: v, Path: "/", HTTPOnly: true, Secure: true,
		SameSite: fiber.CookieSameSiteNoneMode, MaxAge: int(ssoFlowCookieTTL.Seconds())})
	return v
}

// ssoComplete validates the provider's callback, then shows the admin test result, or for an
// unsolicited sign-in (IdP-initiated SAML, app-initiated JWT) the "Continue as …?" page, or
// runs the access decision (ssoDecide: store.SSOSignIn links or creates the contact and
// company and checks the audience) and only then opens a fresh session (id rotation) and
// redirects to a local return_to. Any refusal shows the access-denied page with a safe reason.
func (h *Handlers) ssoComplete(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, ok := h.ssoProvider(c)
	if !ok {
		return h.ssoDeny(c, auth.ReasonUnavailable)
	}
	res, err := p.Complete(ctx, h.requestValues(c))
	if r := auth.AsRefusal(err); r != nil {
		if r.Test {
			return h.ssoTestPage(c, p, r.Identity, r)
		}
		metrics.SignIn("sso", metrics.Refused)
		return h.ssoDeny(c, r.Reason)
	}
	if err != nil {
		return err
	}
	if res.Test {
		return h.ssoTestPage(c, p, &res.Identity, nil)
	}
	if !p.Info().Enabled {
		return h.ssoDeny(c, auth.ReasonUnavailable)
	}
	if res.Unsolicited {
		return h.ssoContinueAsk(c, p, res)
	}
	return h.ssoDecide(c, p, res.Identity, res.ReturnTo)
}

// ssoDecide runs the access decision for a validated identity at provider p (store.SSOSignIn:
// link or create the contact and company, check the audience) and opens a session; an
// unverified address gets the confirmation mail instead, any refusal the access-denied page.
func (h *Handlers) ssoDecide(c *fiber.Ctx, p auth.Provider, id auth.Identity, returnTo string) error {
	ctx := c.UserContext()
	row, err := h.Store.IdentityProviderBySlug(ctx, p.Info().Slug)
	if errors.Is(err, store.ErrNotFound) {
		return h.ssoDeny(c, auth.ReasonUnavailable)
	}
	if err != nil {
		return err
	}
	contact, err := h.Store.SSOSignIn(ctx, row, id)
	var refused *store.SSORefusal
	if errors.As(err, &refused) {
		Log(c).Info("sso refused", "provider", row.Slug, "reason", refused.Reason, "detail", refused.Detail)
		if refused.Reason == auth.ReasonUnverified {
			return h.ssoConfirmSend(c, row, id, returnTo)
		}
		metrics.SignIn("sso", metrics.Denied)
		return h.ssoDeny(c, refused.Reason)
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(id.Company) != "" && !row.TrustOrganization && contact.CompanyID == 0 {
		Log(c).Info("sso organization claim not trusted: contact left without a company",
			"provider", row.Slug, "contact_id", contact.ID)
	}
	return h.ssoOpenSession(c, contact, row.Slug, returnTo)
}

// ssoContinueTTL is how long the "Continue as …?" page may wait for its button.
const ssoContinueTTL = 10 * time.Minute

// ssoPendingContinue is an unsolicited sign-in waiting for the person's "Continue" (in Redis,
// single use), bound to the pre-sign-in session the page was shown to (key and Binding).
type ssoPendingContinue struct {
	Provider string        `json:"p"`
	Identity auth.Identity `json:"i"`
	ReturnTo string        `json:"r,omitempty"`
	Binding  string        `json:"b"`
}

// ssoContinue is the "Continue as …?" page's view model.
type ssoContinue struct {
	Email    string
	Provider string
	Flow     string
}

// ssoContinueAsk answers an unsolicited sign-in (IdP-initiated SAML, app-initiated JWT, where
// the admin enabled them): nothing is decided and no session exists yet (ASVS 5.0 7.6.2); the
// browser gets a fresh pre-sign-in session and a page "Continue as jane@acme.com?" whose
// CSRF-checked POST (/sso/continue) finishes the sign-in. A cross-site auto-post of someone
// else's assertion or token thus signs nobody in unless the person reads the address and
// agrees. The identity waits in Redis for ssoContinueTTL, bound to that session.
func (h *Handlers) ssoContinueAsk(c *fiber.Ctx, p auth.Provider, res auth.Result) error {
	ctx := c.UserContext()
	if err := h.freshAnonymousSession(c); err != nil {
		return err
	}
	id := res.Identity
	id.Claims = nil
	ret := res.ReturnTo
	if !LocalPath(ret) {
		ret = ""
	}
	flow := auth.NewToken()
	pending := ssoPendingContinue{Provider: p.Info().Slug, Identity: id, ReturnTo: ret, Binding: store.SSOBindingHash(sessionID(c))}
	if err := h.SSODeps.Flows.Put(ctx, continueKey(c, flow), pending, ssoContinueTTL); err != nil {
		return err
	}
	tokenPage(c)
	c.Set("Cache-Control", "no-store")
	pg := h.newPage(c, "", nil)
	email := strings.ToLower(strings.TrimSpace(id.Email))
	pg.Title = pg.T("SSOContinueHeading", "Email", email)
	pg.Data = ssoContinue{Email: email, Provider: p.Info().Label, Flow: flow}
	return h.renderPage(c, fiber.StatusOK, "sso/continue", pg)
}

// SSOContinue is the "Continue" button of the "Continue as …?" page (POST /sso/continue,
// CSRF-checked): in the browser the page was shown to, and within ssoContinueTTL, the access
// decision runs and a session opens. An unknown, used or expired flow, or another browser,
// shows the access-denied page (expired_flow).
func (h *Handlers) SSOContinue(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var pending ssoPendingContinue
	ok := false
	if flow := c.FormValue("flow"); flow != "" && len(flow) <= 128 {
		var err error
		if ok, err = h.SSODeps.Flows.Take(ctx, continueKey(c, flow), &pending); err != nil {
			return err
		}
	}
	if !ok || subtle.ConstantTimeCompare([]byte(pending.Binding), []byte(store.SSOBindingHash(sessionID(c)))) != 1 {
		Log(c).Info("sso continue refused", "reason", auth.ReasonExpiredFlow, "detail", "unknown, used or expired flow, or another browser")
		return h.ssoDeny(c, auth.ReasonExpiredFlow)
	}
	p, found := h.SSO.Get(pending.Provider)
	if !found || !p.Info().Enabled {
		return h.ssoDeny(c, auth.ReasonUnavailable)
	}
	return h.ssoDecide(c, p, pending.Identity, pending.ReturnTo)
}

// continueKey is the Redis key of a pending "Continue as …?" flow: the flow id under the
// browser session's binding hash, so that a POST from another browser finds nothing (and
// cannot use up the real one).
func continueKey(c *fiber.Ctx, flow string) string {
	return "continue:" + store.SSOBindingHash(sessionID(c)) + ":" + flow
}

// freshAnonymousSession gives the browser a pre-sign-in session when it has none or a signed-in
// one (which ends): the cross-site POST of SAML and JWT carries no Lax session cookie, and what
// follows (a confirmation) must be bound to this browser.
func (h *Handlers) freshAnonymousSession(c *fiber.Ctx) error {
	if s := SessionOf(c); s != nil && s.Kind == auth.KindAnonymous {
		return nil
	}
	ctx := c.UserContext()
	_ = h.Sessions.Destroy(ctx, SessionOf(c))
	sess, err := h.Sessions.Create(ctx, auth.KindAnonymous, 0, auth.AnonymousIdle)
	if err != nil {
		return err
	}
	SetSession(c, sess)
	h.setSessionCookie(c, sess.ID)
	return nil
}

// ssoOpenSession ends the browser's pre-sign-in session, opens a fresh one for contact (id
// rotation, remembering the provider slug for the remote logout) and redirects to returnTo
// when it is a local path, else to the ticket list.
func (h *Handlers) ssoOpenSession(c *fiber.Ctx, contact store.Contact, slug, returnTo string) error {
	ctx := c.UserContext()
	_ = h.Sessions.Destroy(ctx, SessionOf(c))
	sess, err := h.Sessions.CreateVia(ctx, auth.KindContact, contact.ID, SettingsOf(c).IdleTimeout, slug)
	if err != nil {
		return err
	}
	SetSession(c, sess)
	h.setSessionCookie(c, sess.ID)
	_ = h.Store.AccountSignedIn(ctx, contact.ID, sess.CreatedAt)
	Log(c).Info("signed in", "contact_id", contact.ID, "provider", slug)
	metrics.SignIn("sso", metrics.Success)
	if !LocalPath(returnTo) {
		returnTo = "/tickets"
	}
	return c.Redirect(returnTo, fiber.StatusSeeOther)
}

// ssoCheckMail is the "confirm your address" page's view model.
type ssoCheckMail struct {
	Email string
}

// ssoConfirmSend answers a sign-in whose address the provider did not verify (issue 10): no
// contact is created or linked; the address gets a confirmation link (store.SSOConfirmRequest)
// that finishes the sign-in in this browser only, so the browser gets a pre-sign-in session
// first when it came without one (the cross-site POST of SAML and JWT carries no Lax cookie).
func (h *Handlers) ssoConfirmSend(c *fiber.Ctx, row store.IdentityProvider, id auth.Identity, returnTo string) error {
	ctx := c.UserContext()
	if err := h.freshAnonymousSession(c); err != nil {
		return err
	}
	if !LocalPath(returnTo) {
		returnTo = ""
	}
	if _, err := h.Store.SSOConfirmRequest(ctx, row, id, returnTo, sessionID(c), LocaleOf(c).Lang); err != nil {
		return err
	}
	tokenPage(c)
	p := h.newPage(c, "", nil)
	p.Title = p.T("SSOConfirmSentHeading")
	p.Data = ssoCheckMail{Email: strings.ToLower(strings.TrimSpace(id.Email))}
	return h.renderPage(c, fiber.StatusOK, "sso/confirm_sent", p)
}

// SSOConfirmPage shows the button of an SSO confirmation link (GET /sso/confirm?token=): a
// GET changes nothing, so mail scanners that open links confirm nothing.
func (h *Handlers) SSOConfirmPage(c *fiber.Ctx) error {
	return h.confirmPage(c, store.PurposeSSOConfirm, "/sso/confirm", "SSOConfirmHeading", "SSOConfirmText", "SSOConfirmButton")
}

// SSOConfirm uses an SSO confirmation link (POST /sso/confirm, CSRF-checked): in the browser
// that signed in, the address counts as verified, the access decision runs (create or link
// the contact) and a session opens. In another browser the access-denied page asks to open
// the link where the sign-in started; a dead link answers 410.
func (h *Handlers) SSOConfirm(c *fiber.Ctx) error {
	tokenPage(c)
	done, err := h.Store.SSOConfirm(c.UserContext(), c.FormValue("token"), sessionID(c))
	if errors.Is(err, store.ErrNotFound) {
		return h.linkInvalid(c, store.PurposeSSOConfirm)
	}
	var refused *store.SSORefusal
	if errors.As(err, &refused) {
		Log(c).Info("sso confirmation refused", "reason", refused.Reason, "detail", refused.Detail)
		return h.ssoDeny(c, refused.Reason)
	}
	if err != nil {
		return err
	}
	return h.ssoOpenSession(c, done.Contact, done.Provider.Slug, done.ReturnTo)
}

// ssoSignedOut is the view model of the page that sends a signed-out customer on to the JWT
// app's remote logout URL.
type ssoSignedOut struct {
	Name string
	URL  string
}

// remoteLogoutURL returns the remote logout URL of the enabled JWT app that opened sess ("" when
// the session was not opened by one, or the app has none).
func (h *Handlers) remoteLogoutURL(sess *auth.Session) (string, string) {
	if sess == nil || sess.Provider == "" || h.SSO == nil {
		return "", ""
	}
	p, ok := h.SSO.Get(sess.Provider)
	if !ok || !p.Info().Enabled {
		return "", ""
	}
	r, ok := p.(auth.RemoteLogout)
	if !ok {
		return "", ""
	}
	return r.RemoteLogoutURL(), p.Info().Label
}

// ssoRemoteLogout answers a sign-out whose session a JWT app opened: the session is already
// destroyed; the browser goes on to the app's remote logout URL. A plain form's 303 to another
// origin would be blocked by our CSP (form-action 'self' also covers redirects), so the page
// sends it on with a Refresh header and shows a link; htmx gets HX-Redirect.
func (h *Handlers) ssoRemoteLogout(c *fiber.Ctx, target, name string) error {
	if HTMXRequest(c) {
		HTMXResponse{Redirect: target}.Apply(c)
		return c.SendStatus(fiber.StatusNoContent)
	}
	p := h.newPage(c, "", nil)
	p.Title = p.T("SignedOut")
	p.Data = ssoSignedOut{Name: name, URL: target}
	c.Set("Refresh", "0; url="+target)
	return h.renderPage(c, fiber.StatusOK, "sso/signed_out", p)
}

// ssoReasonKeys maps refusal reasons to catalogue keys.
var ssoReasonKeys = map[auth.Reason]string{
	auth.ReasonInvalid: "SSOReasonInvalid", auth.ReasonReplayed: "SSOReasonReplayed", auth.ReasonExpiredFlow: "SSOReasonExpiredFlow",
	auth.ReasonIdPInitiated: "SSOReasonIdPInitiated", auth.ReasonUnavailable: "SSOReasonUnavailable", auth.ReasonCancelled: "SSOReasonCancelled",
	auth.ReasonEmailMissing: "SSOReasonEmailMissing", auth.ReasonUnverified: "SSOReasonUnverified", auth.ReasonNotInGroups: "SSOReasonNotInGroups",
	auth.ReasonNoAccount: "SSOReasonNoAccount", auth.ReasonAccountLocked: "SSOReasonAccountLocked",
}

// ssoDeny renders the access-denied page (403) with the translated safe reason.
func (h *Handlers) ssoDeny(c *fiber.Ctx, reason auth.Reason) error {
	p := h.newPage(c, "", nil)
	key, ok := ssoReasonKeys[reason]
	if !ok {
		key, reason = "SSOReasonInvalid", auth.ReasonInvalid
	}
	p.Title = p.T("SSOAccessDenied")
	p.Data = ssoDenied{Reason: reason, Text: p.T(key)}
	return h.renderPage(c, fiber.StatusForbidden, "sso/denied", p)
}

// ssoTestPage renders an admin test run's result in the staff layout (status 200 for success,
// 422 for a refusal).
func (h *Handlers) ssoTestPage(c *fiber.Ctx, p auth.Provider, id *auth.Identity, r *auth.Refusal) error {
	pg := h.newPage(c, "", nil)
	pg.Title = pg.T("SSOTestResult")
	v := ssoTestResult{Provider: p.Info().Label, OK: r == nil && id != nil, Identity: id}
	if r != nil {
		v.Reason, v.Detail = r.Reason, r.Detail
	}
	if id != nil {
		for k, val := range id.Claims {
			v.Claims = append(v.Claims, ssoClaim{Name: k, Value: claimText(val)})
		}
		sort.Slice(v.Claims, func(i, j int) bool { return v.Claims[i].Name < v.Claims[j].Name })
	}
	pg.Data = v
	status := fiber.StatusOK
	if r != nil {
		status = fiber.StatusUnprocessableEntity
	}
	return h.renderAdmin(c, status, "sso/test_result", pg)
}

// claimText writes a received claim value for the test page: numbers as written in the token
// (JSON decodes them as float64, which fmt prints as 1.796026384e+09), whole numbers without
// exponent or decimals; lists element by element; anything else as fmt prints it.
func claimText(v any) string {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return claimText(float64(x))
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimText(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}
