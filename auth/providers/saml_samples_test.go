package providers

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/redis/go-redis/v9"

	"portico/auth"
	"portico/sql/store/storetest"
)

// Published sample responses of real products' formats (auth/providers/testdata/*/README.md
// names their source and licence), validated by our SAML provider with time frozen at the
// moment each was issued. Each sample is addressed to its own SP (entity id and ACS), encrypted
// to that SP's published test key (testdata/sp_key.pem) where it is encrypted, and answers a
// known AuthnRequest id.
type samlSample struct {
	name       string
	response   string // file under testdata; *.b64 is the POSTed base64 form, *.xml the decoded document
	metadata   string // the IdP's metadata file
	entityID   string // the sample SP's entity id (= its metadata URL)
	acs        string // the sample SP's ACS URL
	requestID  string // the AuthnRequest id the response answers (InResponseTo)
	now        time.Time
	wantEmail  string
	wantName   string
	wantSub    string
	wantGroups []string
}

var samlSamples = []samlSample{
	{
		// Okta (a real capture): signed Response, encrypted Assertion; the email is the NameID.
		name: "okta signed response, encrypted assertion", response: "okta/signed-response-encrypted-assertion.b64",
		metadata: "okta/idp-metadata.xml", entityID: "http://localhost:8000/saml/metadata", acs: "http://localhost:8000/saml/acs",
		requestID: "id-a7364d1e4432aa9085a7a8bd824ea2fa8fa8f684", now: time.Date(2020, 3, 3, 19, 24, 28, 0, time.UTC),
		wantEmail: "testuser@testrsc.com", wantSub: "testuser@testrsc.com",
	},
	{
		// Okta (a real capture): Response and encrypted Assertion both signed.
		name: "okta both signed, encrypted assertion", response: "okta/both-signed-encrypted-assertion.b64",
		metadata: "okta/idp-metadata.xml", entityID: "http://localhost:8000/saml/metadata", acs: "http://localhost:8000/saml/acs",
		requestID: "id-953d4cab69ff475c5901d12e585b0bb15a7b85fe", now: time.Date(2020, 3, 3, 19, 40, 54, 0, time.UTC),
		wantEmail: "testuser@testrsc.com", wantSub: "testuser@testrsc.com",
	},
	{
		// Microsoft Entra ID's wire format: claim-URI attributes, group object ids, samlp: prefix
		// on the Response only, exclusive c14n + RSA-SHA256, signed metadata with a WS-Fed role.
		name: "entra id response and assertion signed", response: "entra-id/response-and-assertion-signed.xml",
		metadata: "entra-id/idp-metadata.xml", entityID: "https://sp.example.com/saml/metadata", acs: "https://sp.example.com/saml/acs",
		requestID: "id-4f6e2c9d8a7b1e3f5d0c2b4a6e8f1d3c5b7a9e0f", now: time.Date(2025, 6, 2, 15, 4, 6, 0, time.UTC),
		wantEmail: "alice@contoso.example", wantName: "Alice Example", wantSub: "alice@contoso.example",
		wantGroups: []string{"0f3b5d7e-1a2c-4e6f-8b9d-3c5e7f9a1b2d", "a7c9e1f3-5b7d-4f2a-8c4e-6d8f0a2c4e6b"},
	},
	{
		// Entra ID with token encryption on (WIF-style EncryptedKey markup).
		name: "entra id encrypted assertion", response: "entra-id/encrypted-assertion-signed.xml",
		metadata: "entra-id/idp-metadata.xml", entityID: "https://sp.example.com/saml/metadata", acs: "https://sp.example.com/saml/acs",
		requestID: "id-4f6e2c9d8a7b1e3f5d0c2b4a6e8f1d3c5b7a9e0f", now: time.Date(2025, 6, 2, 15, 4, 6, 0, time.UTC),
		wantEmail: "alice@contoso.example", wantName: "Alice Example", wantSub: "alice@contoso.example",
		wantGroups: []string{"0f3b5d7e-1a2c-4e6f-8b9d-3c5e7f9a1b2d", "a7c9e1f3-5b7d-4f2a-8c4e-6d8f0a2c4e6b"},
	},
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samplePOST returns the SAMLResponse form value of a sample.
func (s samlSample) samplePOST(t *testing.T) string {
	raw := readTestdata(t, s.response)
	if strings.HasSuffix(s.response, ".b64") {
		return raw
	}
	return base64.StdEncoding.EncodeToString([]byte(raw))
}

// sampleProvider builds a SAML provider through the same path as the admin console (Apply,
// Build) with the sample IdP's metadata and the sample SP's published key, and addresses it
// as the sample's SP. Time is frozen at s.now, for crewjam (saml.TimeNow) and for us.
func sampleProvider(t *testing.T, s samlSample, flows *auth.Flows) *samlProvider {
	t.Helper()
	oldNow := saml.TimeNow
	saml.TimeNow = func() time.Time { return s.now }
	t.Cleanup(func() { saml.TimeNow = oldNow })

	sealer, err := NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Slug: "sample", Name: "Sample", Kind: auth.KindSAML, Enabled: true,
		Settings: map[string]string{"idp_metadata_xml": readTestdata(t, s.metadata), "sp_cert": readTestdata(t, "sp_cert.pem")}}
	if err := Apply(&cfg, map[string]string{"sp_key": readTestdata(t, "sp_key.pem")}, sealer, false); err != nil {
		t.Fatalf("apply: %v", err)
	}
	p, err := Build(cfg, Deps{BaseURL: "https://portal.example", Flows: flows, Sealer: sealer, Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	sp := p.(*samlProvider)
	if sp.entityID != "https://portal.example/sso/sample/metadata" {
		t.Fatalf("entity id derived as %q", sp.entityID)
	}
	sp.entityID, sp.acsURL = s.entityID, s.acs
	return sp
}

func sampleFlows(t *testing.T) (*auth.Flows, func(ctx context.Context, key string) error) {
	t.Helper()
	opt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (start it with `just services`)", storetest.RedisURL(), err)
	}
	prefix := "portico-test:" + storetest.RandHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	flows := auth.NewFlows(rdb, prefix)
	// pending records an AuthnRequest id as Begin does.
	pending := func(ctx context.Context, id string) error {
		return flows.Put(ctx, "saml:"+id, flowState{Provider: "sample", ReturnTo: "/tickets", Browser: browserHash(sampleBrowser)}, FlowTTL)
	}
	return flows, pending
}

func TestSAMLPublishedSampleResponses(t *testing.T) {
	ctx := context.Background()
	for _, s := range samlSamples {
		t.Run(s.name, func(t *testing.T) {
			flows, pending := sampleFlows(t)
			p := sampleProvider(t, s, flows)
			if err := pending(ctx, s.requestID); err != nil {
				t.Fatal(err)
			}
			res, err := p.Complete(ctx, auth.CompleteRequest{Form: map[string][]string{"SAMLResponse": {s.samplePOST(t)}}, Browser: sampleBrowser})
			if err != nil {
				t.Fatalf("sample refused: %v", err)
			}
			id := res.Identity
			if id.Provider != "sample" || id.Subject != s.wantSub || id.Email != s.wantEmail || !id.EmailVerified || id.Name != s.wantName {
				t.Errorf("identity %+v; want subject %q, email %q (verified), name %q", id, s.wantSub, s.wantEmail, s.wantName)
			}
			if !slices.Equal(id.Groups, s.wantGroups) {
				t.Errorf("groups %q, want %q", id.Groups, s.wantGroups)
			}
			if res.ReturnTo != "/tickets" {
				t.Errorf("return to %q, want the pending request's /tickets", res.ReturnTo)
			}

			// The same response again: its request id is spent.
			_, err = p.Complete(ctx, auth.CompleteRequest{Form: map[string][]string{"SAMLResponse": {s.samplePOST(t)}}, Browser: sampleBrowser})
			if r := auth.AsRefusal(err); r == nil || r.Reason != auth.ReasonExpiredFlow {
				t.Errorf("replayed sample: %v, want %q", err, auth.ReasonExpiredFlow)
			}
		})
	}
}

// TestSAMLPublishedSampleRefusals: the same samples are refused when they are altered, when
// they reach another SP, or after they expire.
func TestSAMLPublishedSampleRefusals(t *testing.T) {
	ctx := context.Background()
	entra := samlSamples[2]
	refusal := func(t *testing.T, p *samlProvider, requestID, resp string) *auth.Refusal {
		t.Helper()
		if err := p.deps.Flows.Put(ctx, "saml:"+requestID, flowState{Provider: "sample", Browser: browserHash(sampleBrowser)}, FlowTTL); err != nil {
			t.Fatal(err)
		}
		_, err := p.Complete(ctx, auth.CompleteRequest{Form: map[string][]string{"SAMLResponse": {resp}}, Browser: sampleBrowser})
		r := auth.AsRefusal(err)
		if r == nil {
			t.Fatalf("altered sample accepted (%v)", err)
		}
		t.Logf("refused: %s: %s", r.Reason, r.Detail)
		return r
	}

	t.Run("tampered email", func(t *testing.T) {
		flows, _ := sampleFlows(t)
		p := sampleProvider(t, entra, flows)
		doc := readTestdata(t, entra.response)
		// The signed email address changed after signing (every occurrence, NameID included).
		tampered := strings.ReplaceAll(doc, "alice@contoso.example", "ceo@contoso.example")
		if tampered == doc {
			t.Fatal("the sample has no address to tamper with")
		}
		r := refusal(t, p, entra.requestID, base64.StdEncoding.EncodeToString([]byte(tampered)))
		if r.Reason != auth.ReasonInvalid || !strings.Contains(r.Detail, "signature") {
			t.Fatalf("tampered sample: %q %q, want %q about the signature", r.Reason, r.Detail, auth.ReasonInvalid)
		}
	})

	t.Run("another SP", func(t *testing.T) {
		flows, _ := sampleFlows(t)
		p := sampleProvider(t, entra, flows)
		p.entityID, p.acsURL = "https://portal.example/sso/sample/metadata", "https://portal.example/sso/sample/acs"
		r := refusal(t, p, entra.requestID, entra.samplePOST(t))
		if r.Reason != auth.ReasonInvalid || !strings.Contains(r.Detail, "AudienceRestriction") && !strings.Contains(r.Detail, "Destination") {
			t.Fatalf("sample for another SP: %q %q", r.Reason, r.Detail)
		}
	})

	t.Run("expired", func(t *testing.T) {
		late := entra
		late.now = entra.now.Add(2 * time.Hour) // NotOnOrAfter is 16:14:05Z
		flows, _ := sampleFlows(t)
		p := sampleProvider(t, late, flows)
		r := refusal(t, p, entra.requestID, entra.samplePOST(t))
		if r.Reason != auth.ReasonInvalid || !strings.Contains(r.Detail, "expired") {
			t.Fatalf("expired sample: %q %q", r.Reason, r.Detail)
		}
	})
}

// sampleBrowser is the SSO flow cookie of the browser that "started" the sample flows.
const sampleBrowser = "sample-browser-flow-cookie-0123456789abcdef"
