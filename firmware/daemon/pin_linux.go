//go:build linux

package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// pinWorkingSet locks in memory (mlock) the pages of phoned's own
// read-only mappings that are mapped into the process now, the read-only
// data first, then the code. It returns the bytes it locked (locked
// before included).
//
// Why: once the page-out (pageOutCode) has dropped the start-up pages,
// the pages the phone maps again are all it needs, and the forced
// collection every 2 minutes walks the function tables for each
// goroutine's frames. Where fault-around cannot be stopped the read-only
// data is marked MADV_RANDOM, and for such a mapping the kernel keeps no
// recency, so its pages are the first any page-cache reclaim takes:
// every collection read 80-220 of them back from storage on a host that
// reclaims the page cache hard, 100-350 context switches in an idle
// minute, each a wait for storage (docs/performance.md). Under memory
// pressure (make bench-pressure) any unlocked page can go the same way.
// Locked, the pages a call and a collection use stay; RSS does not
// grow, since only pages already mapped are locked (their presence read
// from /proc/self/pagemap, not mincore, which would count cached pages
// nothing maps). Pages first used later (the web pages, a rarely used
// feature) stay reclaimable until a later pin.
//
// Locking needs no privilege for the first RLIMIT_MEMLOCK bytes (8 MB
// on current kernels; phoned runs as root on a device, which has no
// limit); past it the kernel refuses and pinWorkingSet stops there.
//
// It allocates nothing once it has run (the mappings, the pagemap file and
// a chunk buffer are kept): it runs after collections, and garbage it made
// would grow the heap it just collected.
func pinWorkingSet() (int64, error) { return thePinner.pin() }

var thePinner pinner

// pinner is pinWorkingSet's state, kept between pins.
type pinner struct {
	mu   sync.Mutex
	maps []exeMapping // read once: locking splits the mappings in /proc/self/maps
	pm   *os.File     // /proc/self/pagemap
	buf  [512 * 8]byte
}

func (p *pinner) pin() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps == nil {
		if _, p.maps = exeMappings(); len(p.maps) == 0 {
			return 0, errors.New("pin: no mappings of the binary in /proc/self/maps")
		}
	}
	if p.pm == nil {
		f, err := os.Open("/proc/self/pagemap")
		if err != nil {
			return 0, fmt.Errorf("pin: %w", err)
		}
		p.pm = f
	}
	page := uint64(os.Getpagesize())
	var locked int64
	for _, m := range p.maps {
		n := (m.end - m.start) / page
		var rs runScanner
		for i := uint64(0); i < n; i += uint64(len(p.buf) / 8) {
			k := min(uint64(len(p.buf)/8), n-i)
			b := p.buf[:k*8]
			if _, err := p.pm.ReadAt(b, int64((m.start/page+i)*8)); err != nil {
				return locked, fmt.Errorf("pin: pagemap at %#x: %w", m.start+i*page, err)
			}
			for j := range k {
				lo, hi, ok := rs.step(i+j, binary.LittleEndian.Uint64(b[j*8:])&(1<<63) != 0)
				if !ok {
					continue
				}
				if err := mlock(m.start+lo*page, m.start+hi*page); err != nil {
					return locked, err
				}
				locked += int64((hi - lo) * page)
			}
		}
		if lo, hi, ok := rs.step(n, false); ok {
			if err := mlock(m.start+lo*page, m.start+hi*page); err != nil {
				return locked, err
			}
			locked += int64((hi - lo) * page)
		}
	}
	return locked, nil
}

func mlock(lo, hi uint64) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MLOCK, uintptr(lo), uintptr(hi-lo), 0); errno != 0 {
		return fmt.Errorf("pin: mlock %#x-%#x: %w", lo, hi, errno)
	}
	return nil
}

// runScanner finds runs of present pages, one page at a time.
type runScanner struct {
	inRun bool
	start uint64
}

// step takes page i's presence and returns a run [lo, hi) that ended
// just before it. A last step with an absent page past the end closes
// the run that reaches it.
func (r *runScanner) step(i uint64, present bool) (lo, hi uint64, ok bool) {
	switch {
	case present && !r.inRun:
		r.inRun, r.start = true, i
	case !present && r.inRun:
		r.inRun = false
		return r.start, i, true
	}
	return 0, 0, false
}

// presentRuns returns the runs [first, end) of pages that /proc/PID/pagemap
// entries (8 bytes each, native byte order, little-endian on every board;
// bit 63: present in memory) say are mapped.
func presentRuns(b []byte) [][2]int {
	var runs [][2]int
	var rs runScanner
	n := len(b) / 8
	for i := 0; i <= n; i++ {
		if lo, hi, ok := rs.step(uint64(i), i < n && binary.LittleEndian.Uint64(b[i*8:])&(1<<63) != 0); ok {
			runs = append(runs, [2]int{int(lo), int(hi)})
		}
	}
	return runs
}
