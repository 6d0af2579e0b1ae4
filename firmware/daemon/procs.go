package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// DefaultProcs is how many Ps (GOMAXPROCS) phoned runs its goroutines
// on unless GOMAXPROCS is in the environment: one. A phone's work is a
// few goroutines woken 50 times a second each way in a call; with more
// Ps than that the runtime wakes idle threads to look for work at each
// hand-off (futex wake-ups, spinning in findRunnable) and costs more CPU
// than it saves. Measured side by side with baresip (make test-lean,
// docs/performance.md): GOMAXPROCS=1 cut phoned's CPU per call by about
// a fifth on a 2-core host. A Pi Zero has one core anyway; a Pi 3, 4 or
// Zero 2 W would otherwise get four Ps.
const DefaultProcs = 1

// ApplyProcs sets GOMAXPROCS for the phone once at start: DefaultProcs,
// or what GOMAXPROCS in the environment says (the runtime already
// applied it). It returns the value in effect.
func ApplyProcs(log *slog.Logger) int {
	if os.Getenv("GOMAXPROCS") != "" {
		n := runtime.GOMAXPROCS(0)
		log.Info("GOMAXPROCS from the environment", "procs", n)
		return n
	}
	runtime.GOMAXPROCS(DefaultProcs)
	log.Info("GOMAXPROCS", "procs", DefaultProcs)
	return DefaultProcs
}

// reclaimEvery is the least time between two reclaims after a call.
const reclaimEvery = 10 * time.Second

var lastReclaim atomic.Int64 // unix nanoseconds of the last reclaim after a call

// reclaimAfterCall collects the garbage a call's setup and teardown left
// (SIP transactions, SDP, the session) and returns the freed pages to
// the system, in the background, at most once every reclaimEvery.
// Without it the heap grows below the runtime's 4 MB minimum goal call
// after call until the first collection (RssAnon up 1.5 MB over three
// calls, docs/performance.md); a live heap of about 1 MB takes the
// collector a millisecond or so, once per call.
func reclaimAfterCall() {
	now := time.Now().UnixNano()
	last := lastReclaim.Load()
	if now-last < int64(reclaimEvery) || !lastReclaim.CompareAndSwap(last, now) {
		return
	}
	go func() {
		debug.FreeOSMemory()
		pinNow() // what the call and this collection used stays resident
	}()
}
