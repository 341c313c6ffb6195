package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/lianxin/lianxin/channels/blobstore/s3test"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestTwoNodesShareS3Attachments: two nodes on one Redis and one S3 bucket
// (blobs.backend s3), each with its own local folder. A web letter with a
// photo accepted by node A is downloaded, byte for byte, by the agent who
// takes it on node B; a letter refused on node A puts nothing in the bucket.
func TestTwoNodesShareS3Attachments(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	srv := s3test.Start(t, "lianxin-attachments")
	useS3 := func(c *configs.Config) {
		c.Blobs.Backend = "s3"
		c.Blobs.Endpoint = srv.Endpoint
		c.Blobs.Bucket = srv.Bucket
		c.Blobs.Region = "us-east-1"
		c.Blobs.Prefix = "attachments/"
		c.Blobs.CAFile = srv.CAFile
		c.Blobs.AccessKey, c.Blobs.SecretKey = s3test.AccessKey, s3test.SecretKey
		c.Mailbox.MaxAttachmentBytes = 1 << 20
	}
	a := startNode(t, s.URL, "node-a", useS3)
	b := startNode(t, s.URL, "node-b", useS3)
	letters := a.base + "/channels/mailbox/" + mailboxFor(t, "general") + "/letters"

	photo := bytes.Repeat([]byte("\x89PNG\r\n\x1a\n现场照片"), 5000)
	form := func(files ...[]byte) (string, []byte) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		require.NoError(t, w.WriteField("text", "小区门口井盖松动，附现场照片"))
		require.NoError(t, w.WriteField("phone", "13800138000"))
		for _, f := range files {
			fw, err := w.CreateFormFile("attachments", "现场.png")
			require.NoError(t, err)
			_, _ = fw.Write(f)
		}
		require.NoError(t, w.Close())
		return w.FormDataContentType(), buf.Bytes()
	}

	// Refused (too large): nothing reaches the bucket.
	ct, body := form(photo, make([]byte, 1<<20+1))
	r := do(t, "POST", letters, ct, body)
	require.Equal(t, 413, r.Status, "%v", r.Body)
	require.Empty(t, srv.Keys(t), "a refused letter's attachments reached the bucket")

	ct, body = form(photo)
	r = do(t, "POST", letters, ct, body)
	require.Equal(t, 202, r.Status, "%v", r.Body)
	sum := sha256.Sum256(photo)
	sha := hex.EncodeToString(sum[:])
	require.Equal(t, []string{"attachments/" + sha}, srv.Keys(t))

	// Only agent 1001 is on a desk, on node B: the letter is offered there.
	tok := loginToken(t, b.base, "1001")
	d := dialDesk(t, b.base, tok)
	send(t, d, "ready", nil)
	m := next(t, d, "offer")
	var obj struct {
		Contact struct {
			Attachments []struct{ Name, SHA256 string }
		}
	}
	require.NoError(t, jsonUnmarshal(m.Raw, &obj))
	require.Len(t, obj.Contact.Attachments, 1)
	require.Equal(t, sha, obj.Contact.Attachments[0].SHA256)
	send(t, d, "accept", map[string]any{"contact": m.TrackingNo()})
	next(t, d, "assigned")

	req, err := http.NewRequest(http.MethodGet, b.base+"/api/attachments/"+sha+"?contact="+m.TrackingNo(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, photo, got, "node B served node A's attachment")
}
