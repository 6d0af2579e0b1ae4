package daemon

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/voip/sip"
)

func TestMemoryLimit(t *testing.T) {
	cfg := config.Default()
	for _, tc := range []struct {
		set, total, want int64
	}{
		{0, 0, DefaultMemoryLimit},
		{0, 512 << 20, DefaultMemoryLimit},    // QEMU image, Pi Zero: 64 MiB/8 > default
		{0, 128 << 20, config.MinMemoryLimit}, // a tiny board: an eighth, not below the minimum
		{0, 200 << 20, 25 << 20},
		{96 << 20, 512 << 20, 96 << 20}, // memory_limit wins
	} {
		cfg.MemoryLimit = tc.set
		if got := MemoryLimit(cfg, tc.total); got != tc.want {
			t.Errorf("MemoryLimit(set %d, total %d) = %d, want %d", tc.set, tc.total, got, tc.want)
		}
	}
}

// TestReclaimAfterFloods: memory is handed back once, when a flood of
// turned-away requests stops; not during it, not without one, and
// nothing ticks while there is no flood.
func TestReclaimAfterFloods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var away atomic.Uint64
		var freed atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		look := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			reclaimAfterFloods(ctx, look,
				func() sip.AdmissionStats { return sip.AdmissionStats{RateLimited: away.Load()} },
				func() { freed.Add(1) }, slog.New(slog.DiscardHandler))
		}()
		// gc is a garbage collection after add more were turned away
		// over wait.
		gc := func(add uint64, wait time.Duration) {
			away.Add(add)
			time.Sleep(wait)
			look <- struct{}{}
			synctest.Wait()
		}
		step := func(add uint64) {
			away.Add(add)
			time.Sleep(floodCheck)
			synctest.Wait()
		}
		gc(3, time.Minute) // a few strays: no flood
		gc(400, 2*time.Minute)
		gc(400, 2*time.Minute) // 800 strays in 4 minutes: no flood either
		if freed.Load() != 0 {
			t.Fatal("freed memory without a flood")
		}
		// Idle: no timer runs, so the bubble's clock has nothing to
		// wake and the goroutine stays blocked on look.
		gc(300, time.Second)
		gc(300, time.Second) // 600 in 2 s: a flood
		step(5000)           // still flooding
		if freed.Load() != 0 {
			t.Fatal("freed memory during the flood")
		}
		step(2) // over
		step(0)
		step(0)
		if n := freed.Load(); n != 1 {
			t.Fatalf("freed %d times after the flood, want once", n)
		}
		cancel()
		<-done
	})
}

// TestGCSignals: a garbage collection signals the channel.
func TestGCSignals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := make(chan struct{}, 1)
	gcSignals(ctx, c)
	for range 2 { // the finalizer re-arms
		runtime.GC()
		<-c
	}
}

// TestReclaimAfterCall: the calls that end together get one reclaim,
// reclaimDelay after the last of them (not at the first, while the
// others still hold their sessions); a call that ends within
// reclaimEvery of a reclaim gets its own when that time is up, not
// none; nothing is left waiting after.
func TestReclaimAfterCall(t *testing.T) {
	// A reclaim another test's call end started (real time) ends first.
	for deadline := time.Now().Add(reclaimEvery + 5*time.Second); reclaimPending.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("an earlier reclaim is still waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		var at []time.Duration
		t0 := time.Now()
		saved := reclaimFunc
		reclaimFunc = func() { runs.Add(1); at = append(at, time.Since(t0)) }
		defer func() { reclaimFunc = saved }()
		lastReclaim.Store(0)
		lastCallEnd.Store(0)

		for range 3 { // three calls end 400 ms apart
			reclaimAfterCall()
			time.Sleep(400 * time.Millisecond)
		}
		synctest.Wait()
		if n := runs.Load(); n != 0 {
			t.Fatalf("%d reclaims while calls were still ending", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := runs.Load(); n != 1 || at[0] != 800*time.Millisecond+reclaimDelay {
			t.Fatalf("reclaims %d at %v, want 1 at %v", n, at, 800*time.Millisecond+reclaimDelay)
		}

		reclaimAfterCall() // 2.2 s: the next one may run at 1.8 s + reclaimEvery
		time.Sleep(reclaimEvery + time.Second)
		synctest.Wait()
		if n := runs.Load(); n != 2 || at[1] != at[0]+reclaimEvery {
			t.Fatalf("reclaims %d at %v, want the second at %v", n, at, at[0]+reclaimEvery)
		}
		if reclaimPending.Load() {
			t.Fatal("a reclaim still waits")
		}
	})
}
