package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"portico/config"
	"portico/sql/store/storetest"
)

// TestAttachmentsOnS3: with PORTICO_BLOB_URL=s3://…, attachments stream to an S3 API (here an
// in-process S3-compatible server) and come back byte for byte through the scoped route.
func TestAttachmentsOnS3(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	if err := backend.CreateBucket("portico-attachments"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	testConfigHook = func(c *config.Config) {
		c.BlobURL = "s3://portico-attachments?region=us-east-1&use_path_style=true&endpoint=" + srv.URL
	}
	t.Cleanup(func() { testConfigHook = nil })
	ts := newTestServer(t, nil)
	fx := storetest.MustStandard(t, ts.Pool)
	c := ts.client()
	c.signIn(fx.AliceEmail, fx.Password)
	data := bytes.Repeat([]byte("s3 bytes\n"), 100_000) // 900 kB: several upload parts' worth
	ctype, body := multipartBody(t, [][2]string{{"body", "on s3"}}, []filePart{{"big.txt", data}})
	if resp, _ := c.postMultipart(ticketPath(fx.AliceOpen)+"/replies", ctype, body, true); resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	var id int64
	var key string
	if err := ts.Pool.QueryRow(context.Background(), `SELECT id, blob_key FROM attachments`).Scan(&id, &key); err != nil {
		t.Fatal(err)
	}
	obj, err := backend.HeadObject("portico-attachments", key)
	if err != nil || obj.Size != int64(len(data)) {
		t.Fatalf("object in the S3 bucket: %v, %+v", err, obj)
	}
	resp := c.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", id), nil))
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
	}
	carol := ts.client()
	carol.signIn(fx.CarolEmail, fx.Password)
	if resp := carol.do(httptest.NewRequest(http.MethodGet, fmt.Sprintf("/attachments/%d", id), nil)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another customer: %d", resp.StatusCode)
	}
}
