//go:build linux

package daemon

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4).
const madvPageout = 21

// pageOutCode asks the kernel to drop phoned's own read-only file pages
// (code, read-only data, the symbol tables) from the process
// (madvise MADV_PAGEOUT): what start-up alone ran (every package's init,
// the config parse, the web and TLS set-up) stops counting in the
// phone's RSS, and whatever runs again comes back on its next use. It
// returns the bytes of the ranges advised; a kernel without
// MADV_PAGEOUT refuses and nothing changes.
//
// First it stops fault-around in those mappings (stopFaultAround), so
// that a page used again comes back alone and not with the up to 15
// cached pages around it: VmRSS in a call 9.0 MB with it against
// 11.4 MB without (docs/performance.md). MADV_PAGEOUT reclaims the
// pages no other process maps, page cache included: on Linux 6.18 the
// first registration refresh after it read about 30 of them back from
// storage (majflt 0 -> 31, session 11), once; what ran again is then
// pinned (pinAfterRefresh, pinAfterCollections). keep
// (DESKPHONE_FAULTAROUND=1) leaves fault-around on; the error says why
// it stayed on, and is nil when it was stopped or kept on purpose.
//
// Where fault-around stays on (a kernel before 6.7), the read-only data
// mapping (not the code) is first marked MADV_RANDOM, and its range of
// the file dropped from the page cache (dropCache), as before fault-
// around could be stopped. Without that the kernel counted its pages as
// referenced and kept them cached (unmapped from the process only), and
// each later fault in it (the collector's and tracebacks' walks of the
// function tables, the JSON encoder's type data) mapped the cached pages
// around it too (fault-around, 64 kB) or read 128 kB about it
// (read-around): 7.2 MB of it resident in a call, 2.9 MB with this. The
// pages leave the page cache and come back one by one: about 500-700
// reads from storage after the page-out, most in the first call. The
// code mapping is only paged out there: advised too, its resident size
// in a call did not change (5.0 MB either way on Linux 6.18).
//
// Either way, once the page-out is done, what the phone maps again is
// locked (pinWorkingSet), so that no reclaim takes it and no
// collection reads it back. Measured in docs/performance.md.
func pageOutCode(keep bool) (int64, error) {
	exe, maps := exeMappings()
	var faErr error
	random := true
	if !keep {
		if _, faErr = stopFaultAround(maps); faErr == nil {
			random = false
		}
	}
	var total int64
	for _, m := range maps {
		if !m.code && random {
			syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), syscall.MADV_RANDOM)
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), madvPageout)
		if errno != 0 {
			return total, faErr
		}
		if !m.code && random {
			dropCache(exe, int64(m.off), int64(m.end-m.start))
		}
		total += int64(m.end - m.start)
	}
	return total, faErr
}

// exeMapping is one of phoned's read-only mappings of its own binary.
type exeMapping struct {
	start, end, off uint64 // addresses, and the file offset of start
	code            bool   // r-xp: code; r--p: read-only data, symbol tables
}

// exeMappings returns the path of the running binary and its read-only
// mappings, data before code (pinWorkingSet locks the data first), or
// nothing when /proc is not there.
func exeMappings() (string, []exeMapping) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return "", nil
	}
	var data, code []exeMapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// 00400000-0040b000 r-xp 00000000 fe:00 1234   /path/to/phoned
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || bytes.IndexByte(f[1], 'w') >= 0 {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		off, err3 := strconv.ParseUint(string(f[2]), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		m := exeMapping{start: start, end: end, off: off, code: bytes.IndexByte(f[1], 'x') >= 0}
		if m.code {
			code = append(code, m)
		} else {
			data = append(data, m)
		}
	}
	return exe, append(data, code...)
}

// dropCache drops from the page cache the pages of the file at path
// in [off, off+n) that no process maps (posix_fadvise
// POSIX_FADV_DONTNEED): the page-out evicts only the pages it unmapped,
// and those that start-up's read-around brought in but nothing mapped
// stayed cached for a later fault to map with its own (fault-around).
// By hand (cold page cache, in the third call) the read-only data was
// 2.9 MB resident with the drop, 3.4 MB without.
func dropCache(path string, off, n int64) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
