package main

import (
	"bytes"
	"io/fs"
	"mime/multipart"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestLetterRefusedLeavesNoAttachment: a letter refused at intake over HTTP
// (too many or too large attachments, a bad field after the files, a reused
// Idempotency-Key) leaves no file in the blob dir, neither stored nor
// staged; an accepted letter's files are stored, and a duplicate's too.
func TestLetterRefusedLeavesNoAttachment(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	dir := t.TempDir()
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Blobs.Dir = dir
		c.Mailbox.MaxAttachments = 2
		c.Mailbox.MaxAttachmentBytes = 1000
		c.Mailbox.MaxLetterBytes = 20000
	})
	letters := n.base + "/channels/mailbox/" + mailboxFor(t, "general") + "/letters"
	form := func(text string, extra map[string]string, files ...string) (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		require.NoError(t, w.WriteField("text", text))
		require.NoError(t, w.WriteField("phone", "13800138000"))
		for i, f := range files {
			fw, err := w.CreateFormFile("attachments", "photo"+string(rune('a'+i))+".txt")
			require.NoError(t, err)
			_, _ = fw.Write([]byte(f))
		}
		for k, v := range extra { // after the files: refused once they are read
			require.NoError(t, w.WriteField(k, v))
		}
		require.NoError(t, w.Close())
		return w.FormDataContentType(), b.Bytes()
	}
	files := func() (stored, staged []string) {
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
				staged = append(staged, rel)
			} else {
				stored = append(stored, rel)
			}
			return nil
		}))
		return stored, staged
	}

	for _, tc := range []struct {
		name   string
		files  []string
		extra  map[string]string
		status int
	}{
		{"too many attachments", []string{"one", "two", "three"}, nil, 413},
		{"attachment too large", []string{"first file", strings.Repeat("x", 1001)}, nil, 413},
		{"unknown field after the files", []string{"one", "two"}, map[string]string{"color": "red"}, 400},
		{"bad field after the files", []string{"one", "two"}, map[string]string{"request_type": "bribe"}, 400},
	} {
		ct, body := form("噪音扰民，附照片", tc.extra, tc.files...)
		r := do(t, "POST", letters, ct, body)
		require.Equal(t, tc.status, r.Status, "%s: %v", tc.name, r.Body)
		stored, staged := files()
		require.Empty(t, stored, "%s: a refused letter's attachments were stored", tc.name)
		require.Empty(t, staged, "%s: a refused letter's attachments were left staged", tc.name)
	}

	// Accepted: stored. A duplicate (same key, same letter): still stored.
	ct, body := form("路灯坏了，附照片", nil, "accepted file")
	r := do(t, "POST", letters, ct, body, "Idempotency-Key", "k-1")
	require.Equal(t, 202, r.Status, "%v", r.Body)
	stored, staged := files()
	require.Len(t, stored, 1)
	require.Empty(t, staged)
	r = do(t, "POST", letters, ct, body, "Idempotency-Key", "k-1")
	require.Equal(t, 202, r.Status, "%v", r.Body)
	require.Equal(t, true, r.Body["duplicate"])
	stored, _ = files()
	require.Len(t, stored, 1)

	// The same key for another letter is refused by the queue: its file
	// is not kept.
	ct, body = form("另一封信", nil, "another file")
	r = do(t, "POST", letters, ct, body, "Idempotency-Key", "k-1")
	require.Equal(t, 409, r.Status, "%v", r.Body)
	stored, staged = files()
	require.Len(t, stored, 1, "the refused letter's file was stored: %v", stored)
	require.Empty(t, staged)
}
