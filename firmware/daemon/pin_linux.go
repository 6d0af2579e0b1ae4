//go:build linux

package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"
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
// It allocates nothing once it has run (the mappings, the pagemap file, a
// chunk buffer and a bitmap of the pages already locked are kept): it
// runs after collections, and garbage it made would grow the heap it just
// collected.
//
// A pin that finds nothing new costs no context switch (issue 19: a
// registration refresh pins, and an idle phone refreshes for hours): the
// pagemap is read with raw system calls, which do not wake the runtime's
// sysmon thread from its sleep as the runtime's syscall entry does (40-47
// switches for one pin of an idle phone, perf, docs/performance.md), and
// pages locked before are not locked again (each mlock split and merged
// the mappings again, several milliseconds for the whole working set).
// Only pages mapped since the last pin go to mlock (mlock).
func pinWorkingSet() (int64, error) { return thePinner.pin() }

var thePinner = pinner{fd: -1}

// pinner is pinWorkingSet's state, kept between pins.
type pinner struct {
	mu     sync.Mutex
	maps   []exeMapping // read once: locking splits the mappings in /proc/self/maps
	locked [][]uint64   // per mapping, a bit per page this pinner locked
	total  int64        // bytes locked, all pins together
	mlocks int          // mlock calls made, for tests
	fd     int          // /proc/self/pagemap, -1 until opened
	buf    [512 * 8]byte
}

func (p *pinner) pin() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps == nil {
		if _, p.maps = exeMappings(); len(p.maps) == 0 {
			return 0, errors.New("pin: no mappings of the binary in /proc/self/maps")
		}
	}
	if p.fd < 0 {
		fd, err := syscall.Open("/proc/self/pagemap", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("pin: /proc/self/pagemap: %w", err)
		}
		p.fd = fd
	}
	page := uint64(os.Getpagesize())
	if p.locked == nil {
		p.locked = make([][]uint64, len(p.maps))
		for i, m := range p.maps {
			p.locked[i] = make([]uint64, ((m.end-m.start)/page+63)/64)
		}
	}
	for mi, m := range p.maps {
		n := (m.end - m.start) / page
		bits := p.locked[mi]
		var rs runScanner
		lock := func(lo, hi uint64) error {
			p.mlocks++
			if err := mlock(m.start+lo*page, m.start+hi*page); err != nil {
				return err
			}
			for i := lo; i < hi; i++ {
				bits[i/64] |= 1 << (i % 64)
			}
			p.total += int64((hi - lo) * page)
			return nil
		}
		for i := uint64(0); i < n; i += uint64(len(p.buf) / 8) {
			k := min(uint64(len(p.buf)/8), n-i)
			b := p.buf[:k*8]
			if err := p.readPagemap(b, int64((m.start/page+i)*8)); err != nil {
				return p.total, fmt.Errorf("pin: pagemap at %#x: %w", m.start+i*page, err)
			}
			for j := range k {
				pg := i + j
				present := binary.LittleEndian.Uint64(b[j*8:])&(1<<63) != 0
				lo, hi, ok := rs.step(pg, present && bits[pg/64]&(1<<(pg%64)) == 0)
				if !ok {
					continue
				}
				if err := lock(lo, hi); err != nil {
					return p.total, err
				}
			}
		}
		if lo, hi, ok := rs.step(n, false); ok {
			if err := lock(lo, hi); err != nil {
				return p.total, err
			}
		}
	}
	return p.total, nil
}

// readPagemap fills b from the pagemap at off with raw system calls
// (lseek and read: pread64's offset is split differently on each 32-bit
// ABI): reading the page tables never waits for storage, and a raw call
// leaves the runtime's scheduler and sysmon alone.
func (p *pinner) readPagemap(b []byte, off int64) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_LSEEK, uintptr(p.fd), uintptr(off), 0); errno != 0 { // SEEK_SET
		return fmt.Errorf("lseek: %w", errno)
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(p.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return fmt.Errorf("read: %w", errno)
	}
	if int(n) != len(b) {
		return fmt.Errorf("read %d of %d bytes", n, len(b))
	}
	return nil
}

// forget drops what the pinner knows it locked, for tests that unlock
// the binary's pages behind its back.
func (p *pinner) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, bits := range p.locked {
		clear(bits)
	}
	p.total = 0
}

// mlock locks [lo, hi) with a raw system call: the pages are mapped
// (pagemap said so a moment before), so locking them reads nothing from
// storage, and the runtime's sleeping monitor thread is left asleep. Through
// syscall.Syscall the first of them woke it into polling every 20 µs
// (perf with a probe on runtime.entersyscall: the only system calls an
// idle phone entered that way were these).
func mlock(lo, hi uint64) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_MLOCK, uintptr(lo), uintptr(hi-lo), 0); errno != 0 {
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
