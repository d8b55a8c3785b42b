package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks test vector (spec and its libraries' tests): the same secret, id,
// timestamp and body give the same signature.
func TestSignKnownAnswer(t *testing.T) {
	h, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get(HeaderSignature); got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("signature %q", got)
	}
	if h.Get(HeaderTimestamp) != "1614265330" || h.Get(HeaderID) != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Errorf("headers %v", h)
	}
}

// A fresh secret signs what the spec's algorithm (HMAC-SHA256 over "id.timestamp.body" with the
// base64-decoded key) and the library's Verify accept; a changed body or another secret fails.
func TestSignVerifies(t *testing.T) {
	secret := NewSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) != 32 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(key), err)
	}
	body := []byte(`{"type":"ticket.created"}`)
	id, now := NewMessageID(), time.Now()
	h, err := Sign(secret, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + h.Get(HeaderTimestamp) + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get(HeaderSignature) != want {
		t.Errorf("signature %q, the spec's algorithm gives %q", h.Get(HeaderSignature), want)
	}
	if err := Verify(secret, body, h); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := Verify(secret, []byte(`{"type":"ticket.closed"}`), h); err == nil {
		t.Error("a changed body verified")
	}
	if err := Verify(NewSecret(), body, h); err == nil {
		t.Error("another secret verified")
	}
	if !strings.HasPrefix(id, "msg_") || len(id) != 30 || id == NewMessageID() {
		t.Errorf("message id %q", id)
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	r := fakeResolver{
		"hooks.example.com": {netip.MustParseAddr("93.184.215.14")},
		"internal.example":  {netip.MustParseAddr("10.1.2.3")},
		"mixed.example":     {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("192.168.1.1")},
		"v6.example":        {netip.MustParseAddr("2606:2800:220:1:248:1893:25c8:1946")},
		"metadata.example":  {netip.MustParseAddr("169.254.169.254")},
	}
	for raw, want := range map[string]string{
		"https://hooks.example.com/portico":        "",
		"http://hooks.example.com:8443/x?y=1":      "",
		"https://v6.example/":                      "",
		"  https://hooks.example.com/trimmed  ":    "",
		"https://93.184.215.14/":                   "",
		"ftp://hooks.example.com/":                 URLScheme,
		"file:///etc/passwd":                       URLScheme,
		"javascript:alert(1)":                      URLScheme,
		"gopher://hooks.example.com/":              URLScheme,
		"hooks.example.com/path":                   URLInvalid,
		"https://":                                 URLInvalid,
		"https://user:pw@hooks.example.com/":       URLCredentials,
		"https://nowhere.example/":                 URLUnresolvable,
		"https://internal.example/":                URLPrivate,
		"https://mixed.example/":                   URLPrivate,
		"https://metadata.example/":                URLPrivate,
		"http://127.0.0.1:8080/":                   URLPrivate,
		"http://[::1]/":                            URLPrivate,
		"http://[::ffff:127.0.0.1]/":               URLPrivate,
		"http://169.254.169.254/latest/meta-data/": URLPrivate,
		"http://10.0.0.5/":                         URLPrivate,
		"http://172.16.0.1/":                       URLPrivate,
		"http://192.168.0.10/":                     URLPrivate,
		"http://100.64.0.1/":                       URLPrivate, // CGNAT
		"http://224.0.0.1/":                        URLPrivate, // multicast
		"http://0.0.0.0/":                          URLPrivate, // unspecified
		"http://[fe80::1]/":                        URLPrivate, // link-local
		"http://[fd00::1]/":                        URLPrivate, // unique local
		"https://" + strings.Repeat("a", 2000):     URLTooLong,
	} {
		got, err := CheckURL(context.Background(), raw, false, r)
		var ue *URLError
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", raw, err)
		case want != "" && (!errors.As(err, &ue) || ue.Reason != want):
			t.Errorf("%q: %v, want %s", raw, err, want)
		case want == "" && got != strings.TrimSpace(raw):
			t.Errorf("%q normalised to %q", raw, got)
		}
	}
	// Allowed private addresses still need http(s).
	if _, err := CheckURL(context.Background(), "http://127.0.0.1:9/", true, r); err != nil {
		t.Errorf("private allowed: %v", err)
	}
	if _, err := CheckURL(context.Background(), "ftp://127.0.0.1/", true, r); err == nil {
		t.Error("ftp allowed with private addresses on")
	}
}

// The dial-time guard: whatever the URL says and whatever DNS answers, a connection to a
// loopback address is refused (here "localhost", which resolves to 127.0.0.1 or ::1, standing
// in for a name rebound after it was checked), and no redirect is followed.
func TestClientRefusesPrivateAtDialTime(t *testing.T) {
	hit := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit++
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port + "/"} {
		_, err := NewClient(2*time.Second, false).Post(u, "application/json", strings.NewReader("{}"))
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if hit != 0 {
		t.Fatalf("the receiver was reached %d times", hit)
	}
	c := NewClient(2*time.Second, true)
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("allowed: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = c.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode != http.StatusFound || hit != 2 {
		t.Fatalf("redirect: %v %v, %d hits (a followed redirect makes 3)", resp, err, hit)
	}
	resp.Body.Close()
}
