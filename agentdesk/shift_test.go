package agentdesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// sendRefused sends a message that must be refused with code, its message
// starting with field; it returns the error's message.
func sendRefused(t *testing.T, d *desktest.Client, typ string, fields map[string]any, code, field string) string {
	t.Helper()
	ref, err := d.Send(typ, fields)
	require.NoError(t, err)
	for {
		m := next(t, d, "ack", "error")
		if m.Ref != ref {
			continue
		}
		require.Equal(t, "error", m.Type, "%s %v was done: %s", typ, fields, m.Raw)
		require.Equal(t, code, m.Code, "%s", m.Raw)
		require.True(t, strings.HasPrefix(m.Message, field+":"), "the error names %s: %s", field, m.Raw)
		return m.Message
	}
}

// A wrap-up must say the request type and the outcome the agent chose: the
// server assumes neither, names the missing field, and changes nothing.
func TestWrapupNeedsTypeAndOutcome(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	send(t, d, "accept", map[string]any{"contact": tn})

	for _, c := range []struct {
		fields map[string]any
		field  string
	}{
		{map[string]any{"contact": tn, "request_type": "help"}, "outcome"},
		{map[string]any{"contact": tn, "request_type": "help", "outcome": ""}, "outcome"},
		{map[string]any{"contact": tn, "outcome": "transferred_119"}, "request_type"},
		{map[string]any{"contact": tn}, "request_type"},
		{map[string]any{"contact": tn, "request_type": "help", "outcome": "abandoned"}, "outcome"},
		{map[string]any{"contact": tn, "request_type": "咨询", "outcome": "resolved"}, "request_type"},
		{map[string]any{"contact": "123", "request_type": "help", "outcome": "resolved"}, "contact"},
	} {
		sendRefused(t, d, "wrapup", c.fields, "bad_message", c.field)
		got, err := e.q.Contact(context.Background(), tn)
		require.NoError(t, err)
		require.Equal(t, queue.StateAssigned, got.State, "a refused wrap-up changed the contact: %v", c.fields)
		require.Empty(t, got.Outcome)
	}
	send(t, d, "wrapup", map[string]any{"contact": tn, "request_type": "help", "outcome": "transferred_119"})
	require.Equal(t, "transferred_119", next(t, d, "closed").Outcome)
}

// An emergency (here a gas leak, as triage marks it at intake) reaches the
// desk with its kind, the advice the citizen was given and the outcome the
// desk suggests; an ordinary letter has none of them.
func TestEmergencyInTheContactObject(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	text := "楼道里燃气泄漏了，味道很大"
	tri := channels.Assess(text)
	require.Equal(t, channels.EmergencyGas, tri.Emergency)
	r, err := e.q.Enqueue(context.Background(), queue.Intake{Channel: queue.ChannelWeb, Line: "box-1", LineName: "市长信箱",
		Citizen: queue.Citizen{Address: "+8613800138001", Phone: "+8613800138001"}, Text: text, Queue: "general",
		Priority: channels.EmergencyPriority, Emergency: tri.Emergency, RequestType: tri.RequestType}, "")
	require.NoError(t, err)
	o := next(t, d, "offer").Object()
	require.Equal(t, r.TrackingNo, o.TrackingNo)
	require.Equal(t, "gas", o.Emergency)
	require.Equal(t, channels.EmergencyAdvice("gas"), o.EmergencyAdvice)
	require.Contains(t, o.EmergencyAdvice, "关闭阀门")
	require.Equal(t, "transferred_119", o.SuggestedOutcome)
	require.Equal(t, "综合受理", o.QueueTitle)

	plain := e.letter(t, "box-1", "市长信箱")
	o = next(t, d, "offer").Object()
	require.Equal(t, plain, o.TrackingNo)
	require.Empty(t, o.Emergency)
	require.Empty(t, o.EmergencyAdvice)
	require.Empty(t, o.SuggestedOutcome)
	for kind, want := range map[string]queue.Outcome{"fire": "transferred_119", "medical": "transferred_120",
		"police": "transferred_110", "traffic": "transferred_122", "gas": "transferred_119"} {
		require.Equal(t, want, emergencyOutcome[kind], kind)
		require.NotEmpty(t, channels.EmergencyAdvice(kind), kind)
	}
}

// checker is a Replier that says, before any reply, whether one can go.
type checker struct{ err error }

func (c checker) Reply(context.Context, *queue.Contact, string) error { return c.err }
func (c checker) CanReply(context.Context, *queue.Contact) error      { return c.err }

// The contact says whether the agent can reply, and when not, why, in
// Chinese: no replier for the channel, no path, a closed window; an error
// that says nothing (Redis down) leaves the reply box to the agent.
func TestCanReplyInTheContactObject(t *testing.T) {
	for _, c := range []struct {
		name     string
		repliers map[queue.Channel]Replier
		can      bool
		note     string
	}{
		{"no replier", nil, false, "本渠道未开通回复功能"},
		{"no path", map[queue.Channel]Replier{queue.ChannelWeb: checker{fmt.Errorf("%w: none", channels.ErrNoReplyPath)}}, false, "短信发送通道也未开通"},
		{"window closed", map[queue.Channel]Replier{queue.ChannelWeb: checker{channels.ErrReplyWindowClosed}}, false, "48小时"},
		{"can", map[queue.Channel]Replier{queue.ChannelWeb: checker{nil}}, true, ""},
		{"cannot tell", map[queue.Channel]Replier{queue.ChannelWeb: checker{errors.New("redis: connection refused")}}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := startDesk(t, func(p *Params) { p.Repliers = c.repliers })
			d := e.seat(t, "1001")
			tn := e.letter(t, "box-1", "市长信箱")
			o := next(t, d, "offer").Object()
			require.Equal(t, tn, o.TrackingNo)
			require.Equal(t, c.can, o.CanReply)
			if c.note == "" {
				require.Empty(t, o.ReplyNote)
			} else {
				require.Contains(t, o.ReplyNote, c.note)
			}
			send(t, d, "accept", map[string]any{"contact": tn})
			a := next(t, d, "assigned").Object()
			require.Equal(t, c.can, a.CanReply, "assigned says it too")
		})
	}
}

// E-mails and web letters are told apart.
func TestLettersSayHowTheyCame(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	ctx := context.Background()
	mail, err := e.q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "box-1", LineName: "市长信箱",
		Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}, Text: "来信", Queue: "general",
		SenderAuth: &queue.SenderAuth{Authenticated: true, Note: "发件人已验证"}}, "")
	require.NoError(t, err)
	form, err := e.q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "box-1", LineName: "市长信箱",
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}, Text: "网上来信", Queue: "general"}, "")
	require.NoError(t, err)
	via := map[string]string{}
	for len(via) < 2 {
		o := next(t, d, "offer").Object()
		via[o.TrackingNo] = o.Via
	}
	require.Equal(t, map[string]string{mail.TrackingNo: "email", form.TrackingNo: "web"}, via)
}

// blobMap serves fixed bytes by hash.
type blobMap map[string][]byte

func (b blobMap) Open(_ context.Context, sha string) (io.ReadCloser, int64, error) {
	data, ok := b[sha]
	if !ok {
		return nil, 0, errors.New("no such blob")
	}
	return io.NopCloser(strings.NewReader(string(data))), int64(len(data)), nil
}

// Pictures are served inline with the type their bytes have, so the desk
// can preview them; HTML, SVG and scripts stay downloads whatever the
// citizen called them, and every answer is sandboxed and nosniff.
func TestAttachmentInlineOnlyForMedia(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 40)...)
	files := []struct {
		sha, name, declared string
		data                []byte
		typ, disposition    string
	}{
		{strings.Repeat("a1", 32), "photo.png", "image/png", png, "image/png", "inline"},
		{strings.Repeat("a2", 32), "photo.jpg", "image/jpeg", append([]byte("\xff\xd8\xff\xe0"), make([]byte, 20)...), "image/jpeg", "inline"},
		{strings.Repeat("a3", 32), "pic.png", "image/png", []byte("<html><script>alert(1)</script></html>"), "application/octet-stream", "attachment"},
		{strings.Repeat("a4", 32), "pic.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "application/octet-stream", "attachment"},
		{strings.Repeat("a5", 32), "x.js", "image/gif", []byte("alert(document.cookie)"), "application/octet-stream", "attachment"},
		{strings.Repeat("a6", 32), "empty.png", "image/png", nil, "application/octet-stream", "attachment"},
	}
	blobs := blobMap{}
	var atts []queue.Attachment
	for _, f := range files {
		blobs[f.sha] = f.data
		atts = append(atts, queue.Attachment{Name: f.name, Type: f.declared, Size: int64(len(f.data)), SHA256: f.sha})
	}
	e := startDesk(t, func(p *Params) { p.Blobs = blobs })
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱", atts...)
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	tok := e.login(t, "1001")
	for _, f := range files {
		req, err := http.NewRequest(http.MethodGet, e.base+"/api/attachments/"+f.sha+"?contact="+tn, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, f.name)
		require.Equal(t, f.typ, resp.Header.Get("Content-Type"), f.name)
		require.Equal(t, f.disposition, resp.Header.Get("Content-Disposition"), f.name)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), f.name)
		require.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"), f.name)
		require.Equal(t, string(f.data), string(body), "%s: every byte, the sniffed ones too", f.name)
	}
}

// /api/queues gives each queue's title.
func TestQueuesHaveTitles(t *testing.T) {
	e := startDesk(t)
	st, body := get(t, http.DefaultClient, e.base+"/api/queues", e.login(t, "1005"))
	require.Equal(t, http.StatusOK, st)
	qs := body["queues"].([]any)
	require.Len(t, qs, 1)
	require.Equal(t, "综合受理", qs[0].(map[string]any)["title"])
}
