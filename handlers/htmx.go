package handlers

import "github.com/gofiber/fiber/v2"

// The htmx headers Portico reads and writes (https://htmx.org/reference/#headers). This file is
// the only code that names them: handlers read a request through HTMXOf and answer through
// HTMXResponse.Apply (or the helpers below, which use it).
const (
	hxRequest    = "HX-Request"     // request: sent by htmx ("true")
	hxBoosted    = "HX-Boosted"     // request: an hx-boost navigation ("true")
	hxCurrentURL = "HX-Current-URL" // request: the browser's URL when the request was made
	hxTarget     = "HX-Target"      // request: id of the target element
	hxTrigger    = "HX-Trigger"     // request: id of the triggering element; response: events to fire
	hxRedirect   = "HX-Redirect"    // response: a full navigation to this URL
	hxRefresh    = "HX-Refresh"     // response: reload the whole page ("true")
	hxPushURL    = "HX-Push-Url"    // response: push this URL into the history
	hxRetarget   = "HX-Retarget"    // response: swap into this CSS selector instead
	hxReswap     = "HX-Reswap"      // response: swap style instead of the element's hx-swap
)

// HTMX is what an htmx request says about itself (the typed request headers, as pagoda's
// htmx.Request). The zero value is a plain browser request.
type HTMX struct {
	// Request: htmx sent the request (boosted or not).
	Request bool
	// Boosted: an hx-boost navigation, which wants the whole page.
	Boosted bool
	// CurrentURL is the browser's URL when htmx made the request ("" when not sent).
	CurrentURL string
	// Target and Trigger are the ids of the target and the triggering elements ("" = none).
	Target, Trigger string
}

// HTMXOf reads the htmx request headers of c.
func HTMXOf(c *fiber.Ctx) HTMX {
	if c.Get(hxRequest) != "true" {
		return HTMX{}
	}
	return HTMX{Request: true, Boosted: c.Get(hxBoosted) == "true", CurrentURL: c.Get(hxCurrentURL),
		Target: c.Get(hxTarget), Trigger: c.Get(hxTrigger)}
}

// Fragment reports whether the request wants a fragment: htmx and not a boosted navigation.
func (h HTMX) Fragment() bool { return h.Request && !h.Boosted }

// HTMXResponse is the htmx response headers one answer sets (as pagoda's htmx.Response); empty
// fields are not sent.
type HTMXResponse struct {
	// Redirect makes htmx navigate the whole page to this URL.
	Redirect string
	// Refresh makes htmx reload the page.
	Refresh bool
	// Trigger names the event (or a JSON object of events) htmx fires after the swap.
	Trigger string
	// PushURL is pushed into the browser history.
	PushURL string
	// Retarget and Reswap override the element's hx-target and hx-swap.
	Retarget, Reswap string
}

// Apply sets the response headers on c.
func (r HTMXResponse) Apply(c *fiber.Ctx) {
	for _, h := range [...]struct{ name, value string }{
		{hxRedirect, r.Redirect}, {hxTrigger, r.Trigger}, {hxPushURL, r.PushURL},
		{hxRetarget, r.Retarget}, {hxReswap, r.Reswap},
	} {
		if h.value != "" {
			c.Set(h.name, h.value)
		}
	}
	if r.Refresh {
		c.Set(hxRefresh, "true")
	}
}

// IsHTMX reports whether the request wants a fragment: HX-Request set and not a boosted navigation.
func IsHTMX(c *fiber.Ctx) bool { return HTMXOf(c).Fragment() }

// HTMXRequest reports whether htmx sent the request at all (boosted or not).
func HTMXRequest(c *fiber.Ctx) bool { return c.Get(hxRequest) == "true" }

// VaryHTMX marks a response that differs by HX-Request (caches must key on it).
func VaryHTMX(c *fiber.Ctx) { c.Vary(hxRequest) }

// TriggerEvent asks htmx to fire event name on the page after this response (HX-Trigger).
func TriggerEvent(c *fiber.Ctx, name string) { HTMXResponse{Trigger: name}.Apply(c) }

// Navigate sends the browser to target: 303 See Other for a plain request; for htmx an
// HX-Redirect (a full navigation, never a page swapped into a fragment) with htmxStatus (204
// after a successful action, 401 when a sign-in is needed).
func Navigate(c *fiber.Ctx, target string, htmxStatus int) error {
	if HTMXRequest(c) {
		HTMXResponse{Redirect: target}.Apply(c)
		return c.SendStatus(htmxStatus)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}
