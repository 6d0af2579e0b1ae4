package daemon

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/voip/sip"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit when the
// config sets none: 32 MiB, ample for the phone's live heap (a few MiB)
// yet far below the smallest board (the QEMU image and a Pi Zero have
// 512 MB), or an eighth of the machine's memory when that is less.
const DefaultMemoryLimit = 32 << 20

// MemoryLimit is the limit for cfg on a machine with memTotal bytes
// (0 when unknown): memory_limit when set, else the default.
func MemoryLimit(cfg *config.Config, memTotal int64) int64 {
	if cfg.MemoryLimit > 0 {
		return cfg.MemoryLimit
	}
	if memTotal > 0 && memTotal/8 < DefaultMemoryLimit {
		return max(memTotal/8, config.MinMemoryLimit)
	}
	return DefaultMemoryLimit
}

// ApplyMemoryLimit sets the runtime's soft memory limit
// (debug.SetMemoryLimit) for the process, once at start: memory_limit
// when set; otherwise a GOMEMLIMIT in the environment is left as it is,
// and without one the default applies. It returns the limit in effect.
// Near the limit the garbage collector runs more often, so a burst of
// garbage (a request flood) does not grow the process.
func ApplyMemoryLimit(cfg *config.Config, log *slog.Logger) int64 {
	if cfg.MemoryLimit == 0 && os.Getenv("GOMEMLIMIT") != "" {
		n := debug.SetMemoryLimit(-1)
		log.Info("memory limit from GOMEMLIMIT", "bytes", n)
		return n
	}
	n := MemoryLimit(cfg, memTotal())
	debug.SetMemoryLimit(n)
	log.Info("memory limit", "bytes", n)
	return n
}

// memTotal reads MemTotal from /proc/meminfo; 0 when unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemTotal:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

const (
	// floodCheck is how often, during a flood, the daemon looks whether
	// it ended.
	floodCheck = 5 * time.Second
	// floodMin is how many requests turned away between two looks make
	// a flood; floodQuiet is at most how many in the next floodCheck
	// mean it ended.
	floodMin, floodQuiet = 500, 10
)

func turnedAway(s sip.AdmissionStats) uint64 {
	return s.RateLimited + s.Forbidden + s.NotFound + s.Overloaded + s.Busy
}

// reclaimAfterFloods returns memory to the system once a flood of
// requests has ended: after a burst the runtime would keep the heap it
// grew into until its next forced collection (two minutes away on an
// idle phone), so once at least floodMin requests were turned away
// between two looks and then almost none for floodCheck, it calls free
// (the runtime's debug.FreeOSMemory) once.
//
// It looks at the counters on each signal on look (the daemon sends one
// after every garbage collection: gcSignals), not on a timer, so an
// idle phone is not woken for it; a flood that grows the heap makes
// collections, and so looks. Only during a flood does it tick, every
// floodCheck, to see the flood end. Between looks more than floodCheck
// apart the count starts afresh, so strays that add up over hours are
// no flood. It returns when ctx ends.
func reclaimAfterFloods(ctx context.Context, look <-chan struct{}, stats func() sip.AdmissionStats, free func(), log *slog.Logger) {
	last, since := turnedAway(stats()), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-look:
		}
		n, now := turnedAway(stats()), time.Now()
		if n-last < floodMin {
			if now.Sub(since) > floodCheck {
				last, since = n, now
			}
			continue
		}
		if !floodEnds(ctx, stats, n) {
			return
		}
		log.Info("request flood over: returning memory to the system")
		free()
		last, since = turnedAway(stats()), time.Now()
	}
}

// floodEnds waits, looking every floodCheck, until a check interval saw
// at most floodQuiet requests turned away (true) or ctx ends (false).
func floodEnds(ctx context.Context, stats func() sip.AdmissionStats, last uint64) bool {
	tick := time.NewTicker(floodCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		n := turnedAway(stats())
		if n-last <= floodQuiet {
			return true
		}
		last = n
	}
}

// gcSignals sends on c, without blocking, after every garbage collection
// until ctx ends (a finalizer re-armed at each collection: no goroutine,
// no timer; the runtime runs it on its finalizer goroutine).
func gcSignals(ctx context.Context, c chan<- struct{}) {
	s := &gcSentinel{}
	runtime.SetFinalizer(s, func(*gcSentinel) {
		if ctx.Err() != nil {
			return
		}
		gcSignals(ctx, c) // armed before the signal, for the next collection
		select {
		case c <- struct{}{}:
		default:
		}
	})
}

// gcSentinel is garbage from birth; its finalizer marks a collection. It
// holds a pointer so that it is not a tiny allocation (those share a
// block, and their finalizers may wait for their neighbours).
type gcSentinel struct{ _ *byte }
