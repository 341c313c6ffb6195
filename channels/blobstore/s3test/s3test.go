// Package s3test starts an S3-compatible server for tests: gofakes3 (an
// in-process implementation of the S3 REST protocol) behind a real HTTPS
// listener on loopback.
//
// Why gofakes3 and not SeaweedFS: SeaweedFS is a real server but takes about
// ten minutes to build here and cannot be installed with `go install` (its
// go.mod has a replace directive); gofakes3 is a Go module the tests link.
// Why TLS: over plain HTTP minio-go signs uploads with aws-chunked streaming
// signatures, which gofakes3 stores as part of the data (a 20 MiB object read
// back 29 KB longer); over HTTPS minio-go sends the plain body, as it would
// to a real object store over TLS, so the store's code runs unchanged with
// no test-only option. gofakes3 does not verify signatures: the server
// checks that each request is signed with the expected access key.
package s3test

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/lianxin/lianxin/channels/blobstore"
)

// Credentials the server expects in each request's signature.
const (
	AccessKey = "lianxin-test"
	SecretKey = "lianxin-test-secret"
)

// Server is a running S3 server with one bucket.
type Server struct {
	// Endpoint is https://127.0.0.1:PORT.
	Endpoint string
	Bucket   string
	// CAFile is the PEM certificate the server presents, to trust.
	CAFile string
	srv    *httptest.Server
	mem    *s3mem.Backend
}

// Start serves an empty bucket until the test ends.
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(bucket); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	fake := gofakes3.New(mem, gofakes3.WithoutVersioning()).Server()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKey+"/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>` +
				`<Message>not signed with the test access key</Message></Error>`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "s3-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, b, 0o600); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return &Server{Endpoint: srv.URL, Bucket: bucket, CAFile: ca, srv: srv, mem: mem}
}

// Keys lists the bucket's object keys, read from the server's own storage.
func (s *Server) Keys(t testing.TB) []string {
	t.Helper()
	l, err := s.mem.ListBucket(s.Bucket, nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	keys := make([]string, len(l.Contents))
	for i, c := range l.Contents {
		keys[i] = c.Key
	}
	return keys
}

// Options are a store's options on this server, spooling in spool.
func (s *Server) Options(spool string) blobstore.S3Options {
	return blobstore.S3Options{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: "us-east-1", AccessKey: AccessKey,
		SecretKey: SecretKey, CAFile: s.CAFile, Spool: spool}
}
