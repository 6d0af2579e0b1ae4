package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/pion/transport/v4/stdnet"
)

// gcSettings reads the GC percent and the memory limit without
// changing them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// stopQuietGC gives the collector back its GC percent and limit (for
// the tests that follow in this process).
func stopQuietGC() {
	q := &quietGC
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.on {
		q.setIdle(false)
		q.on = false
	}
}

// restoreGC returns the GC percent and memory limit now, and gives them
// back, quiet GC stopped, when the test ends.
func restoreGC(t *testing.T) (percent int, limit int64) {
	percent, limit = gcSettings()
	t.Cleanup(func() {
		stopQuietGC()
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	return percent, limit
}

// TestQuietGCWhileIdle: idle, the collector runs on a memory limit just
// above what the runtime holds, with the GC percent off (no forced
// collection every two minutes); the limit follows the live heap after
// a collection; a call through the line's mapper gives back the GC
// percent and the board's limit, and its end takes them away again.
func TestQuietGCWhileIdle(t *testing.T) {
	percent0, _ := restoreGC(t)
	if percent0 < 0 {
		t.Skip("GOGC=off in the test's environment")
	}
	const board = 256 << 20
	debug.SetMemoryLimit(board)
	quietGC.mu.Lock()
	quietGC.calls = 0 // other tests' daemons closed their ports with calls up
	quietGC.mu.Unlock()
	if !QuietGCWhileIdle(board, slog.New(slog.DiscardHandler)) {
		t.Fatal("QuietGCWhileIdle: off")
	}
	idle := func(what string, least int64) int64 {
		t.Helper()
		p, l := gcSettings()
		if p != -1 || l < least || l >= board {
			t.Fatalf("%s: GC percent %d, limit %d; want -1 and a limit in [%d, %d)", what, p, l, least, board)
		}
		return l
	}
	// A collection first: what earlier tests left live goes.
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second) // the finalizer's goroutine: bounded wait
	for _, l := gcSettings(); l >= 32<<20 && time.Now().Before(deadline); _, l = gcSettings() {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	before := idle("idle at start", idleHeadroomMin)

	// 32 MiB live: after a collection the limit is above it.
	live := make([]byte, 32<<20)
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	deadline = time.Now().Add(10 * time.Second)
	for _, l := gcSettings(); l < 32<<20 && time.Now().Before(deadline); _, l = gcSettings() {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	grown := idle("idle after a collection with 32 MiB live", 32<<20+idleHeadroomMin)
	if grown <= before {
		t.Fatalf("limit %d after the live heap grew, %d before", grown, before)
	}
	runtime.KeepAlive(live)

	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := portmgr.New(portmgr.Config{Net: n, SIPPorts: portmgr.Range{Min: 28070, Max: 28079},
		MediaPorts: portmgr.Range{Min: 28200, Max: 28299}, Strategies: []portmgr.Strategy{portmgr.StrategyLocal}})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	mp := &lineMapper{pm: pm}
	ctx := context.Background()
	sipMp, err := mp.Map(ctx, portmgr.KindSIP, portmgr.UDP, netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	idle("a SIP flow is no call", idleHeadroomMin)
	inCall := func(what string) {
		t.Helper()
		if p, l := gcSettings(); p != percent0 || l != board {
			t.Fatalf("%s: GC percent %d, limit %d; want %d and the board's %d", what, p, l, percent0, board)
		}
	}
	var calls []*portmgr.Mapping
	for i := range 2 {
		m, err := mp.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, m)
		inCall("call " + string(rune('1'+i)) + " up")
	}
	if err := mp.Release(calls[0]); err != nil {
		t.Fatal(err)
	}
	inCall("one call of two ended")
	if err := mp.Release(calls[1]); err != nil {
		t.Fatal(err)
	}
	idle("both calls ended", idleHeadroomMin)
	if err := mp.Release(sipMp); err != nil {
		t.Fatal(err)
	}
	idle("the SIP flow released", idleHeadroomMin)
}

// TestQuietGCOff: DESKPHONE_QUIETGC=0, or GOGC=off, leaves the
// collector as it is.
func TestQuietGCOff(t *testing.T) {
	percent0, limit0 := restoreGC(t)
	log := slog.New(slog.DiscardHandler)
	t.Setenv("DESKPHONE_QUIETGC", "0")
	if QuietGCWhileIdle(64<<20, log) {
		t.Fatal("on with DESKPHONE_QUIETGC=0")
	}
	if p, l := gcSettings(); p != percent0 || l != limit0 {
		t.Fatalf("DESKPHONE_QUIETGC=0 changed the collector: GC percent %d, limit %d", p, l)
	}
	t.Setenv("DESKPHONE_QUIETGC", "")
	debug.SetGCPercent(-1)
	if QuietGCWhileIdle(64<<20, log) {
		t.Fatal("on with the GC percent off")
	}
	if p, l := gcSettings(); p != -1 || l != limit0 {
		t.Fatalf("GOGC=off: GC percent %d, limit %d after", p, l)
	}
}
