package daemon

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// TestCallsLeaveNothingBehind makes one call after another between two
// whole phones and checks, after each, that what a call creates is gone
// again: the UA's calls, the phone's calls, goroutines, open file
// descriptors (sockets), and that the call history stays within its
// size. Issue 19 saw RssAnon rise call after call; a heap profile diff
// over ten calls (docs/performance.md) showed the calls' SIP
// transactions and media sessions held until the transactions' timers
// (32 s) end, then freed: bounded, not a leak. This is the in-process
// proof that nothing per call stays.
func TestCallsLeaveNothingBehind(t *testing.T) {
	const histSize = 3
	_, ph := office(t, 2, func(i int, c *config.Config) { c.History.Size = histSize })
	a, b := ph[0], ph[1]
	ctx := context.Background()

	oneCall := func() {
		connect(t, a, b, "1001", "1002", hzA, hzB)
		if err := a.d.Phone().Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		hangupAll(t, a, b)
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return -1 // not Linux: not counted
		}
		return len(ents)
	}
	uaCalls := func() int {
		n := 0
		for _, tp := range ph {
			for _, l := range tp.d.lines {
				n += len(l.ua.Calls())
			}
		}
		return n
	}

	oneCall() // warm: the media pools and lazily made state exist now
	var g0, f0 int
	waitFor(t, "the first call torn down", 10*time.Second, func() bool {
		g0, f0 = runtime.NumGoroutine(), fds()
		return uaCalls() == 0
	})
	for i := range 8 {
		oneCall()
		waitFor(t, "call torn down", 10*time.Second, func() bool {
			return uaCalls() == 0 && runtime.NumGoroutine() <= g0 && fds() <= f0
		})
		for _, tp := range ph {
			if n := len(tp.d.store.history.List("", 0)); n > histSize {
				t.Fatalf("call %d: %d history entries, want at most %d", i+2, n, histSize)
			}
			if n := len(tp.d.Status().Phone.Calls); n != 0 {
				t.Fatalf("call %d: the phone still lists %d calls", i+2, n)
			}
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("after 9 calls: %d goroutines (%d after the first), %d fds (%d), live heap %d kB", runtime.NumGoroutine(), g0, fds(), f0, ms.HeapAlloc>>10)
}
