// Package queuetest starts the Redis servers that tests of the queue, and of
// everything built on it, run against: a real redis-server on a free port,
// and the embedded miniredis. Neither relies on a server someone else started.
package queuetest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is one running Redis for a test.
type Server struct {
	Name string // "redis-server" or "miniredis"
	Addr string
	URL  string
	// Dir is redis-server's working directory (its append-only files).
	Dir   string
	cmd   *exec.Cmd
	mini  *miniredis.Miniredis
	bin   string
	port  int
	args  []string
	under []string
}

// Pid is redis-server's process (0 for miniredis, or once killed).
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Client returns a new client of s, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server at once (SIGKILL for redis-server), for tests of what
// happens when Redis goes away.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
	if s.mini != nil {
		s.mini.Close()
	}
}

// RealTime raises redis-server to real-time priority (SCHED_FIFO) where the
// machine allows it (root), and says whether it did. Redis's figures of its
// own time per command (INFO commandstats, SLOWLOG, LATENCY) are time from a
// command's start to its end, so on a shared machine they also count the
// time Redis waited for a core; at real-time priority it waits for none, and
// they measure Redis's work. miniredis has no process of its own: false.
func (s *Server) RealTime(tb testing.TB) bool {
	tb.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		return false
	}
	out, err := exec.Command("chrt", "-f", "-p", "50", strconv.Itoa(s.cmd.Process.Pid)).CombinedOutput()
	if err != nil {
		tb.Logf("redis-server stays at normal priority (its times count its waits for a core): %v %s", err, out)
		return false
	}
	return true
}

// RedisServer starts a real redis-server on a free loopback port for the
// test and stops it when the test ends. The suite's test command installs
// redis-server; without it the test fails, naming what is missing.
func RedisServer(t testing.TB) *Server {
	t.Helper()
	return RedisServerWith(t)
}

// RedisServerWith is RedisServer with more arguments for redis-server, which
// override the defaults (e.g. "--appendonly", "yes").
func RedisServerWith(t testing.TB, args ...string) *Server {
	t.Helper()
	return RedisServerUnder(t, nil, args...)
}

// RedisServerUnder is RedisServerWith with redis-server run by the program
// and arguments of under (e.g. valgrind's, to count the instructions Redis
// runs: see BenchmarkScripts); Pid is redis-server's own process either way.
func RedisServerUnder(t testing.TB, under []string, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (run the README's test command, which installs it): %v", err)
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		s, err := startRedis(bin, port, t.TempDir(), args, under)
		if err == nil {
			t.Cleanup(s.Kill)
			return s
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// Restart starts a killed redis-server again on the same port and directory,
// so it loads what its append-only file kept.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.bin == "" || s.cmd != nil {
		t.Fatalf("restart %s: only a killed redis-server restarts", s.Name)
	}
	n, err := startRedis(s.bin, s.port, s.Dir, s.args, s.under)
	if err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	s.cmd = n.cmd
}

func startRedis(bin string, port int, dir string, args, under []string) (*Server, error) {
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "no",
		"--enable-debug-command", "local"}, args...) // DEBUG SLEEP: tests pause Redis
	cmd := exec.Command(bin, all...)
	if len(under) > 0 {
		cmd = exec.Command(under[0], slices.Concat(under[1:], []string{bin}, all)...)
	}
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var lines []string
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent {
				lines = append(lines, line)
			}
			if !sent && strings.Contains(line, "Ready to accept connections") {
				ready <- nil
				sent = true
			}
		}
		if !sent {
			ready <- fmt.Errorf("redis-server exited: %s", strings.Join(lines, "\n"))
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			return nil, err
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("redis-server did not start")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &Server{Name: "redis-server", Addr: addr, URL: "redis://" + addr + "/0", Dir: dir, cmd: cmd, bin: bin,
		port: port, args: args, under: under}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Miniredis starts the embedded store on a loopback port for the test.
func Miniredis(t testing.TB) *Server {
	t.Helper()
	m := miniredis.RunT(t)
	return &Server{Name: "miniredis", Addr: m.Addr(), URL: "redis://" + m.Addr() + "/0", mini: m}
}

// Each runs f once on a real redis-server and once on miniredis, as subtests.
func Each(t *testing.T, f func(t *testing.T, s *Server)) {
	t.Helper()
	for _, start := range []func(testing.TB) *Server{RedisServer, Miniredis} {
		s := start(t)
		t.Run(s.Name, func(t *testing.T) { f(t, s) })
	}
}

// Flush empties s, for tests that share one server.
func Flush(t testing.TB, s *Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("flush %s: %v", s.Name, err)
	}
}

// Replica starts a real redis-server replicating primary (a redis-server)
// and waits until its link is up and the first sync is done. The primary's
// repl-diskless-sync-delay is set to 0 first: Redis 7 otherwise waits 5 s
// before a replica's first sync.
func Replica(t testing.TB, primary *Server) *Server {
	t.Helper()
	if primary.bin == "" {
		t.Fatalf("replica: %s has no replicas", primary.Name)
	}
	ctx := context.Background()
	pc := redis.NewClient(&redis.Options{Addr: primary.Addr})
	defer pc.Close()
	if err := pc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatalf("replica: %v", err)
	}
	host, port, _ := net.SplitHostPort(primary.Addr)
	r := RedisServerWith(t, "--replicaof", host, port)
	WaitReplicaUp(t, r)
	return r
}

// WaitReplicaUp waits until s reports master_link_status:up.
func WaitReplicaUp(t testing.TB, s *Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	for i := 0; ; i++ {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if i > 600 {
			t.Fatalf("replica %s: link to its primary not up after 60 s: %v %s", s.Addr, err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
