//go:build linux

package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// pinWorkingSet locks in memory (mlock) the pages of phoned's own
// read-only mappings that are mapped into the process now, the read-only
// data first, then the code. It returns the bytes it locked (locked
// before included).
//
// Why: after the page-out (pageOutCode) the read-only data is marked
// MADV_RANDOM, and for such a mapping the kernel keeps no recency, so
// its pages are the first any page-cache reclaim takes. The runtime's
// forced collection, every 2 minutes, walks the function tables for
// each goroutine's frames and read 80-220 of those pages back from
// storage each time on a host that reclaims the page cache hard: 100-
// 350 context switches in an idle minute, each a wait for storage
// (docs/performance.md). Locked, the pages a call and a collection use
// stay; RSS does not grow, since only pages already mapped are locked
// (their presence read from /proc/self/pagemap, not mincore, which
// would count cached pages nothing maps). Pages first used later (the
// web pages, a rarely used feature) stay reclaimable until a later pin.
//
// Locking needs no privilege for the first RLIMIT_MEMLOCK bytes (8 MB
// on current kernels; phoned runs as root on a device, which has no
// limit); past it the kernel refuses and pinWorkingSet stops there.
func pinWorkingSet() (int64, error) {
	_, maps := exeMappings()
	if len(maps) == 0 {
		return 0, errors.New("no mappings of the binary in /proc/self/maps")
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, fmt.Errorf("pin: %w", err)
	}
	defer pm.Close()
	page := uint64(os.Getpagesize())
	var locked int64
	var buf []byte
	for _, m := range maps {
		n := (m.end - m.start) / page
		if need := int(n * 8); cap(buf) < need {
			buf = make([]byte, need)
		}
		b := buf[:n*8]
		if _, err := pm.ReadAt(b, int64(m.start/page*8)); err != nil {
			return locked, fmt.Errorf("pin: pagemap at %#x: %w", m.start, err)
		}
		for _, r := range presentRuns(b) {
			lo, hi := m.start+uint64(r[0])*page, m.start+uint64(r[1])*page
			if _, _, errno := syscall.Syscall(syscall.SYS_MLOCK, uintptr(lo), uintptr(hi-lo), 0); errno != 0 {
				return locked, fmt.Errorf("pin: mlock %#x-%#x: %w", lo, hi, errno)
			}
			locked += int64(hi - lo)
		}
	}
	return locked, nil
}

// presentRuns returns the runs [first, end) of pages that /proc/PID/pagemap
// entries (8 bytes each, little-endian; bit 63: present in memory) say
// are mapped.
func presentRuns(b []byte) [][2]int {
	var runs [][2]int
	start := -1
	n := len(b) / 8
	for i := 0; i <= n; i++ {
		present := i < n && binary.LittleEndian.Uint64(b[i*8:])&(1<<63) != 0
		switch {
		case present && start < 0:
			start = i
		case !present && start >= 0:
			runs = append(runs, [2]int{start, i})
			start = -1
		}
	}
	return runs
}
