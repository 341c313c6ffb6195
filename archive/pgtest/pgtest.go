// Package pgtest starts a PostgreSQL server of the test's own: initdb in a
// temporary folder, a free loopback port, fsync off, stopped when the test
// ends. It never uses a server someone else started (5432 may be taken).
// The suite's test command (scripts/install-test-deps.sh) installs Debian's
// postgresql when its initdb is missing.
//
// initdb and postgres refuse to run as root: as root, they run as the
// postgres user (runuser), in a folder made with mkdtemp and given to that
// user, since t.TempDir() makes a folder only root can enter.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// Server is one running PostgreSQL for a test.
type Server struct {
	// URL of the database "lianxin" on it.
	URL  string
	Port int
	dir  string
	bin  string
}

var template struct {
	once sync.Once
	dir  string // a data folder made by initdb, copied for each server
	bin  string
	err  error
}

// Start starts a server with an empty database "lianxin" and stops it (and
// removes its files) when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	template.once.Do(makeTemplate)
	if template.err != nil {
		t.Fatalf("pgtest: %v", template.err)
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		s, err := start()
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("pgtest: start postgres: %v", lastErr)
	return nil
}

// Stop stops the server at once and removes its files.
func (s *Server) Stop() {
	if s.dir == "" {
		return
	}
	_ = asPostgres(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(s.dir)
	s.dir = ""
}

// initdbBinaries finds the newest installed PostgreSQL's bin folder.
func initdbBinaries() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("PostgreSQL's initdb is not installed (run scripts/install-test-deps.sh, which installs Debian's postgresql)")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// makeTemplate runs initdb once per machine and PostgreSQL version: the data
// folder is kept in the temporary folder (39 MB) and copied for each server,
// which takes a fifth of initdb's time.
func makeTemplate() {
	template.bin, template.err = initdbBinaries()
	if template.err != nil {
		return
	}
	keep := filepath.Join(os.TempDir(), "lianxin-pg-template-"+filepath.Base(filepath.Dir(template.bin)))
	if _, err := os.Stat(filepath.Join(keep, "data", "PG_VERSION")); err == nil {
		template.dir = keep
		return
	}
	dir, err := ownedDir()
	if err != nil {
		template.err = err
		return
	}
	out, err := asPostgres(filepath.Join(template.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput()
	if err != nil {
		template.err = fmt.Errorf("initdb: %v: %s", err, out)
		return
	}
	// Another test process may have made it meanwhile: then use that one.
	if err := os.Rename(dir, keep); err != nil {
		_ = os.RemoveAll(dir)
	}
	template.dir = keep
}

func start() (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := ownedDir()
	if err != nil {
		return nil, err
	}
	s := &Server{Port: port, dir: dir, bin: template.bin}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("cp", "-a", filepath.Join(template.dir, "data"), data).CombinedOutput(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("copy template: %v: %s", err, out)
	}
	out, err := s.pgctlStart()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		s.Stop()
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	if out, err := asPostgres(filepath.Join(template.bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-U", "postgres", "lianxin").CombinedOutput(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("createdb: %v: %s", err, out)
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/lianxin?sslmode=disable", port)
	return s, nil
}

func (s *Server) pgctlStart() ([]byte, error) {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=60", s.Port, s.dir)
	return asPostgres(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-w", "-l",
		filepath.Join(s.dir, "log"), "-o", opts, "start").CombinedOutput()
}

// Pause stops the server (fast shutdown: connections are closed) and keeps
// its data: clients get connection refused until Resume.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	out, err := asPostgres(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w",
		"stop").CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: pause: %v: %s", err, out)
	}
}

// Resume starts a paused server again on the same port, with its data.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if out, err := s.pgctlStart(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		t.Fatalf("pgtest: resume: %v: %s %s", err, out, log)
	}
}

// ownedDir makes a temporary folder the server's user may enter and own.
func ownedDir() (string, error) {
	dir, err := os.MkdirTemp("", "lianxin-pg-")
	if err != nil {
		return "", err
	}
	if os.Geteuid() != 0 {
		return dir, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("running as root needs the postgres user (Debian's postgresql makes it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// asPostgres runs a command as the postgres user when we are root.
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
