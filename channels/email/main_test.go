package email

import (
	"context"
	"github.com/lianxin/lianxin/channels"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var (
	_ Receiver = (*queue.Queue)(nil)
	_ Blobs    = (*blobstore.Dir)(nil)
)

// The mailbox of the corpus, as the directory has it.
const (
	boxAddr = "cd-city-0002@mail.12345.chengdu.gov.cn"
	boxID   = "cd-city-0002"
)

func lookup(addr string) (channels.Mailbox, bool) {
	return channels.Mailbox{ID: boxID, Name: "市长信箱", Queue: "general"}, addr == boxAddr
}

// env is one e-mail channel listening on a loopback port, on a real queue,
// with a fake relay that takes its mail.
type env struct {
	s     *Server
	q     *queue.Queue
	rdb   *redis.Client
	blobs *blobstore.Dir
	// blobDir is where blobs keeps its files.
	blobDir string
	addr    string
	relay   *fakeRelay
	dns     *fakeDNS
	cancel  context.CancelFunc
	done    chan error
}

// start runs the channel on redis (a queuetest server). edit changes the
// options the test needs; relay may be nil for none.
func start(t testing.TB, rs *queuetest.Server, relay *fakeRelay, edit func(*Options)) *env {
	t.Helper()
	rdb := rs.Client(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	blobDir := t.TempDir()
	blobs, err := blobstore.NewDir(blobDir)
	require.NoError(t, err)
	o := Options{Addr: "127.0.0.1:0", MaxMessageBytes: 4 << 20, MaxAttachmentBytes: 2 << 20}
	o.Relay.AckBackoff = 10 * time.Millisecond
	if relay != nil {
		o.Relay.Addr = relay.addr
	}
	if edit != nil {
		edit(&o)
	}
	dns := newFakeDNS()
	p := Params{Options: o, Lookup: lookup, Queue: q, Blobs: blobs, Threads: NewRedisThreads(rdb, "{lianxin}:", time.Hour),
		Outbox: q.Outbox("mail-acks"), Logger: zaptest.NewLogger(t), Resolver: dns}
	if relay != nil {
		p.RelayTLS = relay.clientTLS
	}
	s, err := New(p)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", o.Addr)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{s: s, q: q, rdb: rdb, blobs: blobs, blobDir: blobDir, addr: ln.Addr().String(), relay: relay, dns: dns, cancel: cancel,
		done: make(chan error, 1)}
	go func() { e.done <- s.Serve(ctx, ln) }()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	<-e.done
}

// ctx is a generous bound for one step of a test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}
