package queue

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

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
}

func (f *funcs) init(hs *scriptHeads, byName map[string]*redis.Script, tag string) error {
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
func (f *funcs) again(ctx context.Context, rdb redis.UniversalClient, cmd *redis.Cmd) bool {
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
	err = rdb.FunctionLoadReplace(ctx, f.code).Err()
	switch {
	case err == nil:
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
// version's, once its nodes are gone. A library deleted under a node that
// still lives (one started a moment ago, not yet heard from) is loaded
// again by that node's next call. Returns how many it deleted.
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
	used := map[string]bool{q.fn.name: true}
	nodes, err := q.rdb.ZRange(ctx, q.key("nodes"), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: live nodes: %w", err)
	}
	if len(nodes) > 0 {
		names, err := q.rdb.HMGet(ctx, q.key("libs"), nodes...).Result()
		if err != nil {
			return 0, fmt.Errorf("queue: the live nodes' libraries: %w", err)
		}
		for _, n := range names {
			if s, ok := n.(string); ok {
				used[s] = true
			}
		}
	}
	dropped := 0
	for _, l := range libs {
		if used[l.Name] {
			continue
		}
		if err := q.rdb.FunctionDelete(ctx, l.Name).Err(); err != nil && !redis.HasErrorPrefix(err, "Library not found") {
			return dropped, fmt.Errorf("queue: deleting library %s: %w", l.Name, err)
		}
		q.log.Info("scripts' library of no live node deleted", zap.String("library", l.Name))
		dropped++
	}
	return dropped, nil
}
