package server

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"portico/sql/store/storetest"
)

// TestPubSubNamespacedPerDeployment: two deployments share one Redis server with the same key
// prefix but different database numbers (issue 11). Redis pub/sub ignores database numbers, so
// only the channel names keep them apart: neither hears the other's live updates or settings
// notices, and each still hears its own.
func TestPubSubNamespacedPerDeployment(t *testing.T) {
	ctx := context.Background()
	prefix := "portico-test:" + storetest.RandHex(6) + ":" // the same for both deployments
	a := newTestServerWithPrefix(t, nil, prefix)
	opt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	other := *opt
	other.DB = 15 // another database on the same server (keys stay under the random prefix)
	if opt.DB == 15 {
		other.DB = 14
	}
	b := newTestServerOn(t, nil, prefix, redis.NewClient(&other))
	if ChannelPrefix(a.Redis, prefix) == ChannelPrefix(b.Redis, prefix) {
		t.Fatalf("both deployments use channels %q", ChannelPrefix(a.Redis, prefix))
	}

	// Listen to everything deployment A's instances listen to.
	ps := a.Redis.PSubscribe(ctx, ChannelPrefix(a.Redis, prefix)+"*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	ch := ps.Channel()

	// Deployment B announces a ticket change and a settings change...
	b.Handlers.Live.Publish(ctx, 1)
	if err := b.publishSettingsChanged(ctx); err != nil {
		t.Fatal(err)
	}
	// ...then A announces a change of its own and a marker: A must hear exactly these two.
	a.Handlers.Live.Publish(ctx, 1)
	marker := ChannelPrefix(a.Redis, prefix) + "marker"
	if err := a.Redis.Publish(ctx, marker, "end").Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{ChannelPrefix(a.Redis, prefix) + "ticket:1", marker} {
		select {
		case m := <-ch:
			if m.Channel != want {
				t.Fatalf("deployment A heard %q (%q), want %q", m.Channel, m.Payload, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("deployment A did not hear %q", want)
		}
	}
}
