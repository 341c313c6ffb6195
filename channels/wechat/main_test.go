package wechat_test

import (
	"errors"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/lianxin/lianxin/queue"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var (
	_ wechat.Queue     = (*queue.Queue)(nil)
	_ wechat.Blobs     = (*blobstore.Dir)(nil)
	_ channels.Replier = (*wechat.Channel)(nil)
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }
