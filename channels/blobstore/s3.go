package blobstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options configure an S3 store.
type S3Options struct {
	// Endpoint is the server's URL: https://host:port (or http:// on a
	// trusted network), without a path.
	Endpoint string
	Bucket   string
	// Region is the bucket's region; empty lets the client ask the server.
	Region string
	// Prefix is put before every object key (e.g. "attachments/").
	Prefix string
	// AccessKey and SecretKey sign requests; both empty: anonymous.
	AccessKey, SecretKey string
	// CAFile is a PEM file of certificate authorities to trust besides the
	// system's (a private object store's own CA).
	CAFile string
	// Spool is a local folder where content is hashed before it is
	// uploaded (it must be written whole before its hash, the object's
	// key, is known).
	Spool string
	// Timeout bounds one upload from Commit, which has no context of its
	// own. Default 10 minutes.
	Timeout time.Duration
	// Transport replaces the HTTP transport (CAFile is then ignored).
	Transport http.RoundTripper
}

// S3 is a blob store in an S3-compatible bucket, so that every node sees
// every attachment and recording. Objects are keyed by Prefix + the content's
// SHA-256, as in Dir: the same content is uploaded once and never changes.
//
// Content streams: Put and Stage write it to the local spool while hashing
// it (the key is the hash, known only at the end), and the upload reads it
// back from the file, part by part for a large one (the client reads parts
// at offsets of the file; no part is buffered). Open streams the object's
// body. A staged letter's files leave the node only when it is accepted:
// a refused letter puts nothing in the bucket.
type S3 struct {
	c       *minio.Client
	bucket  string
	prefix  string
	spool   spool
	timeout time.Duration
}

// partSize is the multipart part size for objects larger than it (S3 asks
// at least 5 MiB for all parts but the last).
const partSize = 16 << 20

// NewS3 connects to the bucket, checking that it exists, and sweeps the
// spool of files older than StaleStaged.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("blobstore: endpoint %q: want http(s)://host[:port]", o.Endpoint)
	}
	if o.Bucket == "" {
		return nil, errors.New("blobstore: no bucket")
	}
	tr := o.Transport
	if tr == nil {
		t, err := transport(o.CAFile)
		if err != nil {
			return nil, err
		}
		tr = t
	}
	var creds *credentials.Credentials
	if o.AccessKey != "" || o.SecretKey != "" {
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, "")
	} else {
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: o.Region,
		Transport: tr, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	ok, err := c.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blobstore: bucket %q at %s: %w", o.Bucket, u.Host, err)
	}
	if !ok {
		return nil, fmt.Errorf("blobstore: bucket %q does not exist at %s", o.Bucket, u.Host)
	}
	if o.Spool == "" {
		o.Spool = os.TempDir()
	}
	sp, err := newSpool(o.Spool)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	return &S3{c: c, bucket: o.Bucket, prefix: o.Prefix, spool: sp, timeout: o.Timeout}, nil
}

func transport(caFile string) (http.RoundTripper, error) {
	t, err := minio.DefaultTransport(true)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("blobstore: ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("blobstore: ca_file %s: no PEM certificate in it", caFile)
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

func (s *S3) key(sha string) string { return s.prefix + sha }

// upload puts the spooled file under sha unless the object is there
// already, and checks the size the server stored.
func (s *S3) upload(ctx context.Context, tmp, sha string, size int64) error {
	if _, err := s.c.StatObject(ctx, s.bucket, s.key(sha), minio.StatObjectOptions{}); err == nil {
		return nil
	} else if minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("blobstore: stat %s: %w", sha, err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	defer f.Close()
	info, err := s.c.PutObject(ctx, s.bucket, s.key(sha), f, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: partSize, NumThreads: 2})
	if err != nil {
		return fmt.Errorf("blobstore: upload %s: %w", sha, err)
	}
	if info.Size != size {
		return fmt.Errorf("blobstore: upload %s: the server stored %d bytes of %d", sha, info.Size, size)
	}
	return nil
}

// Put stores r, reading at most limit bytes (ErrTooLarge past that), and
// returns its hash and size once the object is in the bucket.
func (s *S3) Put(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	st, err := s.spool.write(ctx, r, limit, "put-")
	if err != nil {
		return "", st.size(), err
	}
	defer st.Discard()
	if err := s.upload(ctx, st.tmp, st.SHA, st.Size); err != nil {
		return "", 0, err
	}
	return st.SHA, st.Size, nil
}

// Stage writes r (at most limit bytes, ErrTooLarge past that) to the spool
// and hashes it; Commit uploads it.
func (s *S3) Stage(ctx context.Context, r io.Reader, limit int64) (*Staged, error) {
	st, err := s.spool.write(ctx, r, limit, "stage-")
	if err != nil {
		return st, err
	}
	st.store = func(st *Staged) error {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		return s.upload(ctx, st.tmp, st.SHA, st.Size)
	}
	return st, nil
}

// SweepStaged removes spooled files older than age (see Dir.SweepStaged).
// Delete removes a stored object; a missing one is no error (S3's
// DeleteObject answers 204 for it too).
func (s *S3) Delete(ctx context.Context, sha string) error {
	if !validSHA(sha) {
		return ErrNotFound
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.key(sha), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blobstore: delete %s: %w", sha, err)
	}
	return nil
}

func (s *S3) SweepStaged(age time.Duration) (int, error) { return s.spool.sweep(age) }

// Open returns a stored blob's body, streamed from the bucket, and its size.
func (s *S3) Open(ctx context.Context, sha string) (io.ReadCloser, int64, error) {
	if !validSHA(sha) {
		return nil, 0, ErrNotFound
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.key(sha), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("blobstore: open %s: %w", sha, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, 0, ErrNotFound
		}
		return nil, 0, fmt.Errorf("blobstore: open %s: %w", sha, err)
	}
	return obj, info.Size, nil
}
