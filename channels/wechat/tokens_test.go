package wechat_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// Two nodes share one access token through Redis: the second node does not
// fetch its own (which would invalidate the first node's).
func TestNodesShareTheAccessToken(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s)
	ctx := context.Background()
	store := wechat.NewRedisTokens(s.Client(t), "{lianxin}:")
	node1, err := wechat.New(testConfig(e.api.URL), zaptest.NewLogger(t), e.calls, e.blobs, wechat.WithTokenStore(store))
	require.NoError(t, err)
	node2, err := wechat.New(testConfig(e.api.URL), zaptest.NewLogger(t), e.calls, e.blobs, wechat.WithTokenStore(store))
	require.NoError(t, err)
	c := e.contactFrom(acctSafe)

	require.NoError(t, node1.Reply(ctx, c, "第一条回复"))
	require.NoError(t, node2.Reply(ctx, c, "第二条回复"))
	require.Equal(t, 1, e.api.issuedTokens(), "one token for both nodes")

	// The token goes stale: the node that finds out fetches a new one, and
	// the other picks it up from the store when its own is refused.
	e.api.expireTokens()
	require.NoError(t, node2.Reply(ctx, c, "第三条回复"))
	require.NoError(t, node1.Reply(ctx, c, "第四条回复"))
	require.Equal(t, 2, e.api.issuedTokens())

	tok, exp, err := store.Token(ctx, acctSafe)
	require.NoError(t, err)
	require.Equal(t, "ACCESS_TOKEN_2", tok)
	require.True(t, exp.After(time.Now()))
}
