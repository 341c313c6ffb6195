package queue_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// readCommands runs q.Commands until it has handled n commands.
func readCommands(t *testing.T, q *queue.Queue, n int) []queue.Command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []queue.Command
	require.NoError(t, q.Commands(ctx, func(c queue.Command) {
		got = append(got, c)
		if len(got) == n {
			cancel()
		}
	}))
	return got
}

func TestCommandStreamSurvivesARestart(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		b := e.node("node-b") // the node of an agent's desk
		send := func(typ, tn string) {
			require.NoError(t, b.SendCommand(e.ctx, "node-a", queue.Command{Type: typ, TrackingNo: tn, Agent: "1001",
				Args: map[string]string{"to": "120"}}))
		}
		types := func(cs []queue.Command) []string {
			var out []string
			for _, c := range cs {
				out = append(out, c.Type+":"+c.TrackingNo)
			}
			return out
		}
		// Sent before node A ever read: not lost.
		send("hold", "1")
		send("unhold", "2")
		send("hangup", "3")
		require.NoError(t, b.SendCommand(e.ctx, "node-c", queue.Command{Type: "hangup", TrackingNo: "other"}))

		pending := func(q *queue.Queue) []string {
			var cs []queue.Command
			require.NoError(t, q.PendingCommands(e.ctx, func(c queue.Command) bool {
				cs = append(cs, c)
				return true
			}))
			return types(cs)
		}
		require.Equal(t, []string{"hold:1", "unhold:2", "hangup:3"}, pending(e.q), "node A's, none handled")

		got := readCommands(t, e.q, 2) // stops after two, the third already read from Redis
		require.Equal(t, []string{"hold:1", "unhold:2"}, types(got))
		require.Equal(t, []string{"hangup:3"}, pending(e.q), "read, but not handled")
		require.Equal(t, "1001", got[0].Agent)
		require.Equal(t, map[string]string{"to": "120"}, got[0].Args)
		require.NotEmpty(t, got[0].ID)

		// Node A restarts (a new handle, same node id); more commands came meanwhile.
		send("transfer", "4")
		restarted := e.node("node-a")
		got = readCommands(t, restarted, 2)
		require.Equal(t, []string{"hangup:3", "transfer:4"}, types(got), "no replay, no skip")
		require.Empty(t, pending(restarted))

		// Read while waiting: a command sent after the reader blocks still comes.
		done := make(chan []queue.Command)
		go func() { done <- readCommands(t, restarted, 1) }()
		send("hangup", "5")
		require.Equal(t, []string{"hangup:5"}, types(<-done))

		// A backlog longer than a page is read to its end, and a reader
		// that found what it looked for stops there.
		for i := range 250 {
			send("hold", strconv.Itoa(100+i))
		}
		send("transfer", "6")
		send("hangup", "7")
		all := pending(restarted)
		require.Len(t, all, 252)
		require.Equal(t, []string{"hold:100", "hold:349", "transfer:6", "hangup:7"},
			[]string{all[0], all[249], all[250], all[251]})
		seen := 0
		require.NoError(t, restarted.PendingCommands(e.ctx, func(c queue.Command) bool {
			seen++
			return c.Type != "transfer"
		}))
		require.Equal(t, 251, seen, "stopped at the transfer")

		require.ErrorIs(t, b.SendCommand(e.ctx, "", queue.Command{Type: "x"}), queue.ErrInvalid)
		require.ErrorIs(t, b.SendCommand(e.ctx, "node-a", queue.Command{}), queue.ErrInvalid)
	})
}

func TestBadCommandsAreSkipped(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		rdb := s.Client(t)
		for _, vals := range [][]any{
			{"type", "hangup", "contact", "1", "args", "{not json"},
			{"contact", "2"}, // no type
		} {
			require.NoError(t, rdb.XAdd(e.ctx, &redis.XAddArgs{Stream: "{lianxin}:cmd:node-a", Values: vals}).Err())
		}
		require.NoError(t, e.q.SendCommand(e.ctx, "node-a", queue.Command{Type: "hangup", TrackingNo: "3"}))
		got := readCommands(t, e.q, 1)
		require.Equal(t, "3", got[0].TrackingNo)
		require.Nil(t, got[0].Args)
	})
}
