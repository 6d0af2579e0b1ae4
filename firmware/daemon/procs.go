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

// reclaimDelay is how long after a call's end its reclaim waits: for
// the call to be gone (a reclaim at the media release itself collected
// while the ending call still held its session), and for the other
// calls that end with it (a conference, a hangup of every line) to be
// gone too, so one collection frees them all.
const reclaimDelay = time.Second

var (
	lastReclaim    atomic.Int64 // unix nanoseconds of the last reclaim after a call
	lastCallEnd    atomic.Int64 // unix nanoseconds of the last call's end
	reclaimPending atomic.Bool  // a reclaim goroutine waits for its time
	reclaimFunc    = func() {
		debug.FreeOSMemory()
		pinNow() // what the call and this collection used stays resident
	}
)

// reclaimAfterCall collects the garbage a call's setup and teardown left
// (SIP transactions, SDP, the session) and returns the freed pages to
// the system: reclaimDelay after the last of the calls that end
// together, and at most once every reclaimEvery (a later reclaim waits
// for its turn rather than being dropped, so the last call's garbage is
// always reclaimed). Without it the heap grows below the runtime's 4 MB
// minimum goal call after call until the first collection (RssAnon up
// 1.5 MB over three calls, docs/performance.md); a live heap of about
// 1 MB takes the collector a millisecond or so.
//
// One goroutine at a time waits (a sleep, no timer kept between calls:
// a test's synctest bubble may end calls too); it ends after its reclaim.
func reclaimAfterCall() {
	lastCallEnd.Store(time.Now().UnixNano())
	if !reclaimPending.CompareAndSwap(false, true) {
		return // the waiting goroutine sees the new end
	}
	go func() {
		for {
			for {
				due := max(lastCallEnd.Load()+int64(reclaimDelay), lastReclaim.Load()+int64(reclaimEvery))
				wait := time.Duration(due - time.Now().UnixNano())
				if wait <= 0 {
					break
				}
				time.Sleep(wait)
			}
			start := time.Now().UnixNano()
			lastReclaim.Store(start)
			reclaimFunc()
			reclaimPending.Store(false)
			// A call that ended while this one ran, whose reclaimAfterCall
			// found it pending, gets the next.
			if lastCallEnd.Load() < start || !reclaimPending.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}
