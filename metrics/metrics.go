// Package metrics holds Portico's Prometheus metrics (github.com/prometheus/client_golang):
// the process-wide counters other packages move through small functions (DependencyError,
// SignIn, Mail, RateLimited, LiveStream), the HTTP middleware that times every request by
// route pattern, and collectors that read the PostgreSQL pool, the Redis pool and the River
// job table at scrape time. The server serves a Registry on its own listen address
// (PORTICO_METRICS_ADDR); README "Operations" lists every series.
package metrics

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every Portico series.
const Namespace = "portico"

var (
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time from the request's arrival to its response, in seconds, by route pattern (never the raw path), method and status class (2xx…5xx).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "status"})
	inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "Requests being served now (open live-update streams included).",
	})
	liveStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "live_streams_open",
		Help: "Open live-update (server-sent events) streams.",
	})
	dependencyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "dependency_errors_total",
		Help: "Requests answered 503 because a dependency failed or did not answer in time, by kind (postgres, redis, blob, timeout, network).",
	}, []string{"kind"})
	signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "sign_ins_total",
		Help: "Sign-in attempts by method (password, link, sso (any provider: the log names it), staff_password, staff_totp) and outcome (success, refused, limited, denied).",
	}, []string{"method", "outcome"})
	mails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "mails_total",
		Help: "Outbound mail delivery attempts by outcome (sent, failed: a failed attempt is retried until the job gives up).",
	}, []string{"outcome"})
	rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rate_limit_refusals_total",
		Help: "Requests refused by a rate limit, by limit (signin-acct, signin-ip, mail-acct, mail-ip).",
	}, []string{"limit"})
)

// Outcomes of a sign-in (SignIn).
const (
	Success = "success" // a session was opened (or, for staff_password with TOTP on, the code step reached)
	Refused = "refused" // wrong credentials, invalid token or assertion
	Limited = "limited" // refused by a rate limit before checking
	Denied  = "denied"  // valid credentials, but not allowed in (access groups)
)

// collectors are the process-wide series every Registry includes.
var collectors = []prometheus.Collector{requestDuration, inFlight, liveStreams, dependencyErrors, signIns, mails, rateLimited}

func init() {
	// The label values known in advance start at 0, so that rate() and absent() work from the
	// first scrape on.
	for _, k := range []string{"postgres", "redis", "blob"} {
		dependencyErrors.WithLabelValues(k)
	}
	for _, o := range []string{"sent", "failed"} {
		mails.WithLabelValues(o)
	}
}

// NewRegistry returns a registry holding Portico's process-wide series, the Go runtime and
// process collectors, and extra (an instance's pool and queue collectors).
func NewRegistry(extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	reg.MustRegister(collectors...)
	reg.MustRegister(extra...)
	return reg
}

// DependencyError counts one request that failed because a dependency did (kind: "postgres",
// "redis", "blob", or "timeout"/"network" when the error names no single dependency). The
// error table calls it for every 503 it answers for a dependency.
func DependencyError(kind string) {
	if kind == "" {
		kind = "unknown"
	}
	dependencyErrors.WithLabelValues(kind).Inc()
}

// SignIn counts one sign-in attempt by method and outcome (Success, Refused, Limited, Denied).
func SignIn(method, outcome string) { signIns.WithLabelValues(method, outcome).Inc() }

// Mail counts one delivery attempt of an outbound mail: sent (true) or failed.
func Mail(sent bool) {
	if sent {
		mails.WithLabelValues("sent").Inc()
	} else {
		mails.WithLabelValues("failed").Inc()
	}
}

// RateLimited counts one request refused by the named limit.
func RateLimited(limit string) { rateLimited.WithLabelValues(limit).Inc() }

// LiveStream counts a live-update stream opening (+1) or closing (-1).
func LiveStream(delta int) { liveStreams.Add(float64(delta)) }

// Middleware times every request: the duration histogram by route pattern (Fiber's matched
// route, c.Route().Path, never the raw path, so ids and tokens never become labels), method
// and status class, and the in-flight gauge. Place it before the middleware that turns
// errors into responses (the access log), so the status it sees is the one sent.
func Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		inFlight.Inc()
		start := time.Now()
		defer func() {
			inFlight.Dec()
			requestDuration.WithLabelValues(routeOf(c), c.Method(), statusClass(c.Response().StatusCode())).
				Observe(time.Since(start).Seconds())
		}()
		return c.Next()
	}
}

// routeOf is the route pattern that answered c ("/tickets/:id", "/static" for static files,
// "/tickets" when the group's guard answered), or "unmatched" when only the catch-all
// middleware at "/" ran (a 404). Only registered patterns become labels, so the label set is
// bounded whatever paths clients send.
func routeOf(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || len(r.Handlers) == 0 || (r.Path == "/" && c.Path() != "/") || r.Path == "" {
		return "unmatched"
	}
	return r.Path
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "unknown"
	}
	return strconv.Itoa(code/100) + "xx"
}
