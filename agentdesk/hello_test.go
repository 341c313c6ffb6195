package agentdesk

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// The desk learns the channels from hello: the queue's one list.
func TestHelloListsTheChannels(t *testing.T) {
	e := startDesk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := desktest.Dial(ctx, e.base, e.login(t, "1001"))
	require.NoError(t, err)
	defer c.Close()
	m := next(t, c, "hello")
	var hello struct {
		Channels []queue.Channel `json:"channels"`
	}
	require.NoError(t, json.Unmarshal(m.Raw, &hello))
	require.Equal(t, queue.Channels, hello.Channels)
}
