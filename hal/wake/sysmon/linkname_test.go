//go:build sysmonsleep

package sysmon

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestRuntimeUsesPeriod checks that the variable is the runtime's and
// still means what the package says: with the period set to 100 ms the
// runtime collects a process that allocates next to nothing, at least
// twice more than its allocations alone could cause; with the runtime's
// two minutes it would not collect at all in the test's time.
func TestRuntimeUsesPeriod(t *testing.T) {
	if os.Getenv("GOGC") == "off" {
		t.Skip("GOGC=off: the runtime forces no collection")
	}
	if p := debug.SetGCPercent(100); p < 0 {
		debug.SetGCPercent(p)
		t.Skip("GC percent off")
	} else {
		debug.SetGCPercent(p)
	}
	prev, _ := setIdleSleep(50 * time.Millisecond) // the period: 100 ms
	t.Cleanup(func() { _, _ = setIdleSleep(prev) })
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/cycles/automatic:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	gc0, alloc0 := s[0].Value.Uint64(), s[1].Value.Uint64()
	const want = 3
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		metrics.Read(s)
		if s[0].Value.Uint64()-gc0 >= want {
			break
		}
	}
	gcs, alloc := s[0].Value.Uint64()-gc0, s[1].Value.Uint64()-alloc0
	t.Logf("%d automatic collections, %d bytes allocated", gcs, alloc)
	if gcs < want {
		t.Fatalf("%d automatic collections in 30 s with a 100 ms forced-collection period, want %d: the runtime no longer reads forcegcperiod as this package says", gcs, want)
	}
	// Allocation alone collects when the heap reaches its goal, at
	// least 4 MiB over an empty heap: under 2 MiB allocated, it made one
	// of them at most.
	if alloc >= 2<<20 {
		t.Skipf("%d bytes allocated meanwhile: the collections may be the allocations'", alloc)
	}
}
