package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"portico/metrics"
	"portico/sql/store/storetest"
)

// metricValue is the value of series name with labels (a subset) in ts's registry: a counter's
// or gauge's value, a histogram's sample count; found reports whether the series exists.
func metricValue(t *testing.T, ts *testServer, name string, labels map[string]string) (v float64, found bool) {
	t.Helper()
	families, err := ts.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, want := range labels {
				if have[k] != want {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v += m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v += m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				v += float64(m.GetHistogram().GetSampleCount())
			}
			found = true
		}
	}
	return v, found
}

// The series README documents are exposed on /metrics, and they move: a request adds to its
// route's histogram (by pattern, never the raw path), a wrong password and a rate-limit refusal
// count, a queued mail raises the queue depth.
func TestMetricsExistAndMove(t *testing.T) {
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()

	// The exposition itself, as Prometheus scrapes it.
	rec := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	for _, name := range []string{"portico_http_requests_in_flight", "portico_live_streams_open",
		`portico_dependency_errors_total{kind="redis"}`, `portico_mails_total{outcome="failed"}`,
		"pgxpool_total_conns", "pgxpool_acquired_conns", "portico_redis_pool_conns", "portico_redis_pool_timeouts_total",
		`portico_jobs{state="available"}`, `portico_jobs{state="discarded"}`, "go_goroutines"} {
		if !strings.Contains(rec.Body.String(), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	route := map[string]string{"route": "/kb/:slug", "method": "GET", "status": "4xx"}
	before, _ := metricValue(t, ts, "portico_http_request_duration_seconds", route)
	c.get("/kb/no-such-article", false)
	after, _ := metricValue(t, ts, "portico_http_request_duration_seconds", route)
	if after != before+1 {
		t.Errorf("histogram %v: %v → %v", route, before, after)
	}
	if _, found := metricValue(t, ts, "portico_http_request_duration_seconds", map[string]string{"route": "/kb/no-such-article"}); found {
		t.Error("a raw path became a label")
	}
	c.get("/no/such/page/"+storetest.RandHex(4), false)
	if v, _ := metricValue(t, ts, "portico_http_request_duration_seconds", map[string]string{"route": "unmatched", "status": "4xx"}); v < 1 {
		t.Errorf("404 not counted as unmatched: %v", v)
	}

	refused := map[string]string{"method": "password", "outcome": metrics.Refused}
	limited := map[string]string{"method": "password", "outcome": metrics.Limited}
	refusals := map[string]string{"limit": "signin-acct"}
	r0, _ := metricValue(t, ts, "portico_sign_ins_total", refused)
	l0, _ := metricValue(t, ts, "portico_sign_ins_total", limited)
	rl0, _ := metricValue(t, ts, "portico_rate_limit_refusals_total", refusals)
	ts.Handlers.Limits.SigninAccount.Max = 1
	c.get("/login", false)
	c.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {"wrong"}}, false)
	if resp, _ := c.post("/login", url.Values{"email": {fx.AliceEmail}, "password": {"wrong"}}, false); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second wrong password: %d, want 429", resp.StatusCode)
	}
	r1, _ := metricValue(t, ts, "portico_sign_ins_total", refused)
	l1, _ := metricValue(t, ts, "portico_sign_ins_total", limited)
	rl1, _ := metricValue(t, ts, "portico_rate_limit_refusals_total", refusals)
	if r1 != r0+1 || l1 != l0+1 || rl1 != rl0+1 {
		t.Errorf("refused %v→%v, limited %v→%v, rate-limit refusals %v→%v", r0, r1, l0, l1, rl0, rl1)
	}

	depth := map[string]string{"state": "available"}
	d0, _ := metricValue(t, ts, "portico_jobs", depth)
	c.get("/password/forgot", false)
	c.post("/password/forgot", url.Values{"email": {fx.BobEmail}}, false) // queues a mail job (workers not started)
	d1, _ := metricValue(t, ts, "portico_jobs", depth)
	if d1 != d0+1 {
		t.Errorf("queue depth %v → %v after a reset request", d0, d1)
	}
}

// A Redis outage (the connection through toxiproxy refused) is counted by the dependency-error
// counter as kind redis, beside the 503 it answers; the count stops once Redis is back.
func TestMetricsCountRedisFault(t *testing.T) {
	r := newFaultRig(t)
	c := r.ts.client()
	c.signIn(r.std.AliceEmail, r.std.Password)
	kind := map[string]string{"kind": "redis"}
	before, _ := metricValue(t, r.ts, "portico_dependency_errors_total", kind)
	restore := down(t, r.redis)
	resp := c.do(httptest.NewRequest(http.MethodGet, "/tickets", nil))
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /tickets with Redis down: %d", resp.StatusCode)
	}
	during, _ := metricValue(t, r.ts, "portico_dependency_errors_total", kind)
	if during < before+1 {
		all, _ := metricValue(t, r.ts, "portico_dependency_errors_total", nil)
		t.Fatalf("redis dependency errors %v → %v (all kinds: %v)", before, during, all)
	}
	restore()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp := c.do(httptest.NewRequest(http.MethodGet, "/tickets", nil))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /tickets after Redis came back: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after, _ := metricValue(t, r.ts, "portico_dependency_errors_total", kind)
	resp = c.do(httptest.NewRequest(http.MethodGet, "/tickets", nil))
	resp.Body.Close()
	if again, _ := metricValue(t, r.ts, "portico_dependency_errors_total", kind); again != after {
		t.Errorf("a healthy request counted a dependency error: %v → %v", after, again)
	}
}
