package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Redirect answers a successful POST: 303 to target, or HX-Redirect for htmx (a full navigation).
func Redirect(c *fiber.Ctx, target string) error {
	return Navigate(c, target, fiber.StatusNoContent)
}

// LoginRedirect sends an unauthenticated request to the sign-in page, keeping return_to. For
// htmx it answers HX-Redirect (never a login form swapped into a fragment).
func LoginRedirect(c *fiber.Ctx, expired bool) error {
	q := url.Values{}
	ret := c.OriginalURL()
	if hx := HTMXOf(c); hx.Request {
		if cu := hx.CurrentURL; cu != "" {
			if u, err := url.Parse(cu); err == nil {
				ret = u.RequestURI()
			}
		}
	}
	if c.Method() == fiber.MethodGet || HTMXRequest(c) {
		if LocalPath(ret) {
			q.Set("return_to", ret)
		}
	}
	if expired {
		q.Set("expired", "1")
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return Navigate(c, target, fiber.StatusUnauthorized)
}

// LocalPath reports whether p is a path on this site: it starts with one "/", has no scheme,
// host, backslash or control characters (open-redirect defence, OWASP Unvalidated Redirects).
func LocalPath(p string) bool {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == ""
}
