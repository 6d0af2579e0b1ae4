package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The Go runtime forces a garbage collection on a process that has had
// none for two minutes. On an idle phone that is the only thing that
// wakes it besides the runtime's own once-a-minute look (sysmon) and
// the phone's real work (registration refreshes, keepalives): measured
// by hand, 3-15 context switches each time, with the pin that follows
// (docs/performance.md). baresip wakes once or twice a minute.
//
// So while no call is up the collector runs on the memory limit alone:
// GC percent off (which stops the forced collection), and a soft memory
// limit just above what the runtime has in use (idleLimit). The garbage an idle phone makes (a registration refresh
// every few minutes) then builds up to the headroom and is collected
// then, every hour or so, instead of every two minutes; a flood of
// requests reaches the headroom at once and is collected as before, the
// limit being set again after every collection. When a call starts, the
// collector goes back to the GC percent and the board's limit
// (ApplyMemoryLimit), and each call's end collects (reclaimAfterCall).
//
// DESKPHONE_QUIETGC=0 turns it off; GOGC=off in the environment leaves
// the collector alone too.

// idleHeadroomMin is the least garbage an idle phone may build up
// before a collection. Its live heap is under 1 MiB; a GC percent of 100
// lets the heap grow to the runtime's 4 MiB minimum goal. With 1 MiB, a
// phone whose web page is polled collected every 25 requests (120
// collections in 3000 requests, against 5); with 2 MiB, half as often,
// and an idle phone's own garbage takes hours to get there.
const idleHeadroomMin = 2 << 20

// quietGC is the collector's state; one per process.
var quietGC gcQuiet

type gcQuiet struct {
	mu      sync.Mutex
	on      bool  // managing (QuietGCWhileIdle called, not turned off)
	armed   bool  // quietAfterCollections armed
	idle    bool  // no call up: GC percent off, idle limit
	calls   int   // media mappings held (calls up)
	percent int   // the GC percent to restore when a call starts
	limit   int64 // the board's memory limit (ApplyMemoryLimit)
	samples []metrics.Sample
}

// QuietGCWhileIdle starts managing the collector as above, the phone
// being idle (no call up); limit is the board's memory limit, in effect
// now. It returns false, changing nothing, when turned off.
func QuietGCWhileIdle(limit int64, log *slog.Logger) bool {
	if os.Getenv("DESKPHONE_QUIETGC") == "0" {
		log.Info("collector: forced collections while idle kept (DESKPHONE_QUIETGC=0)")
		return false
	}
	q := &quietGC
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.on {
		percent := debug.SetGCPercent(-1)
		debug.SetGCPercent(percent)
		if percent < 0 { // GOGC=off: the collector is someone else's
			return false
		}
		q.percent = percent
	}
	q.on, q.limit = true, limit
	q.samples = []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	q.setIdle(q.calls == 0)
	if !q.armed {
		q.armed = true
		quietAfterCollections()
	}
	log.Info("collector: on the memory limit alone while idle", "gc_percent", q.percent, "limit_bytes", limit)
	return true
}

// callMediaMapped and callMediaReleased count the calls up (a call's
// media mapping); the first call ends idleness, the last call's end
// starts it again.
func callMediaMapped() {
	q := &quietGC
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.on && q.calls == 1 {
		q.setIdle(false)
	}
}

func callMediaReleased() {
	q := &quietGC
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.calls > 0 {
		q.calls--
	}
	if q.on && q.calls == 0 {
		q.setIdle(true)
	}
}

// setIdle switches the collector; q.mu is held.
func (q *gcQuiet) setIdle(idle bool) {
	q.idle = idle
	if !idle {
		debug.SetMemoryLimit(q.limit)
		debug.SetGCPercent(q.percent)
		return
	}
	debug.SetMemoryLimit(q.idleLimit())
	debug.SetGCPercent(-1)
}

// idleLimit is the memory limit while idle: what the runtime holds now
// in use (as the limit counts it, all its memory but the heap pages
// returned to the system, less the free heap pages it has not returned
// yet) plus the headroom, the larger of idleHeadroomMin, the live heap
// (as a GC percent of 100 would allow) and an eighth of what it holds
// in use; never above the board's limit. Free pages are left out, or
// the limit would climb by the garbage of each collection (measured:
// RssAnon 7.7 MB after 3000 requests to the web page, 6.7 MB with the
// GC percent); the scavenger returns them as the garbage builds up
// towards the limit. q.mu is held.
func (q *gcQuiet) idleLimit() int64 {
	metrics.Read(q.samples)
	inUse := int64(q.samples[0].Value.Uint64() - q.samples[1].Value.Uint64() - q.samples[3].Value.Uint64())
	live := int64(q.samples[2].Value.Uint64())
	return min(inUse+max(idleHeadroomMin, live, inUse/8), q.limit)
}

// quietAfterCollections sets the idle limit again after every
// collection while idle: the limit follows the live heap, as the GC
// percent's goal would. A finalizer re-armed at each collection (as
// gcSignals): no goroutine, no timer.
func quietAfterCollections() {
	s := &gcSentinel{}
	runtime.SetFinalizer(s, func(*gcSentinel) {
		quietAfterCollections()
		q := &quietGC
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.on && q.idle {
			debug.SetMemoryLimit(q.idleLimit())
		}
	})
}
