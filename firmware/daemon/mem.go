package daemon

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// PageOutAfter is how long after start phoned drops the pages of its
// own binary that start-up touched (pageOutCode): long enough for the
// config, the board, the first registration and the web server's
// set-up to have run.
const PageOutAfter = 15 * time.Second

// SchedulePageOut drops, once, PageOutAfter from now, the binary's
// pages that only start-up used. Most of an idle phone's RSS was its
// own binary's file-backed pages (VmRSS 18.5 MB, RssAnon 3.8 MB, make
// test-lean): every package's init and the start-up code fault in
// pages, 64 kB around each fault, and they stay mapped for the life of
// the process. After this the phone holds only what it runs again (the
// idle loop, then a call's code on the first call); measured in
// docs/performance.md. DESKPHONE_PAGEOUT=0 in the environment turns it
// off (and the pinning after it); DESKPHONE_FAULTAROUND=1 keeps the
// kernel's fault-around in the binary's mappings (stopFaultAround);
// DESKPHONE_PIN=0 pins nothing. The timer returned may be stopped.
func SchedulePageOut(log *slog.Logger) *time.Timer {
	if os.Getenv("DESKPHONE_PAGEOUT") == "0" {
		log.Info("start-up pages kept (DESKPHONE_PAGEOUT=0)")
		return nil
	}
	pin := os.Getenv("DESKPHONE_PIN") != "0"
	keepFaultAround := os.Getenv("DESKPHONE_FAULTAROUND") == "1"
	return time.AfterFunc(PageOutAfter, func() {
		n, err := pageOutCode(keepFaultAround)
		if err != nil {
			// An older kernel: the read-only data is advised and dropped
			// from the page cache instead (pageOutCode).
			log.Info("fault-around left on", "err", err)
		}
		log.Debug("start-up pages dropped", "bytes", n, "fault_around", err != nil || keepFaultAround)
		if n == 0 || !pin {
			return
		}
		// Pin what the idle phone maps now, after each call what the call
		// used (reclaimAfterCall), and after later collections what ran
		// since (the collection's own walk of the function tables, a
		// registration refresh, a feature used for the first time).
		pinAfterPageOut.Store(log)
		pinNow()
		pinAfterCollections()
	})
}

// errNoFaultAroundStop is returned where the kernel has no asynchronous
// write-protect userfaultfd (before Linux 6.7, or built without
// CONFIG_USERFAULTFD, or a seccomp filter refusing it).
var errNoFaultAroundStop = errors.New("fault-around left on: no userfaultfd with UFFD_FEATURE_WP_ASYNC")

// pinEvery is the least time between two pins after collections: the
// runtime forces one every 2 minutes on an idle phone; a flood makes
// many.
const pinEvery = time.Minute

var lastPin atomic.Int64 // unix nanoseconds of the last pin

// pinAfterCollections pins the working set after every garbage
// collection, at most once per pinEvery, for the life of the process: a
// finalizer re-armed at each collection (as gcSignals), so no goroutine
// or timer wakes an idle phone for it; it runs when a collection has
// woken it anyway.
func pinAfterCollections() {
	s := &gcSentinel{}
	runtime.SetFinalizer(s, func(*gcSentinel) {
		pinAfterCollections()
		if time.Now().UnixNano()-lastPin.Load() >= int64(pinEvery) {
			pinNow()
		}
	})
}

// pinAfterRefresh pins what a registration refresh ran, at most once
// per pinEvery. An idle phone makes no collection for
// pinAfterCollections to pin after (quietgc.go), and the refresh path's
// pages, dropped with the start-up ones, came back on the first refresh
// by reading storage (about 30 major faults, 40 context switches, by
// hand); unlocked, a host short of memory takes them again, and every
// refresh reads them again.
func pinAfterRefresh() {
	if time.Now().UnixNano()-lastPin.Load() >= int64(pinEvery) {
		pinNow()
	}
}

// pinAfterPageOut holds the logger once the start-up pages have been
// dropped and pinning is on; until then (and in tests) nothing is
// pinned: locked pages cannot be paged out.
var pinAfterPageOut atomic.Pointer[slog.Logger]

// pinNow locks the binary's pages the phone has mapped now
// (pinWorkingSet), once the page-out has been done.
func pinNow() {
	log := pinAfterPageOut.Load()
	if log == nil {
		return
	}
	lastPin.Store(time.Now().UnixNano())
	n, err := pinWorkingSet()
	if err != nil {
		// Past RLIMIT_MEMLOCK, or no /proc: the pages stay reclaimable.
		log.Debug("working set not pinned", "locked_bytes", n, "err", err)
		return
	}
	log.Debug("working set pinned", "bytes", n)
}
