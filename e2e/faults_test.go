package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"portico/server"
	"portico/sql/store/storetest"
)

// TestReplyKeptWhileRedisIsDown (issue 11): in real Chromium, Redis goes down (through an
// in-process toxiproxy; the shared Redis keeps running) while a customer types a reply. Sending
// it shows the translated "temporarily unavailable" message beside the form, the text stays in
// the box, the page is not replaced by the sign-in page; when Redis is back, the same session
// sends the same text without a sign-in or a reload.
func TestReplyKeptWhileRedisIsDown(t *testing.T) {
	ropt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), "redis", "127.0.0.1:0", ropt.Addr)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	opt, err := server.RedisOptions(storetest.RedisURL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	opt.Addr = proxy.Listen
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	p := startPortal(t, func(o *server.Options) { o.Redis = rdb })

	b := newBrowser(t, p.URL, browserOptions{})
	b.navigate("/login")
	signIn(b, p.Std.AliceEmail, p.Std.Password)
	ticket := fmt.Sprintf("/tickets/%d", p.Std.AliceOpen)
	b.navigate(ticket)
	b.waitHTMX()
	reply := "Typed while Redis was away, sent when it came back."
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), reply))

	proxy.Stop() // Redis is gone: connections closed, new ones refused
	b.do("send the reply", chromedp.Click(chromedp.CSS("#reply-send")))
	b.visible("#reply-form .request-error")
	if got := b.text("#reply-form .request-error"); !strings.Contains(got, "still signed in") {
		t.Fatalf("message beside the form = %q, want the translated unavailable text", got)
	}
	if got := run(b, "read the reply box", chromedp.Evaluate[string](`document.querySelector("#reply-body").value`)); got != reply {
		t.Fatalf("reply box holds %q, want the typed text kept", got)
	}
	if loc := b.location(); loc != ticket {
		t.Fatalf("during the outage the browser went to %q", loc)
	}
	var n int
	if err := p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE body = $1`, reply).Scan(&n); err != nil || n != 0 {
		t.Fatalf("stored during the outage: %d %v", n, err)
	}

	if err := proxy.Start(); err != nil { // Redis is back
		t.Fatal(err)
	}
	b.do("send the reply again", chromedp.Click(chromedp.CSS("#reply-send")))
	b.waitUntil("the reply shows and the box is empty", `(reply) =>
		[...document.querySelectorAll("#messages .message-body")].some(m => m.textContent.trim() === reply) &&
		document.querySelector("#reply-body")?.value === ""`, reply)
	if loc := b.location(); loc != ticket {
		t.Fatalf("after recovery the browser is on %q, want %q (still signed in)", loc, ticket)
	}
}
