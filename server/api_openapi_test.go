package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// openAPIValidator builds a validator (pb33f/libopenapi-validator, OpenAPI 3.1) from the
// document the server serves at /api/v1/openapi.json, after checking the document itself.
func openAPIValidator(t *testing.T, ts *testServer) validator.Validator {
	t.Helper()
	r := ts.api("GET", "/api/v1/openapi.json", "", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/openapi+json") {
		t.Fatalf("openapi.json: %d %q", r.status, r.header.Get("Content-Type"))
	}
	doc, err := libopenapi.NewDocument(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("OpenAPI version %q, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return v
}

// TestAPIResponsesMatchOpenAPI runs the API tests again with every answer (successes and
// problems alike, apart from 304s and downloads) validated against the served OpenAPI 3.1
// document: a field added, renamed or retyped in a handler but not in the document fails here.
func TestAPIResponsesMatchOpenAPI(t *testing.T) {
	ts := newTestServer(t, nil)
	v := openAPIValidator(t, ts)
	checked := 0
	apiValidate = func(t *testing.T, req *http.Request, r apiResp) {
		t.Helper()
		if !strings.HasPrefix(req.URL.Path, "/api/v1/") || req.URL.Path == "/api/v1/openapi.json" || r.status == http.StatusNotModified {
			return
		}
		if strings.HasPrefix(req.URL.Path, "/api/v1/nothing") {
			return // an unknown path has no operation to check against
		}
		resp := &http.Response{StatusCode: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)), Request: req}
		if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
			for _, e := range errs {
				t.Errorf("%s %s → %d does not match the OpenAPI document: %s (%s) %v", req.Method, req.URL.Path, r.status, e.Message, e.Reason, e.SchemaValidationErrors)
			}
		}
		checked++
	}
	defer func() { apiValidate = nil }()
	for name, fn := range map[string]func(*testing.T){
		"viewer matrix": TestAPICustomerViewerMatrix,
		"auth":          TestAPIAuthRefusals,
		"reply":         TestAPIReplyStrictJSONAndIdempotency,
		"etag":          TestAPIETagAndPagination,
		"rate limit":    TestAPIRateLimitPerToken,
		"admin keys":    TestAPIAdminKeys,
	} {
		t.Run(name, fn)
	}
	if checked < 50 {
		t.Errorf("only %d answers validated", checked)
	}
	t.Logf("%d answers validated against the OpenAPI document", checked)
}
