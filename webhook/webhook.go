// Package webhook holds what Portico's webhooks (issue 17.3) need besides the store and the job
// queue: the event names, the signing of deliveries in the Standard Webhooks style (through the
// spec's own Go library, github.com/standard-webhooks/standard-webhooks/libraries), and the
// guard against server-side request forgery (code.dny.dev/ssrf): a URL is checked when an admin
// saves it, and every connection is checked again when it is dialled, so a name that later
// resolves to a private address (DNS rebinding) is still refused.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"code.dny.dev/ssrf"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Event names an admin may subscribe to.
const (
	TicketCreated      = "ticket.created"
	MessageAdded       = "message.added"
	TicketStageChanged = "ticket.stage_changed"
	TicketClosed       = "ticket.closed"
	SatisfactionRated  = "satisfaction.rated"
	ContactCreated     = "contact.created"
	// Test is the event of the console's "Send test event" button (never subscribed to).
	Test = "webhook.test"
)

// Events are the subscribable events in the console's order.
var Events = []string{TicketCreated, MessageAdded, TicketStageChanged, TicketClosed, SatisfactionRated, ContactCreated}

// Signing headers of the Standard Webhooks specification.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

var base32Enc = base32.StdEncoding

// SecretPrefix starts every signing secret (Standard Webhooks: "whsec_" + base64).
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: SecretPrefix + standard base64 of 32 random bytes
// (the spec asks for 24 to 64 bytes).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SecretHint returns the start of a secret shown in the console to tell secrets apart.
func SecretHint(secret string) string {
	if len(secret) <= len(SecretPrefix)+4 {
		return secret
	}
	return secret[:len(SecretPrefix)+4] + "…"
}

// NewMessageID returns a new webhook-id: "msg_" + 26 characters of lowercase base32 (128 random
// bits). The same id is sent on every retry of one message, so a receiver can drop duplicates.
func NewMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "msg_" + strings.ToLower(strings.TrimRight(base32Enc.EncodeToString(b), "="))
}

// Sign returns the three signing headers for body sent as message id at time at with secret
// (webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"). Errors: a malformed secret.
func Sign(secret, id string, at time.Time, body []byte) (http.Header, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
	h.Set(HeaderSignature, sig)
	return h, nil
}

// Verify checks body and its signing headers against secret as a receiver does (the spec's
// library: signature, and a timestamp within five minutes). Errors: the library's.
func Verify(secret string, body []byte, h http.Header) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(body, h)
}

// MaxURLLength is the longest URL accepted, in bytes.
const MaxURLLength = 2000

// URL refusals, each a message id of the translation catalogue.
const (
	URLInvalid       = "WebhookURLInvalid"      // not an absolute http(s) URL with a host
	URLScheme        = "WebhookURLScheme"       // another scheme (ftp:, file:, gopher:…)
	URLCredentials   = "WebhookURLCredentials"  // user:password@ in the URL
	URLUnresolvable  = "WebhookURLUnresolvable" // the host name does not resolve
	URLPrivate       = "WebhookURLPrivate"      // resolves to a private, loopback… address
	URLTooLong       = "WebhookURLTooLong"      // longer than MaxURLLength
	resolveTimeout   = 5 * time.Second
	defaultUserAgent = "Portico-Webhooks/1"
)

// URLError is a refused URL; Reason is one of the URL… message ids.
type URLError struct {
	Reason string
	Err    error
}

func (e *URLError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *URLError) Unwrap() error { return e.Err }

// guard refuses the IANA special-purpose ranges: private (RFC 1918), loopback, link-local
// (169.254/16, fe80::/10), shared address space (CGNAT, 100.64/10), multicast, unspecified,
// documentation and reserved ranges, and every IPv6 address outside global unicast (which
// includes IPv4-mapped ::ffff:127.0.0.1). Any port is allowed: receivers often listen on 8443.
var guard = ssrf.New(ssrf.WithAnyPort())

// AddrAllowed reports whether a connection to ip may be made while private addresses are
// not allowed.
func AddrAllowed(ip netip.Addr) bool { return guard.SafeAddr(ip) == nil }

// Resolver looks up a host's addresses (net.DefaultResolver in production).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL validates raw as a webhook URL and returns it normalised (trimmed): an absolute
// http or https URL with a host and no credentials, at most MaxURLLength bytes; unless
// allowPrivate, every address its host resolves to (with r; nil = net.DefaultResolver) must be
// public. Errors: *URLError.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, r Resolver) (string, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > MaxURLLength {
		return raw, &URLError{Reason: URLTooLong}
	}
	u, err := url.Parse(raw)
	if err != nil || !utf8.ValidString(raw) {
		return raw, &URLError{Reason: URLInvalid, Err: err}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return raw, &URLError{Reason: URLInvalid}
	default:
		return raw, &URLError{Reason: URLScheme}
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return raw, &URLError{Reason: URLInvalid}
	}
	if u.User != nil {
		return raw, &URLError{Reason: URLCredentials}
	}
	if allowPrivate {
		return raw, nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if r == nil {
			r = net.DefaultResolver
		}
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		addrs, err = r.LookupNetIP(rctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return raw, &URLError{Reason: URLUnresolvable, Err: err}
		}
	}
	for _, ip := range addrs {
		if !AddrAllowed(ip.Unmap()) || !AddrAllowed(ip) {
			return raw, &URLError{Reason: URLPrivate, Err: fmt.Errorf("%s resolves to %s", host, ip)}
		}
	}
	return raw, nil
}

// ErrRefused wraps a connection the SSRF guard refused at dial time.
var ErrRefused = errors.New("address not allowed")

// NewClient returns the HTTP client deliveries use: each request bounded by timeout, no proxy
// from the environment, no redirects followed (a 3xx is the answer), and, unless allowPrivate,
// every dialled address checked by the SSRF guard (after DNS resolution, so rebinding cannot
// bypass it).
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, c syscall.RawConn) error {
			if err := guard.Safe(network, address, c); err != nil {
				return fmt.Errorf("%w: %w", ErrRefused, err)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Timeout: timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// UserAgent is the User-Agent of deliveries.
const UserAgent = defaultUserAgent
