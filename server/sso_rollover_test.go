package server

import (
	"net/http"
	"testing"

	"portico/sql/store"
)

// TestSSOSAMLIdPKeyRolloverHeals: a provider configured by metadata URL keeps working after
// the IdP rolls its signing key: the first response signed with the new key fails validation,
// Portico refetches the metadata once and accepts it; a second signature failure within the
// rate-limit period fetches nothing (issue 10, point 5).
func TestSSOSAMLIdPKeyRolloverHeals(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	ts.mustProvider(store.IdentityProvider{Slug: "corp", Kind: store.KindSAML, Settings: map[string]string{
		"idp_metadata_url": idp.Server.URL + "/metadata"}}, nil)
	idp.trust(ts, "corp")
	signIn := func() (*http.Response, *goqueryDoc) {
		t.Helper()
		c := ts.client()
		resp, _ := c.get("/sso/corp/start", false)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("start: %d", resp.StatusCode)
		}
		return postACS(c, "corp", idp.Respond(resp.Header.Get("Location")))
	}
	if resp, doc := signIn(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("before rollover: %d %s", resp.StatusCode, doc.Find("#sso-reason").Text())
	}
	fetched := idp.MetadataFetches.Load()

	idp.RollKey()
	if resp, doc := signIn(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the IdP's key rollover: %d %s", resp.StatusCode, doc.Find("#sso-reason").Text())
	}
	if n := idp.MetadataFetches.Load() - fetched; n != 1 {
		t.Fatalf("metadata fetched %d times for the rollover, want 1", n)
	}
	if resp, _ := signIn(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in after rollover: %d", resp.StatusCode)
	}

	// A rollover within the rate-limit period: refused, and no further fetch.
	fetched = idp.MetadataFetches.Load()
	idp.RollKey()
	resp, doc := signIn()
	if r := deniedReason(t, resp.StatusCode, doc); r != "invalid" {
		t.Fatalf("second rollover within a minute: %d %q", resp.StatusCode, r)
	}
	if n := idp.MetadataFetches.Load() - fetched; n != 0 {
		t.Fatalf("metadata fetched %d times within the rate-limit period", n)
	}
	// Once the period is over (the Redis key expired), the next failure refreshes again.
	ts.Redis.Del(t.Context(), ts.prefix+"sso:mdrefresh:corp")
	if resp, doc := signIn(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the rate-limit period: %d %s", resp.StatusCode, doc.Find("#sso-reason").Text())
	}
}
