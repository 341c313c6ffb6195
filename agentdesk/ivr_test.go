package agentdesk

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// TestRecordingForSupervisorsAndItsAgent: a contact's recording is served
// to the agent who took it and to supervisors (token in the Authorization
// header only), 403 to another agent, 401 without a token.
func TestRecordingForSupervisorsAndItsAgent(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	send(t, d, "accept", map[string]any{"contact": tn})
	sha := strings.Repeat("ef", 32)
	require.NoError(t, e.q.SetRecording(context.Background(), tn, queue.Recording{SHA256: sha, Type: "audio/wav"}))
	url := e.base + "/api/contacts/" + tn + "/recording"
	tok1001, tok1002, tok1005 := e.login(t, "1001"), e.login(t, "1002"), e.login(t, "1005")
	c := http.DefaultClient

	st, body := get(t, c, url, tok1001)
	require.Equal(t, http.StatusOK, st, "%v", body)
	require.Equal(t, sha, body["raw"], "the blob")
	st, body = get(t, c, url, tok1005)
	require.Equal(t, http.StatusOK, st, "a supervisor: %v", body)
	st, body = get(t, c, url, tok1002)
	require.Equal(t, http.StatusForbidden, st, "another agent: %v", body)
	st, _ = get(t, c, url, "")
	require.Equal(t, http.StatusUnauthorized, st)
	st, _ = get(t, c, url+"?token="+tok1001, "")
	require.Equal(t, http.StatusUnauthorized, st, "never a token in the URL")

	other := e.letter(t, "box-1", "市长信箱")
	st, body = get(t, c, e.base+"/api/contacts/"+other+"/recording", tok1005)
	require.Equal(t, http.StatusNotFound, st)
	require.Equal(t, "no_recording", body["error"])
}

// TestPublicLookupShowsRating: the public lookup shows the citizen's rating.
func TestPublicLookupShowsRating(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	ctx := context.Background()
	_, err := e.q.AskRating(ctx, tn, queue.RatingAsk{Window: time.Hour})
	require.NoError(t, err)
	require.NoError(t, e.q.Rate(ctx, tn, 2))
	st, body := get(t, clientFrom("127.0.0.1"), e.base+"/api/contacts/"+tn+"?phone_last4=8000", "")
	require.Equal(t, http.StatusOK, st, "%v", body)
	r := body["rating"].(map[string]any)
	require.Equal(t, "基本满意", r["label"])
	require.EqualValues(t, 2, r["score"])
	require.NotEmpty(t, r["at"])
}
