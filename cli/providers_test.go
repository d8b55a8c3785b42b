package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portico/auth/providers/providertest"
	"portico/sql/store/storetest"
)

// jwtSecret is a strong enough HS256 shared secret.
const jwtSecret = "0123456789abcdef0123456789abcdef-portico"

func TestCLIProviders(t *testing.T) {
	pool := storetest.NewDB(t)
	dbURL := pool.Config().ConnString()
	if _, _, err := runCLI(t, dbURL, "short\n", "provider", "add", "jwt", "--name", "App", "--alg", "HS256", "--secret-stdin"); err == nil ||
		!strings.Contains(err.Error(), "jwt_secret: The shared secret must be at least 32 characters") {
		t.Fatalf("weak secret: %v", err)
	}
	out, _, err := runCLI(t, dbURL, jwtSecret+"\n", "provider", "add", "jwt", "--name", "Our App", "--alg", "HS256", "--secret-stdin",
		"--groups", "VIP,Partners", "--remote-login-url", "https://app.example/login")
	if err != nil || !strings.Contains(out, "provider our-app added (jwt, disabled)") {
		t.Fatalf("add jwt: %v %q", err, out)
	}
	md := filepath.Join(t.TempDir(), "idp.xml")
	idp := providertest.NewSAMLIdP(t)
	os.WriteFile(md, []byte(strings.ReplaceAll(idp.MetadataXML(), "http://127.0.0.1", "https://127.0.0.1")), 0o600)
	if _, _, err = runCLI(t, dbURL, "", "provider", "add", "saml", "--name", "Corp", "--metadata-file", md, "--enable"); err != nil {
		t.Fatalf("add saml: %v", err)
	}
	if out, _, err = runCLI(t, dbURL, "", "provider", "metadata", "corp"); err != nil || !strings.Contains(out, "/sso/corp/acs") || !strings.Contains(out, "X509Certificate") {
		t.Fatalf("metadata: %v %.300q", err, out)
	}
	if _, _, err = runCLI(t, dbURL, "", "provider", "enable", "our-app"); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runCLI(t, dbURL, "", "provider", "list")
	if !strings.Contains(out, "our-app\tjwt\tenabled\tOur App") || !strings.Contains(out, "corp\tsaml\tenabled\tCorp") {
		t.Fatalf("list: %q", out)
	}
	if _, _, err = runCLI(t, dbURL, "", "provider", "remove", "our-app"); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runCLI(t, dbURL, "", "provider", "list")
	if strings.Contains(out, "our-app") {
		t.Fatalf("removed provider listed: %q", out)
	}
}

// TestCLIProviderEnableChecksDiscovery (issue 15): `provider enable` and `provider add
// --enable` refuse an OpenID Connect provider whose discovery URL answers nothing (a closed
// port), naming the field and the cause; the provider stays disabled.
func TestCLIProviderEnableChecksDiscovery(t *testing.T) {
	pool := storetest.NewDB(t)
	dbURL := pool.Config().ConnString()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/.well-known/openid-configuration"
	ln.Close()
	add := []string{"provider", "add", "oidc", "--name", "Corp", "--client-id", "portico", "--secret-stdin", "--discovery-url", closed}
	if _, _, err := runCLI(t, dbURL, "op-secret\n", append(add, "--enable")...); err == nil ||
		!strings.Contains(err.Error(), "discovery_url: Portico cannot fetch the discovery document") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("add --enable: %v", err)
	}
	if _, _, err := runCLI(t, dbURL, "op-secret\n", add...); err != nil {
		t.Fatalf("add (disabled): %v", err)
	}
	if _, _, err := runCLI(t, dbURL, "", "provider", "enable", "corp"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("enable: %v", err)
	}
	if out, _, _ := runCLI(t, dbURL, "", "provider", "list"); !strings.Contains(out, "corp\toidc\tdisabled") {
		t.Fatalf("list: %q", out)
	}
}
