package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"portico/sql/store"
	"portico/sql/store/storetest"
)

// TestSSOConcurrentFirstSignIn: eight valid first sign-ins of one new user, posted at once to
// two instances of one deployment, all sign in (never a 5xx) and make exactly one contact,
// one company and one identity link (issue 10, point 2). Rounds repeat it for new users.
func TestSSOConcurrentFirstSignIn(t *testing.T) {
	pool := storetest.NewDB(t)
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	a := newSSOServerWith(t, ssoServerOpts{Pool: pool, Prefix: prefix})
	b := newSSOServerWith(t, ssoServerOpts{Pool: pool, Prefix: prefix})
	a.mustProvider(store.IdentityProvider{Slug: "app", Kind: store.KindJWT, TrustOrganization: true,
		Settings: map[string]string{"alg": "HS256"}}, map[string]string{"jwt_secret": jwtSecret})
	if err := b.Handlers.ProvidersChanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for round := range 3 {
		email := fmt.Sprintf("new%d@example.com", round)
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = jwtToken(t, jwt.SigningMethodHS256, []byte(jwtSecret), freshClaims(email))
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ts := a
			if i%2 == 1 {
				ts = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req := newFormRequest("/sso/app/jwt", url.Values{"jwt": {tokens[i]}})
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				resp, err := ts.App.Test(req, 20_000)
				if err != nil {
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		for i, st := range statuses {
			if st != http.StatusSeeOther {
				t.Errorf("round %d: sign-in %d answered %d", round, i, st)
			}
		}
		if c := countRows(t, a, `SELECT count(*) FROM contacts WHERE email = $1`, email); c != 1 {
			t.Errorf("round %d: %d contacts", round, c)
		}
		if c := countRows(t, a, `SELECT count(*) FROM contact_identities WHERE email = $1`, email); c != 1 {
			t.Errorf("round %d: %d identity links", round, c)
		}
	}
	if c := countRows(t, a, `SELECT count(*) FROM companies WHERE name = 'Acme JWT'`); c != 1 {
		t.Errorf("%d companies named Acme JWT", c)
	}
}
