package server

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"portico/auth/providers"
	"portico/handlers"
	"portico/sql/store"
)

const (
	nsMD   = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig = "http://www.w3.org/2000/09/xmldsig#"
)

// spMetadata fetches and parses the SP metadata of slug.
func spMetadata(t *testing.T, ts *testServer, slug string) *etree.Document {
	t.Helper()
	resp := ts.client().do(httptest.NewRequest(http.MethodGet, "/sso/"+slug+"/metadata", nil))
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("metadata: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	d := etree.NewDocument()
	if err := d.ReadFromString(body); err != nil {
		t.Fatalf("metadata is not XML: %v", err)
	}
	validateMetadataXSD(t, []byte(body))
	return d
}

// checkMetadataStructure checks what Portico promises of the SP metadata beyond the schema
// (spMetadata has validated it against saml-schema-metadata-2.0.xsd with validateMetadataXSD):
// namespaces, required attributes, child order of SPSSODescriptor, KeyDescriptor use values and
// certificates that parse, the one HTTP-POST ACS, and indexed endpoints. It returns the
// signing certificates.
func checkMetadataStructure(t *testing.T, d *etree.Document, entityID string) []*x509.Certificate {
	t.Helper()
	root := d.Root()
	if root.Tag != "EntityDescriptor" || root.NamespaceURI() != nsMD || root.SelectAttrValue("entityID", "") != entityID {
		t.Fatalf("root: %s {%s} entityID=%q", root.Tag, root.NamespaceURI(), root.SelectAttrValue("entityID", ""))
	}
	sps := root.SelectElements("SPSSODescriptor")
	if len(sps) != 1 || sps[0].NamespaceURI() != nsMD {
		t.Fatalf("want one md:SPSSODescriptor, got %d", len(sps))
	}
	sp := sps[0]
	if !strings.Contains(sp.SelectAttrValue("protocolSupportEnumeration", ""), "urn:oasis:names:tc:SAML:2.0:protocol") {
		t.Fatal("protocolSupportEnumeration lacks SAML 2.0")
	}
	if sp.SelectAttrValue("AuthnRequestsSigned", "") != "true" || sp.SelectAttrValue("WantAssertionsSigned", "") != "true" {
		t.Fatalf("AuthnRequestsSigned=%q WantAssertionsSigned=%q", sp.SelectAttrValue("AuthnRequestsSigned", ""), sp.SelectAttrValue("WantAssertionsSigned", ""))
	}
	// The schema's sequence (RoleDescriptorType, SSODescriptorType, SPSSODescriptorType).
	order := []string{"Signature", "Extensions", "KeyDescriptor", "Organization", "ContactPerson", "ArtifactResolutionService",
		"SingleLogoutService", "ManageNameIDService", "NameIDFormat", "AssertionConsumerService", "AttributeConsumingService"}
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	last, acs := -1, 0
	var signing []*x509.Certificate
	indexes := map[string]bool{}
	for _, ch := range sp.ChildElements() {
		r, ok := rank[ch.Tag]
		if !ok {
			t.Fatalf("element %s is not allowed in SPSSODescriptor", ch.Tag)
		}
		if r < last {
			t.Fatalf("element %s out of the schema's order", ch.Tag)
		}
		last = r
		switch ch.Tag {
		case "KeyDescriptor":
			use := ch.SelectAttrValue("use", "")
			if use != "signing" && use != "encryption" {
				t.Fatalf("KeyDescriptor use=%q", use)
			}
			ki := ch.SelectElement("KeyInfo")
			if ki == nil || ki.NamespaceURI() != nsDSig {
				t.Fatal("KeyDescriptor without ds:KeyInfo")
			}
			certEl := ki.FindElement("X509Data/X509Certificate")
			if certEl == nil {
				t.Fatal("KeyInfo without X509Certificate")
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certEl.Text()), ""))
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("certificate does not parse: %v", err)
			}
			if use == "signing" {
				signing = append(signing, cert)
			}
		case "AssertionConsumerService":
			acs++
			b, loc, idx := ch.SelectAttrValue("Binding", ""), ch.SelectAttrValue("Location", ""), ch.SelectAttrValue("index", "")
			if b != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" {
				t.Fatalf("ACS binding %q advertised (only HTTP-POST is implemented)", b)
			}
			if loc == "" || idx == "" || indexes[idx] {
				t.Fatalf("ACS Location %q index %q", loc, idx)
			}
			indexes[idx] = true
		case "SingleLogoutService", "ArtifactResolutionService":
			t.Fatalf("%s advertised but not implemented", ch.Tag)
		}
	}
	if acs == 0 {
		t.Fatal("no AssertionConsumerService (the schema requires one)")
	}
	if len(signing) == 0 {
		t.Fatal("no signing key in the SP metadata")
	}
	return signing
}

// checkRedirectSignature verifies the HTTP-Redirect binding signature of an AuthnRequest URL
// (saml-bindings §3.4.4.1) with one of certs.
func checkRedirectSignature(t *testing.T, authnURL string, certs []*x509.Certificate) *x509.Certificate {
	t.Helper()
	u, err := url.Parse(authnURL)
	if err != nil {
		t.Fatal(err)
	}
	var signed []string
	var sig string
	for _, part := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "SAMLRequest", "RelayState", "SigAlg":
			signed = append(signed, part)
		case "Signature":
			sig, _ = url.QueryUnescape(v)
		}
	}
	if u.Query().Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || sig == "" {
		t.Fatalf("AuthnRequest is not signed: %s", u.RawQuery)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(strings.Join(signed, "&")))
	for _, c := range certs {
		if rsa.VerifyPKCS1v15(c.PublicKey.(*rsa.PublicKey), crypto.SHA256, h[:], raw) == nil {
			return c
		}
	}
	t.Fatal("the AuthnRequest signature matches no signing key of the metadata")
	return nil
}

// TestSSOSAMLMetadataSigningAndRollover: the SP metadata is schema-shaped, publishes a
// signing key, AuthnRequestsSigned and only the HTTP-POST ACS; requests are signed with that
// key; a rollover publishes two signing keys (current signs), activation leaves the new one,
// and sign-in works at every step (issue 10, point 4).
func TestSSOSAMLMetadataSigningAndRollover(t *testing.T) {
	ts := newSSOServer(t)
	idp := newSAMLIdP(t)
	row := samlProvider(ts, idp, "corp", nil)
	entity := ssoBase + "/sso/corp/metadata"

	signIn := func(step string) *x509.Certificate {
		t.Helper()
		c := ts.client()
		resp, _ := c.get("/sso/corp/start", false)
		loc := resp.Header.Get("Location")
		keys := checkMetadataStructure(t, spMetadata(t, ts, "corp"), entity)
		used := checkRedirectSignature(t, loc, keys)
		idp.trust(ts, "corp")
		resp, doc := postACS(c, "corp", idp.Respond(loc))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: sign-in refused: %d %s", step, resp.StatusCode, doc.Find("#sso-reason").Text())
		}
		return used
	}
	first := signIn("before rollover")
	if n := len(checkMetadataStructure(t, spMetadata(t, ts, "corp"), entity)); n != 1 {
		t.Fatalf("signing keys before rollover: %d", n)
	}

	rotate := func(want string) {
		t.Helper()
		r, err := ts.Store.IdentityProviderBySlug(context.Background(), "corp")
		if err != nil {
			t.Fatal(err)
		}
		var step string
		err = handlers.EditProviderConfig(&r, func(cfg *providers.Config) (err error) {
			step, err = providers.RotateSPKey(cfg, ts.Handlers.SSODeps.Sealer)
			return err
		})
		if err != nil || step != want {
			t.Fatalf("rotate: %q %v, want %q", step, err, want)
		}
		if err := ts.Store.IdentityProviderUpdate(context.Background(), store.CLIEditor, r); err != nil {
			t.Fatal(err)
		}
		if err := ts.Handlers.ProvidersChanged(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rotate("prepared")
	keys := checkMetadataStructure(t, spMetadata(t, ts, "corp"), entity)
	if len(keys) != 2 {
		t.Fatalf("signing keys during rollover: %d", len(keys))
	}
	if used := signIn("during rollover"); !used.Equal(first) {
		t.Fatal("during the rollover the new key signs already")
	}
	rotate("activated")
	keys = checkMetadataStructure(t, spMetadata(t, ts, "corp"), entity)
	if len(keys) != 1 || keys[0].Equal(first) {
		t.Fatal("after activation the metadata still has the old key")
	}
	if used := signIn("after activation"); used.Equal(first) {
		t.Fatal("after activation the old key still signs")
	}
	_ = row
}
