package agentdesk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/stretchr/testify/require"
)

// fakeMonitors is the voice side of the silent monitor: it records what it
// was asked and tells the desk it is listening.
type fakeMonitors struct {
	Softphone // not used by these tests
	mu        sync.Mutex
	calls     []string
	listening map[string]bool
}

func (f *fakeMonitors) Monitor(_ context.Context, sup, agent, contact string, notify func(any)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("monitor %s %s %s", sup, agent, contact))
	if f.listening == nil {
		f.listening = map[string]bool{}
	}
	f.listening[sup] = true
	notify(map[string]any{"type": "monitoring", "state": "listening", "agent": agent, "contact": contact})
	return nil
}

func (f *fakeMonitors) MonitorStop(sup string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop "+sup)
	if !f.listening[sup] {
		return &codedError{"not_monitoring", "the supervisor is not listening in to a call"}
	}
	delete(f.listening, sup)
	return nil
}

func (f *fakeMonitors) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

// TestMonitorMessages: monitor and monitor_stop, from a supervisor's desk
// and wallboard; bad ones are refused naming the field, an agent's is
// forbidden, and the voice side is not asked anything for them.
func TestMonitorMessages(t *testing.T) {
	f := &fakeMonitors{}
	e := startDesk(t, func(p *Params) { p.Softphone = f })
	sup := e.seat(t, "1005")
	ag := e.seat(t, "1001")

	requireError(t, reply(t, ag, "monitor", map[string]any{"agent": "1002"}), "forbidden", "班长")
	requireError(t, reply(t, ag, "monitor_stop", nil), "forbidden", "班长")
	for _, c := range []struct {
		fields  map[string]any
		mention string
	}{
		{map[string]any{}, "agent:"},
		{map[string]any{"agent": "1001", "contact": "2611260000015"}, "agent:"},
		{map[string]any{"agent": strings.Repeat("9", 65)}, "agent:"},
		{map[string]any{"contact": "2611260000016"}, "contact:"},
	} {
		requireError(t, reply(t, sup, "monitor", c.fields), "bad_message", c.mention)
	}
	requireError(t, reply(t, sup, "monitor", map[string]any{"agent": "9999"}), "not_found", "9999")
	require.Empty(t, f.log(), "nothing reached the voice side")

	require.Equal(t, "ack", reply(t, sup, "monitor", map[string]any{"agent": "1001"}).Type)
	m := next(t, sup, "monitoring")
	require.JSONEq(t, `{"type":"monitoring","state":"listening","agent":"1001","contact":""}`, string(m.Raw))
	require.Equal(t, "ack", reply(t, sup, "monitor_stop", nil).Type)
	requireError(t, reply(t, sup, "monitor_stop", nil), "not_monitoring", "not listening")

	w := e.wallboard(t)
	require.Equal(t, "ack", reply(t, w, "monitor", map[string]any{"contact": "2611260000015"}).Type)
	require.Contains(t, string(next(t, w, "monitoring").Raw), "2611260000015")
	requireError(t, reply(t, w, "monitor", map[string]any{"contact": "1"}), "bad_message", "contact:")
	require.Equal(t, "ack", reply(t, w, "monitor_stop", nil).Type)
	require.Equal(t, "monitor 1005 1001 ; stop 1005; stop 1005; monitor 1005  2611260000015; stop 1005", f.log())
}

// A node without voice refuses monitor with no_monitor.
func TestMonitorWithoutVoice(t *testing.T) {
	e := startDesk(t)
	sup := e.seat(t, "1005")
	requireError(t, reply(t, sup, "monitor", map[string]any{"agent": "1001"}), "no_monitor", "监听")
	var w *desktest.Client = e.wallboard(t)
	requireError(t, reply(t, w, "monitor_stop", nil), "no_monitor", "监听")
}
