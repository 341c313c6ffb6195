package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
)

func withMenu(c *Config) {
	c.Menus = map[string]Menu{"12345": {Timeout: 3 * time.Second, Options: map[string]MenuOption{
		"1": {Queue: "general"}, "2": {Queue: "consumer"}, "9": {Answer: "answer-test"}}}}
}

// waitQueued waits until the caller's contact is queued and returns it.
func waitQueued(t *testing.T, e *env, line string) *queue.Contact {
	t.Helper()
	var found *queue.Contact
	eventually(t, 500, "the call is queued", func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		for tn := range e.s.byTN {
			ct, err := e.q.Contact(context.Background(), tn)
			if err == nil && ct.Line == line && ct.State != queue.StateIVR {
				found = ct
				return true
			}
		}
		return false
	})
	return found
}

// TestMenuDigit: a caller who presses 9 hears the hot-topic answer and the
// menu again; then 2 puts the call in the consumer queue. The first packet of
// each key press has duration 0, as sipp's stock pcaps send it.
func TestMenuDigit(t *testing.T) {
	e := newEnv(t, withMenu)
	c := dial(t, e, "12345", "13800138002", media.PCMA)
	eventually(t, 300, "the menu plays", func() bool { return hasTone(heard(c.rtp.packets()), toneMenu) })
	c.rtp.press(9)
	eventually(t, 300, "the hot-topic answer plays", func() bool { return hasTone(heard(c.rtp.packets()), toneAnswer) })
	c.rtp.press(2)
	ct := waitQueued(t, e, "12345")
	require.Equal(t, "consumer", ct.Queue)
	require.Equal(t, "+8613800138002", ct.Citizen.Phone)
	eventually(t, 300, "hold audio once queued", func() bool {
		seq := sequence(c.rtp.packets())
		return seq[len(seq)-1] == toneHold
	})
	seq := sequence(c.rtp.packets())
	// The key may cut the answer short or come after it, with the menu again.
	require.GreaterOrEqual(t, len(seq), 4, "heard %v", seq)
	require.Equal(t, []float64{toneWelcome, toneMenu, toneAnswer}, seq[:3], "heard %v", seq)
	require.Equal(t, toneHold, seq[len(seq)-1], "hold audio once queued: %v", seq)
	c.hangup(t)
}

// TestMenuNoInput: with no key the caller goes to the line's queue.
func TestMenuNoInput(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		withMenu(c)
		m := c.Menus["12345"]
		m.Timeout = 300 * time.Millisecond
		c.Menus["12345"] = m
	})
	c := dial(t, e, "12345", "13800138003", media.PCMU)
	ct := waitQueued(t, e, "12345")
	require.Equal(t, "general", ct.Queue)
	c.hangup(t)
}

// TestMergedLine: a call to a merged hotline waits in that line's queue.
func TestMergedLine(t *testing.T) {
	e := newEnv(t)
	c := dial(t, e, "12315", "02887654321", media.PCMU)
	ct := waitQueued(t, e, "12315")
	require.Equal(t, "consumer", ct.Queue)
	require.Equal(t, queue.ChannelVoice, ct.Channel)
	c.hangup(t)
}

// TestAbandonWhileWaiting: a caller who hangs up while waiting ends
// abandoned, and an agent who becomes ready after is never rung for it.
func TestAbandonWhileWaiting(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 0)
	c := dial(t, e, "12345", "13800138004", media.PCMU)
	ct := waitQueued(t, e, "12345")
	c.hangup(t)
	eventually(t, 300, "the contact ends abandoned", func() bool {
		got, err := e.q.Contact(context.Background(), ct.TrackingNo)
		return err == nil && got.State == queue.StateClosed && got.Outcome == queue.OutcomeAbandoned
	})
	e.seat("1001")
	_, err := e.q.Sweep(context.Background())
	require.NoError(t, err)
	require.Nil(t, ph.contact.Load(), "the phone was rung for an abandoned call")
	st, err := e.q.Status(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, queue.AgentReady, st.State)
}

// TestAbandonWhileRinging: the caller hangs up while the agent's phone
// rings: ringing stops, the agent is free and charged no miss.
func TestAbandonWhileRinging(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", time.Hour)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138005", media.PCMU)
	eventually(t, 300, "the phone rings", func() bool { return ph.contact.Load() != nil })
	c.hangup(t)
	tn := ph.contact.Load().(string)
	eventually(t, 300, "abandoned", func() bool {
		got, err := e.q.Contact(context.Background(), tn)
		return err == nil && got.Outcome == queue.OutcomeAbandoned
	})
	eventually(t, 300, "the agent is ready again", func() bool {
		st, err := e.q.Status(context.Background(), "1001")
		return err == nil && st.State == queue.AgentReady && st.Misses == 0
	})
}

// TestTwoNodes: a call answered on node A is taken by an agent whose desk is
// on node B and whose phone registered through node B.
func TestTwoNodes(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.redis, "node-b")
	ph := newPhone(t, b, "1002", 200*time.Millisecond)
	b.seat("1002")
	c := dial(t, a, "12345", "13800138006", media.PCMU)
	eventually(t, 500, "the caller on A hears the agent of B", func() bool { return hasTone(heard(c.rtp.packets()), toneAgent) })
	eventually(t, 200, "the agent hears the caller", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	tn := ph.contact.Load().(string)
	ct, err := a.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, "1002", ct.Agent)
	require.Equal(t, "node-a", ct.Node, "the contact records the node holding the audio")
	c.hangup(t)
	eventually(t, 300, "wrap-up", func() bool {
		got, err := b.q.Contact(context.Background(), tn)
		return err == nil && got.State == queue.StateWrapUp
	})
}

// TestRegisterWrongPassword: a wrong password is 403 and the agent is not
// offered calls.
func TestRegisterWrongPassword(t *testing.T) {
	e := newEnv(t)
	p := &phone{ua: newUA(t, "1001")}
	p.register(t, e, "wrong", 403)
}
