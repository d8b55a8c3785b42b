package server

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SAML 2.0 metadata schema (saml-schema-metadata-2.0.xsd, OASIS) and the W3C schemas it
// imports, as Debian's opensaml-schemas and xmltooling-schemas packages install them
// (scripts/samlschemas.sh; `just test` runs it).
const (
	samlMetadataXSD = "/usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd"
	xmltoolingDir   = "/usr/share/xml/xmltooling"
)

// validateMetadataXSD validates doc against the SAML 2.0 metadata schema with libxml2's own
// validator (xmllint from libxml2-utils, run offline: an XML catalog maps the schemas' http
// imports to the installed files). No pure-Go XSD validator exists, and the cgo binding
// (lestrrat-go/libxml2) would make the whole server test binary cgo for one check. Without
// xmllint or the schemas the check is skipped on a developer machine and fails under CI.
func validateMetadataXSD(t *testing.T, doc []byte) {
	t.Helper()
	ok, out, err := metadataSchemaCheck(t, doc)
	if err != nil {
		schemaToolsMissing(t, err)
		return
	}
	if !ok {
		t.Fatalf("SP metadata does not validate against saml-schema-metadata-2.0.xsd:\n%s\n%s", out, doc)
	}
}

// schemaToolsMissing fails the test under CI (scripts/samlschemas.sh must have installed
// xmllint and the schemas) and only logs elsewhere.
func schemaToolsMissing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("SAML metadata schema check needs xmllint and the Debian schema packages (bash scripts/samlschemas.sh): %v", err)
	}
	t.Logf("SAML metadata schema check not run (bash scripts/samlschemas.sh installs xmllint and the schemas): %v", err)
}

// metadataSchemaCheck runs the schema validation of doc and reports whether it validates,
// with xmllint's output; err when xmllint or the schemas are not installed.
func metadataSchemaCheck(t *testing.T, doc []byte) (bool, string, error) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err == nil {
		_, err = os.Stat(samlMetadataXSD)
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(xmltoolingDir, "xmldsig-core-schema.xsd"))
	}
	if err != nil {
		return false, "", err
	}
	dir := t.TempDir()
	catalog := `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <system systemId="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file://` + xmltoolingDir + `/xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file://` + xmltoolingDir + `/xenc-schema.xsd"/>
  <system systemId="http://www.w3.org/2001/xml.xsd" uri="file://` + xmltoolingDir + `/xml.xsd"/>
  <uri name="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file://` + xmltoolingDir + `/xmldsig-core-schema.xsd"/>
  <uri name="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file://` + xmltoolingDir + `/xenc-schema.xsd"/>
  <uri name="http://www.w3.org/2001/xml.xsd" uri="file://` + xmltoolingDir + `/xml.xsd"/>
</catalog>
`
	if err := os.WriteFile(filepath.Join(dir, "catalog.xml"), []byte(catalog), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "metadata.xml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint, "--nonet", "--noout", "--schema", samlMetadataXSD, file)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+filepath.Join(dir, "catalog.xml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return err == nil && strings.Contains(out.String(), " validates"), out.String(), nil
}

// TestSAMLMetadataSchemaCheckFails: the schema check refuses metadata that breaks the schema
// (an element out of the content model, a missing required attribute, a wrong root), so a
// passing check means something.
func TestSAMLMetadataSchemaCheckFails(t *testing.T) {
	good := `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`
	ok, out, err := metadataSchemaCheck(t, []byte(good))
	if err != nil {
		schemaToolsMissing(t, err)
		t.Skip("no schema tools")
	}
	if !ok {
		t.Fatalf("minimal valid metadata refused:\n%s", out)
	}
	for name, bad := range map[string]string{
		"unknown element":         strings.Replace(good, "<md:AssertionConsumerService", "<md:Bogus/><md:AssertionConsumerService", 1),
		"ACS without index":       strings.Replace(good, ` index="1"`, "", 1),
		"no entityID":             strings.Replace(good, ` entityID="https://sp.example/metadata"`, "", 1),
		"ACS before NameIDFormat": strings.Replace(good, "</md:SPSSODescriptor>", "<md:NameIDFormat>x</md:NameIDFormat></md:SPSSODescriptor>", 1),
	} {
		if ok, _, _ := metadataSchemaCheck(t, []byte(bad)); ok {
			t.Errorf("%s: validates", name)
		}
	}
}
