package linkage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

const secret110 = "110-shared-secret-0123456789"

type pushResult struct {
	status int
	body   map[string]any
}

// post sends body to the handler signed with secret at ts.
func post(t *testing.T, url, secret string, ts time.Time, body []byte) pushResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/channels/110/pushes", bytes.NewReader(body))
	require.NoError(t, err)
	SignRequest(req.Header, []byte(secret), ts, body)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return pushResult{status: res.StatusCode, body: out}
}

// TestReferralFrom110BecomesAContact: a signed push from 110 becomes one
// contact on channel 110-transfer with the operator's note, waiting for an
// agent to call the citizen back; the same push again is the same contact;
// a bad signature, a replay outside the window and an id reused for other
// content are refused and queue nothing.
func TestReferralFrom110BecomesAContact(t *testing.T) {
	q := newQueue(t)
	mux := http.NewServeMux()
	NewInbound(q, InboundOptions{Secret: secret110, Queue: "general", Window: 5 * time.Minute},
		zaptest.NewLogger(t)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := []byte(`{"id":"110-20261130-0042","caller":"138 0013 8000","name":"王女士","text":"楼上装修噪音，晚上十点还在施工",` +
		`"location":{"address":"成都市武侯区某小区5栋"},"note":"非警务警情，请12345协调街道","operator":"0731"}`)
	r := post(t, srv.URL, secret110, time.Now(), body)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	tn, _ := r.body["tracking_no"].(string)
	require.True(t, queue.ValidTrackingNo(tn), "%v", r.body)
	require.Equal(t, false, r.body["duplicate"])
	c := contactOf(t, q, tn)
	require.Equal(t, queue.ChannelTransfer, c.Channel)
	require.Equal(t, "110", c.Line)
	require.Equal(t, "+8613800138000", c.Citizen.Phone)
	require.Equal(t, "楼上装修噪音，晚上十点还在施工", c.Text)
	require.Equal(t, "非警务警情，请12345协调街道（110接警员 0731）", c.OperatorNote)
	require.Equal(t, queue.RequestComplaint, c.RequestType)
	require.Equal(t, queue.StateWaiting, c.State)
	require.Equal(t, "成都市武侯区某小区5栋", c.Location.Address)

	// The same push again (110 did not see our answer): the same contact.
	r = post(t, srv.URL, secret110, time.Now(), body)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, tn, r.body["tracking_no"])
	require.Equal(t, true, r.body["duplicate"])

	// Refused: wrong secret, a captured push replayed 10 minutes later (its
	// old timestamp), a timestamp from the future, the same id for
	// something else, a body that is not a referral.
	for _, tc := range []struct {
		name   string
		secret string
		ts     time.Time
		body   []byte
		status int
		code   string
	}{
		{"bad signature", "not-the-secret", time.Now(), body, http.StatusUnauthorized, "bad_signature"},
		{"replay outside the window", secret110, time.Now().Add(-10 * time.Minute), body, http.StatusUnauthorized, "bad_signature"},
		{"from the future", secret110, time.Now().Add(10 * time.Minute), body, http.StatusUnauthorized, "bad_signature"},
		{"id reused", secret110, time.Now(), bytes.Replace(body, []byte("十点"), []byte("十一点"), 1), http.StatusConflict, "id_reused"},
		{"no caller", secret110, time.Now(), []byte(`{"id":"x1","text":"求助"}`), http.StatusBadRequest, "bad_push"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv.URL, tc.secret, tc.ts, tc.body)
			require.Equal(t, tc.status, r.status, "%v", r.body)
			require.Equal(t, tc.code, r.body["error"])
			require.NotEmpty(t, r.body["message"])
		})
	}
	// A signature over a body sent with another one (tampered in transit).
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/channels/110/pushes", bytes.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign([]byte(secret110), ts, []byte(`{"id":"other"}`)))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	require.Equal(t, int64(1), waiting(t, q), "one contact for the push sent twice, none for the refused")
}

// FuzzParseReferral: no input makes the parser panic; what it accepts has
// the required fields, a normalised caller and clean text.
func FuzzParseReferral(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","caller":"13800138000","text":"求助"}`,
		`{"id":"110-20261130-0042","caller":"028-8765 4321","name":"王","text":"噪音","location":{"address":"武侯区","lat":30.6,"lng":104.0},"note":"请回电","operator":"0731","time":"2026-11-30T20:00:00+08:00"}`,
		`{"id":"","caller":"1","text":""}`,
		`{"id":"1","caller":"13800138000","text":"x","extra":1}`,
		`{"id":"1","caller":"13800138000","text":"x"}{}`,
		`{"id":1}`,
		`[]`, `null`, ``, "\xff\xfe",
		`{"id":"1","caller":"13800138000","text":"\u202e反向"}`,
		`{"id":"1","caller":"13800138000","text":"x","location":{"lat":91}}`,
		`{"id":"1","caller":"+44 20 7946 0958","text":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReferral(b)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotEmpty(t, r.ID)
		require.NotEmpty(t, r.Text)
		require.Regexp(t, `^\+86[0-9]{9,11}$|^\+[1-9][0-9]{7,14}$`, r.Caller)
		require.NotContains(t, r.Text, "\u202e")
	})
}

func waiting(t *testing.T, q *queue.Queue) int64 {
	t.Helper()
	st, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Len(t, st, 1)
	return st[0].Waiting
}

// A caller from abroad is called back on the number 110 gave, in E.164, not
// refused (nor, as before, taken for a Chinese mobile).
func TestReferralOfACallerFromAbroad(t *testing.T) {
	r, err := ParseReferral([]byte(`{"id":"110-1","caller":"+1 (415) 555-0123","text":"护照丢了"}`))
	require.NoError(t, err)
	require.Equal(t, "+14155550123", r.Caller)
	_, err = ParseReferral([]byte(`{"id":"110-2","caller":"+1 555","text":"护照丢了"}`))
	require.ErrorContains(t, err, "caller:")
}
