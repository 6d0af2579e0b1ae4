package daemon

import (
	"context"
	"log/slog"
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
// turned-away requests stops; not during it, not without one.
func TestReclaimAfterFloods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var away atomic.Uint64
		var freed atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			reclaimAfterFloods(ctx, time.NewTicker(floodCheck),
				func() sip.AdmissionStats { return sip.AdmissionStats{RateLimited: away.Load()} },
				func() { freed.Add(1) }, slog.New(slog.DiscardHandler))
		}()
		step := func(add uint64) {
			away.Add(add)
			time.Sleep(floodCheck)
			synctest.Wait()
		}
		step(3) // a few strays: no flood
		step(0)
		if freed.Load() != 0 {
			t.Fatal("freed memory without a flood")
		}
		step(5000) // flood
		step(9000) // still flooding
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
