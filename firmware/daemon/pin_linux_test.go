package daemon

import (
	"encoding/binary"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func TestPresentRuns(t *testing.T) {
	entry := func(present ...bool) []byte {
		b := make([]byte, 8*len(present))
		for i, p := range present {
			v := uint64(0x1234) // a PFN or swap bits: only bit 63 counts
			if p {
				v |= 1 << 63
			}
			binary.LittleEndian.PutUint64(b[i*8:], v)
		}
		return b
	}
	for _, c := range []struct {
		in   []bool
		want [][2]int
	}{
		{nil, nil},
		{[]bool{false, false}, nil},
		{[]bool{true}, [][2]int{{0, 1}}},
		{[]bool{true, true, false, true, false, false, true, true}, [][2]int{{0, 2}, {3, 4}, {6, 8}}},
		{[]bool{false, true, true}, [][2]int{{1, 3}}},
	} {
		if got := presentRuns(entry(c.in...)); !slices.Equal(got, c.want) {
			t.Errorf("presentRuns(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	// A short tail (not a whole entry) is ignored.
	if got := presentRuns(append(entry(true), 0xff, 0xff)); !slices.Equal(got, [][2]int{{0, 1}}) {
		t.Errorf("short tail: %v", got)
	}
}

// binaryRSS sums Rss and Locked (kB) over the test binary's read-only
// mappings.
func binaryRSS(t *testing.T) (rss, locked int64) {
	t.Helper()
	for _, m := range exeSmaps(t) {
		rss += m.rss
		locked += m.locked
	}
	return rss, locked
}

// TestPinWorkingSet locks the pages of the binary that are mapped and
// only those: the binary's resident size does not grow to the whole
// mapping (as locking whole ranges, or ranges mincore calls resident,
// would make it), and what is mapped is locked.
func TestPinWorkingSet(t *testing.T) {
	_, maps := exeMappings()
	if len(maps) == 0 {
		t.Fatal("no read-only mappings of the test binary")
	}
	var size int64
	for _, m := range maps {
		size += int64(m.end-m.start) >> 10
	}
	t.Cleanup(func() {
		unlockBinary(maps) // TestPageOutCode cannot page out locked pages
	})
	rss0, _ := binaryRSS(t)
	n, err := pinWorkingSet()
	if err != nil {
		if os.Geteuid() != 0 && (strings.Contains(err.Error(), "cannot allocate memory") || strings.Contains(err.Error(), "not permitted")) {
			t.Skipf("over RLIMIT_MEMLOCK without root after %d kB: %v", n>>10, err)
		}
		t.Fatal(err)
	}
	rss1, locked := binaryRSS(t)
	t.Logf("read-only mappings %d kB, resident %d kB before, %d kB after, %d kB locked (pin says %d kB)", size, rss0, rss1, locked, n>>10)
	if n == 0 || locked == 0 {
		t.Fatalf("nothing locked (pin says %d bytes, smaps %d kB)", n, locked)
	}
	// The pin's own code and reads fault in a few pages (up to 300 kB
	// seen under -race); locking what was not mapped would map most of
	// the rest.
	if rss1 > rss0+(size-rss0)/2 {
		t.Errorf("resident size of the binary grew from %d to %d kB of %d kB: pages that were not mapped got locked", rss0, rss1, size)
	}
	if locked < rss0/2 {
		t.Errorf("%d kB locked of %d kB resident", locked, rss0)
	}
	// Later pins (after collections) make no garbage.
	if a := testing.AllocsPerRun(3, func() { pinWorkingSet() }); a != 0 {
		t.Errorf("a pin allocates %.0f times", a)
	}
}

// unlockBinary unlocks the binary's pages and tells the pinner, which
// would otherwise take them for locked still.
func unlockBinary(maps []exeMapping) {
	for _, m := range maps {
		syscall.Syscall(syscall.SYS_MUNLOCK, uintptr(m.start), uintptr(m.end-m.start), 0)
	}
	thePinner.forget()
}

// TestPinOnlyNewPages: a second pin of an unchanged working set locks
// nothing again (no mlock, whose splitting of the mappings cost an idle
// phone's refresh several milliseconds), and a page mapped since the
// last pin is locked by the next.
// requireOwnPagemap skips a test when /proc/self/pagemap does not
// describe this process's memory: under QEMU user mode (qemu-arm-static)
// it is the emulator's own, at the guest's addresses. A page this
// process has just written must read back as present.
func requireOwnPagemap(t *testing.T) {
	t.Helper()
	page := os.Getpagesize()
	m, err := syscall.Mmap(-1, 0, page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	m[0] = 1
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	defer pm.Close()
	var e [8]byte
	addr := uint64(uintptr(unsafe.Pointer(&m[0])))
	if _, err := pm.ReadAt(e[:], int64(addr/uint64(page)*8)); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(e[:])&(1<<63) == 0 {
		t.Skip("/proc/self/pagemap is not this process's (QEMU user mode?): a page just written reads as not present")
	}
}

func TestPinOnlyNewPages(t *testing.T) {
	requireOwnPagemap(t)
	_, maps := exeMappings()
	if len(maps) == 0 {
		t.Fatal("no read-only mappings of the test binary")
	}
	t.Cleanup(func() { unlockBinary(maps) })
	unlockBinary(maps)
	n1, err := pinWorkingSet()
	if err != nil {
		t.Skipf("cannot lock here: %v", err)
	}
	calls := thePinner.mlocks
	n2, err := pinWorkingSet()
	if err != nil {
		t.Fatal(err)
	}
	if thePinner.mlocks != calls || n2 != n1 {
		t.Fatalf("second pin: %d mlock calls, %d bytes locked after %d; want none and the same", thePinner.mlocks-calls, n2, n1)
	}
	// Map one page of the binary that is not mapped yet: reading it
	// through /proc/self/mem faults it into this process.
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	page := uint64(os.Getpagesize())
	present := func(addr uint64) bool {
		var e [8]byte
		if _, err := pm.ReadAt(e[:], int64(addr/page*8)); err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint64(e[:])&(1<<63) != 0
	}
	var addr uint64
	for _, m := range maps {
		for a := m.start; a < m.end && addr == 0; a += page {
			if !present(a) {
				addr = a
			}
		}
	}
	if addr == 0 {
		t.Skip("every page of the binary is mapped")
	}
	var b [1]byte
	if _, err := mem.ReadAt(b[:], int64(addr)); err != nil {
		t.Fatal(err)
	}
	if !present(addr) {
		t.Skipf("reading %#x did not map it", addr)
	}
	n3, err := pinWorkingSet()
	if err != nil {
		t.Fatal(err)
	}
	if thePinner.mlocks == calls || n3 <= n2 {
		t.Fatalf("after mapping %#x: %d mlock calls, %d bytes locked after %d; want the new page locked", addr, thePinner.mlocks-calls, n3, n2)
	}
	t.Logf("%d kB locked; mapping %#x made %d mlock call(s)", n3>>10, addr, thePinner.mlocks-calls)
}

// unpinAfter turns pinning off and unlocks the binary's pages when t
// ends.
func unpinAfter(t *testing.T) {
	_, maps := exeMappings()
	t.Cleanup(func() {
		pinAfterPageOut.Store(nil)
		unlockBinary(maps)
	})
}

// TestPinAfterCollections: once the page-out has been done, a garbage
// collection pins the working set (through a finalizer, no goroutine of
// ours), at most once per pinEvery.
func TestPinAfterCollections(t *testing.T) {
	unpinAfter(t)
	pinAfterPageOut.Store(slog.New(slog.DiscardHandler))
	lastPin.Store(0)
	pinAfterCollections()
	deadline := time.Now().Add(10 * time.Second) // finalizers run after the collection, on the runtime's goroutine
	for lastPin.Load() == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	first := lastPin.Load()
	if first == 0 {
		t.Fatal("no pin after collections")
	}
	if _, locked := binaryRSS(t); locked == 0 && os.Geteuid() == 0 {
		t.Fatal("pinned, but nothing locked")
	}
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := lastPin.Load(); got != first {
		t.Errorf("pinned again %v later, want at most once per %v", time.Duration(got-first), pinEvery)
	}
}

// TestPinAfterRefresh: a registration refresh (sip.Config.Registered)
// pins the working set once the page-out has been done, at most once
// per pinEvery, and before it nothing.
func TestPinAfterRefresh(t *testing.T) {
	unpinAfter(t)
	lastPin.Store(0)
	pinAfterRefresh()
	if lastPin.Load() != 0 {
		t.Fatal("pinned before the page-out")
	}
	pinAfterPageOut.Store(slog.New(slog.DiscardHandler))
	pinAfterRefresh()
	first := lastPin.Load()
	if first == 0 {
		t.Fatal("no pin after a refresh")
	}
	if _, locked := binaryRSS(t); locked == 0 && os.Geteuid() == 0 {
		t.Fatal("pinned, but nothing locked")
	}
	pinAfterRefresh()
	if got := lastPin.Load(); got != first {
		t.Errorf("pinned again %v later, want at most once per %v", time.Duration(got-first), pinEvery)
	}
	lastPin.Store(first - int64(pinEvery))
	pinAfterRefresh()
	if got := lastPin.Load(); got <= first-int64(pinEvery) {
		t.Errorf("no pin a pinEvery after the last one")
	}
}

// BenchmarkPinWorkingSet is what a pin after a call or a collection
// costs once the working set is locked (the test binary's).
func BenchmarkPinWorkingSet(b *testing.B) {
	_, maps := exeMappings()
	b.Cleanup(func() {
		unlockBinary(maps)
	})
	if _, err := pinWorkingSet(); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pinWorkingSet(); err != nil {
			b.Fatal(err)
		}
	}
}
