package archive_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// footprint is Redis's memory by key family ("c", "m", "events", …), from
// MEMORY USAGE of every key, and the number of keys of each.
func (e *env) footprint() (bytes, keys map[string]int64) {
	e.t.Helper()
	bytes, keys = map[string]int64{}, map[string]int64{}
	iter := e.rdb.Scan(e.ctx, 0, "*", 1000).Iterator()
	for iter.Next(e.ctx) {
		k := iter.Val()
		fam := strings.TrimPrefix(k, "{lianxin}:")
		fam, _, _ = strings.Cut(fam, ":")
		n, err := e.rdb.MemoryUsage(e.ctx, k).Result()
		if err != nil {
			continue // gone meanwhile
		}
		bytes[fam] += n
		keys[fam]++
	}
	require.NoError(e.t, iter.Err())
	return bytes, keys
}

// Contacts come in, are handled and closed, round after round; the archiver
// archives them, trims the stream and forgets them after the retention.
// Redis's memory stays flat: the keys of contacts, messages, histories and
// the stream do not grow with the contacts handled. (The one-shot call keys
// that make every state change idempotent expire after 10 minutes of
// Redis's own clock: they are counted apart, bounded by 10 minutes of
// traffic.)
func TestRedisMemoryFlatWhileArchiving(t *testing.T) {
	e := newEnv(t)
	s, err := e.q.Connect(e.ctx, queue.Profile{ID: "1001", Name: "王芳", Skills: map[string]int{"general": 3},
		Capacity: map[queue.Channel]int{queue.ChannelSMS: 1, queue.ChannelWeChat: 1}})
	require.NoError(t, err)
	require.NoError(t, e.q.SetPresence(e.ctx, "1001", s.ID, queue.PresenceReady, ""))
	a := e.runArchiver(archive.Options{KeepEvents: -1, Retention: time.Minute, Now: e.clock.Now, Tidy: time.Hour})

	const rounds, perRound = 8, 300
	var flat []int64
	for round := range rounds {
		for i := range perRound {
			e.clock.Add(time.Second)
			ch := []queue.Channel{queue.ChannelSMS, queue.ChannelWeChat}[i%2]
			who := fmt.Sprintf("+86138%04d%04d", round, i)
			r, err := e.q.Receive(e.ctx, queue.Intake{Channel: ch, Line: "12345", Queue: "general",
				Text:    "第" + fmt.Sprint(round) + "轮的诉求，内容长一些，像真的来信一样：小区门口的路灯坏了三天了，晚上很黑。",
				Citizen: queue.Citizen{Address: who, Phone: who}}, "")
			require.NoError(t, err)
			require.NoError(t, e.q.Accept(e.ctx, "1001", r.TrackingNo))
			require.NoError(t, e.q.AddMessage(e.ctx, r.TrackingNo, queue.Message{From: queue.FromAgent, Agent: "1001", Text: "已记录，转城管处理"}))
			require.NoError(t, e.q.WrapUp(e.ctx, "1001", r.TrackingNo, queue.RequestHelp, queue.OutcomeDispatched, ""))
		}
		want := (round + 1) * perRound
		require.Eventually(t, func() bool { return e.count(`SELECT count(*) FROM contacts`) == want },
			2*time.Minute, 50*time.Millisecond)
		require.Eventually(t, func() bool {
			p, err := e.rdb.XPending(e.ctx, "{lianxin}:events", "archive").Result()
			return err == nil && p.Count == 0
		}, time.Minute, 20*time.Millisecond)
		e.clock.Add(10 * time.Minute) // the round's contacts are past the retention
		a.Tidy(e.ctx)
		bytes, keys := e.footprint()
		var total, calls int64
		var fams []string
		for f, n := range bytes {
			if f == "call" {
				calls += n
				continue
			}
			total += n
			fams = append(fams, fmt.Sprintf("%s=%d/%dB", f, keys[f], n))
		}
		sort.Strings(fams)
		info := "?"
		for _, line := range strings.Split(e.rdb.Info(e.ctx, "memory").Val(), "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				info = v
			}
		}
		t.Logf("round %d: %d contacts handled; Redis used_memory %s B; keys other than call keys %d B (%s); call keys %d (%d B)",
			round+1, want, info, total, strings.Join(fams, " "), keys["call"], calls)
		require.Zero(t, keys["c"], "closed contacts left Redis")
		require.Zero(t, keys["m"])
		require.Zero(t, keys["hist"])
		flat = append(flat, total)
	}
	// From the second round on (the first warms up agents' and queues' keys),
	// the footprint does not grow with the contacts handled.
	for _, n := range flat[2:] {
		require.LessOrEqual(t, n, flat[1]+flat[1]/10, "memory grows with the contacts handled: %v", flat)
	}
}
