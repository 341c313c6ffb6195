package queue

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// funcs runs the queue's scripts as the functions of one Redis Functions
// library (scriptHeads.library) where Redis has them (7.0 and later), and
// as scripts (EVALSHA) where it does not: the embedded store, an older
// Redis. A script's head (the prelude's functions and tables) is then
// defined once, when the library is loaded, instead of on every call.
type funcs struct {
	name, code string                   // the library
	of         map[*redis.Script]string // each script's function
	scope      string                   // the start of the names of the deployment's libraries
	// scriptsOnly: Redis said it has no functions; every call is a script
	// from then on.
	scriptsOnly atomic.Bool
	loading     sync.Mutex
	// loads counts this process's loads of the library: a call that failed
	// for want of it, begun before a load that another call made meanwhile,
	// is only made again (see again).
	loads atomic.Uint64
	// loadedKey is the hash of each library's last load by a client (ms,
	// by now): see dropOldLibraries.
	loadedKey string
	now       func() time.Time
}

// libraryGrace is how long after its last load a library that no node has
// named stays in Redis (dropOldLibraries): the library of a client that
// runs the scripts without a heartbeat (the load tool's enqueuers, a node
// before its first heartbeat) is loaded again at most once a grace, not
// after every Tidy (every 5 s), each load holding Redis for 3–6 ms.
const libraryGrace = 10 * time.Minute

func (f *funcs) init(hs *scriptHeads, byName map[string]*redis.Script, tag, prefix string, now func() time.Time) error {
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	name, code, fns, err := hs.library(names, tag)
	if err != nil {
		return err
	}
	f.name, f.code, f.of, f.scope = name, code, map[*redis.Script]string{}, libraryScope(tag)
	f.loadedKey, f.now = prefix+"libloaded", now
	for name, s := range byName {
		f.of[s] = fns[name]
	}
	return nil
}

// again says whether a function's call that failed as cmd did is to be
// made again: Redis did not have the library (a new or restarted Redis, a
// new primary that never had it, FUNCTION FLUSH), which is now loaded; or
// Redis has no functions at all, so the call is made as a script
// (scriptsOnly). A library that fails to load sets cmd's error to why.
// gen is f.loads as the call began: when every call in flight fails at
// once (a restarted Redis under a node's hundred connections), one loads
// the library and the rest only call again. The load does not REPLACE: a
// library's name is its code's hash, so one of that name, loaded by another
// node meanwhile, is this code, and Redis says so before compiling it (a
// REPLACE compiles the 100 KB library again, 3–6 ms during which Redis
// serves nobody).
func (f *funcs) again(ctx context.Context, rdb redis.UniversalClient, cmd *redis.Cmd, gen uint64) bool {
	err := cmd.Err()
	switch {
	case err == nil:
		return false
	case noCommand(err):
		f.scriptsOnly.Store(true)
		return true
	case !redis.HasErrorPrefix(err, "Function not found"):
		return false
	}
	f.loading.Lock()
	defer f.loading.Unlock()
	if f.loads.Load() != gen {
		return true
	}
	err = rdb.FunctionLoad(ctx, f.code).Err()
	switch {
	case err == nil:
		f.loads.Add(1)
		// Noted for dropOldLibraries; a note lost costs only a load more.
		_ = rdb.HSet(ctx, f.loadedKey, f.name, f.now().UnixMilli()).Err()
		return true
	case redis.HasErrorPrefix(err, "Library") && strings.HasSuffix(err.Error(), "already exists"):
		f.loads.Add(1)
		return true
	case noCommand(err):
		f.scriptsOnly.Store(true)
		return true
	}
	cmd.SetErr(fmt.Errorf("queue: loading the scripts' library: %w", err))
	return false
}

// noCommand says whether err is Redis not knowing a command (FCALL,
// FUNCTION), or not letting this client run it (an ACL without them, as
// some hosted Redis services have): scripts only, then.
// Only an error about FCALL or FUNCTION itself counts: one a function's
// own command met is that command's, and the call is not made again.
func noCommand(err error) bool {
	msg := strings.ToLower(err.Error())
	return (redis.HasErrorPrefix(err, "unknown command") || redis.HasErrorPrefix(err, "NOPERM")) &&
		(strings.Contains(msg, "'fcall'") || strings.Contains(msg, "`fcall`") || strings.Contains(msg, "'function") ||
			strings.Contains(msg, "`function`"))
}

// dropOldLibraries deletes the deployment's libraries that no live node
// uses (each node's heartbeat names its library in "libs"): an older
// version's, once its nodes are gone. A library no node's heartbeat names
// is a client's that runs the scripts without one (the load tool's
// enqueuers), a node's before its first heartbeat, or an old version's
// whose node came back under its name with a new one: it stays until
// libraryGrace after its last load ("libloaded"), and one loaded before
// loads were noted goes. A library deleted under a client that still uses
// it is loaded again by that client's next call. Returns how many it
// deleted.
func (q *Queue) dropOldLibraries(ctx context.Context) (int, error) {
	if q.fn.scriptsOnly.Load() {
		return 0, nil
	}
	libs, err := q.rdb.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: q.fn.scope + "*"}).Result()
	if err != nil {
		if noCommand(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("queue: listing the scripts' libraries: %w", err)
	}
	if len(libs) == 0 || len(libs) == 1 && libs[0].Name == q.fn.name {
		return 0, nil
	}
	live, err := q.rdb.ZRange(ctx, q.key("nodes"), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: live nodes: %w", err)
	}
	named, err := q.rdb.HGetAll(ctx, q.key("libs")).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: the nodes' libraries: %w", err)
	}
	loaded, err := q.rdb.HGetAll(ctx, q.fn.loadedKey).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: the libraries' loads: %w", err)
	}
	keep := map[string]bool{q.fn.name: true}
	for _, n := range live {
		keep[named[n]] = true
	}
	byNode := map[string]bool{}
	for _, l := range named {
		byNode[l] = true
	}
	since := q.o.Now().Add(-libraryGrace).UnixMilli()
	dropped := 0
	for _, l := range libs {
		if keep[l.Name] {
			continue
		}
		if at, err := strconv.ParseInt(loaded[l.Name], 10, 64); err == nil && at > since && !byNode[l.Name] {
			continue
		}
		if err := q.rdb.FunctionDelete(ctx, l.Name).Err(); err != nil && !redis.HasErrorPrefix(err, "Library not found") {
			return dropped, fmt.Errorf("queue: deleting library %s: %w", l.Name, err)
		}
		_ = q.rdb.HDel(ctx, q.fn.loadedKey, l.Name).Err() // one left behind is overwritten by the next load
		q.log.Info("scripts' library of no live node deleted", zap.String("library", l.Name))
		dropped++
	}
	return dropped, nil
}
