package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5/pgxpool"

	"portico/config"
	"portico/sql/store/storetest"
)

// instance is one Portico process of a deployment: a Server serving on a real port until stop.
type instance struct {
	*testServer
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startInstance starts an instance of the deployment (pool, Redis prefix) on addr
// ("127.0.0.1:0" for a fresh port, or the port of the instance it replaces).
func startInstance(t *testing.T, pool *pgxpool.Pool, prefix, addr string) *instance {
	t.Helper()
	ts := newTestServerWithPrefix(t, pool, prefix)
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the port of the instance it replaces frees at once on Linux; retry if not
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{testServer: ts, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- ts.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-in.done
	})
	return in
}

// stop is SIGTERM: it returns when the instance has drained.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("instance %s stopped with %v", in.addr, err)
		}
		in.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("instance %s did not stop", in.addr)
	}
}

// balancer is a tiny round-robin reverse proxy, as a load balancer in front of the instances:
// it health-checks each backend's /readyz every 50 ms and sends requests only to ready ones,
// and when a connection to a backend is refused it tries the next one (the request never
// reached the refusing backend, so that is safe for a POST too).
type balancer struct {
	backends []string
	ready    []atomic.Bool
	next     atomic.Uint64
	served   []atomic.Int64
	tr       *http.Transport
}

func newBalancer(t *testing.T, backends ...string) (*balancer, *httptest.Server) {
	b := &balancer{backends: backends, ready: make([]atomic.Bool, len(backends)), served: make([]atomic.Int64, len(backends)),
		tr: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx, cancel := context.WithCancel(context.Background())
	check := &http.Client{Timeout: time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, addr := range b.backends {
				resp, err := check.Get("http://" + addr + "/readyz")
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					resp.Body.Close()
				}
				b.ready[i].Store(ok)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		b.tr.CloseIdleConnections()
	})
	return b, srv
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	start := int(b.next.Add(1))
	var lastErr error
	for attempt := 0; attempt < 2*len(b.backends); attempt++ {
		i := (start + attempt) % len(b.backends)
		if !b.ready[i].Load() && attempt < len(b.backends) {
			continue // first round: ready backends only; then anyone that accepts
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+b.backends[i]+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := b.tr.RoundTrip(out)
		if err != nil {
			lastErr = err
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // never reached the backend: try the next one
			}
			break
		}
		b.served[i].Add(1)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, fmt.Sprintf("no backend: %v", lastErr), http.StatusBadGateway)
}

// A rolling restart of two instances under steady load loses no request: each instance in
// turn gets SIGTERM (readiness fails, the balancer moves away, the listener closes, in-flight
// requests finish, the job workers stop), and a new one takes its port. Four clients read the
// ticket list, a ticket and the knowledge base and post replies throughout; every request must
// succeed, and every reply answered as stored must be stored exactly once.
func TestRollingRestartLosesNoRequest(t *testing.T) {
	testConfigHook = func(c *config.Config) { c.ShutdownDelay = 300 * time.Millisecond; c.ShutdownTimeout = 10 * time.Second }
	t.Cleanup(func() { testConfigHook = nil })
	pool := storetest.NewDB(t)
	fx := storetest.MustStandard(t, pool)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	a := startInstance(t, pool, prefix, "127.0.0.1:0")
	b := startInstance(t, pool, prefix, "127.0.0.1:0")
	lb, front := newBalancer(t, a.addr, b.addr)
	waitReady := func(i int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !lb.ready[i].Load(); {
			if time.Now().After(deadline) {
				t.Fatalf("backend %d never became ready", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitReady(0)
	waitReady(1)

	// Alice signs in through the balancer; her session lives in Redis, shared by every instance.
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfOf := func(path string) string {
		t.Helper()
		resp, err := cl.Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := doc.Find(`input[name=_csrf]`).First().Attr("value")
		return v
	}
	form := url.Values{"email": {fx.AliceEmail}, "password": {fx.Password}, "_csrf": {csrfOf("/login")}}
	resp, err := cl.PostForm(front.URL+"/login", form)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %v %v", err, resp)
	}
	resp.Body.Close()
	csrf := csrfOf("/tickets")
	ticket := front.URL + ticketPath(fx.AliceOpen)

	var total, failed, replies atomic.Int64
	var errMu sync.Mutex
	var failures []string
	fail := func(s string) {
		failed.Add(1)
		errMu.Lock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
		errMu.Unlock()
	}
	stop := make(chan struct{})
	var load sync.WaitGroup
	for w := range 4 {
		load.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *http.Request
				switch (n + w) % 4 {
				case 0:
					req, _ = http.NewRequest(http.MethodGet, front.URL+"/tickets", nil)
				case 1:
					req, _ = http.NewRequest(http.MethodGet, ticket, nil)
				case 2:
					req, _ = http.NewRequest(http.MethodGet, front.URL+"/kb", nil)
				case 3:
					text := fmt.Sprintf("rolling reply %d-%d", w, n)
					req, _ = http.NewRequest(http.MethodPost, ticket+"/replies", strings.NewReader(url.Values{"body": {text}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("HX-Request", "true")
					req.Header.Set("X-CSRF-Token", csrf)
				}
				total.Add(1)
				resp, err := cl.Do(req)
				if err != nil {
					fail(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Sprintf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode))
				} else if req.Method == http.MethodPost {
					replies.Add(1)
				}
			}
		})
	}
	waitServed := func(i int, n int64) {
		t.Helper()
		base := lb.served[i].Load()
		for deadline := time.Now().Add(20 * time.Second); lb.served[i].Load() < base+n; {
			if time.Now().After(deadline) {
				t.Fatalf("backend %d served %d requests, want %d more", i, lb.served[i].Load()-base, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitServed(0, 40)
	waitServed(1, 40)
	// Roll: stop A under load, start its replacement on the same port, wait until it serves;
	// then the same for B.
	for i, in := range []*instance{a, b} {
		in.stop(t)
		startInstance(t, pool, prefix, in.addr)
		waitReady(i)
		waitServed(i, 40)
	}
	close(stop)
	load.Wait()

	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the rolling restart, e.g. %v", failed.Load(), total.Load(), failures)
	}
	var stored int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE body LIKE 'rolling reply %'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != replies.Load() {
		t.Fatalf("%d replies answered 200, %d stored", replies.Load(), stored)
	}
	t.Logf("rolling restart of 2 instances: %d requests (%d replies), 0 failed", total.Load(), replies.Load())
}

// On SIGTERM an open live-update stream is told to reconnect (a short retry hint) and ends, so
// the browser's EventSource reconnects through the load balancer to an instance that stays.
func TestShutdownEndsLiveStreamsWithRetryHint(t *testing.T) {
	pool := storetest.NewDB(t)
	fx := storetest.MustStandard(t, pool)
	in := startInstance(t, pool, "portico-test:"+storetest.RandHex(6)+":", "127.0.0.1:0")
	select {
	case <-in.Handlers.Live.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("live updates never subscribed")
	}
	c := in.client()
	c.signIn(fx.AliceEmail, fx.Password)
	req, _ := http.NewRequest(http.MethodGet, "http://"+in.addr+ticketPath(fx.AliceOpen)+"/events", nil)
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if l := <-lines; !strings.HasPrefix(l, "retry:") { // the stream's first event
		t.Fatalf("first line %q", l)
	}
	stopped := make(chan struct{})
	go func() { in.stop(t); close(stopped) }()
	var got []string
	for l := range lines { // ends when the server closes the stream
		got = append(got, l)
	}
	if !contains(got, "retry: 250") {
		t.Fatalf("stream ended without a reconnect hint: %q", got)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not finish after the stream ended")
	}
}
