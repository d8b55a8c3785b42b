package auth

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestLimiterFixedWindow(t *testing.T) {
	url := os.Getenv("PORTICO_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", url, err)
	}
	l := NewLimiter(rdb, "portico-test:rl:"+NewToken()[:8]+":")
	lim := Limit{Name: "t", Max: 2, Window: 300 * time.Millisecond}
	sub := AccountKey("Someone@Example.test")
	if sub != AccountKey(" someone@example.test ") {
		t.Error("account key not normalised")
	}
	defer l.Reset(ctx, lim, sub)
	for i := range 2 {
		if d, _ := l.Blocked(ctx, lim, sub); d != 0 {
			t.Fatalf("blocked after %d hits", i)
		}
		if _, err := l.Hit(ctx, lim, sub); err != nil {
			t.Fatal(err)
		}
	}
	d, err := l.Blocked(ctx, lim, sub)
	if err != nil || d <= 0 || d > lim.Window {
		t.Fatalf("after 2 hits: wait %v %v", d, err)
	}
	if Minutes(d) != 1 || Minutes(61*time.Second) != 2 {
		t.Error("Minutes rounds up to whole minutes")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if d, _ := l.Blocked(ctx, lim, sub); d == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("window never ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
