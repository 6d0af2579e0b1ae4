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
// phone's RSS, and whatever runs again comes back on its next use. It returns the bytes of the ranges advised; a kernel
// without MADV_PAGEOUT refuses and nothing changes.
//
// Each mapping is first marked MADV_RANDOM. Without it the kernel
// counted the pages as referenced and kept them in the page cache
// (unmapped from the process only), and every later fault on the
// mapping (the collector's and tracebacks' walks of the function
// tables in the read-only data, a call's code) mapped in the cached
// pages around it too (fault-around, 64 kB), or read 128 kB about it
// (read-around): about 3 MB of neighbours that nothing ran, VmRSS in a
// call 11.2 MB against 8.2 MB with it (docs/performance.md). With it the
// page-out evicts the pages from the page cache and each one that is
// used again is read alone: about 300 reads from storage in the first
// call after the page-out where there were next to none; later calls
// find their pages resident.
func pageOutCode() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer dropCache(exe)
	var total int64
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
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_RANDOM)
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout)
		if errno != 0 {
			return total
		}
		total += int64(end - start)
	}
	return total
}

// dropCache drops from the page cache the pages of the file at path
// that no process maps (posix_fadvise POSIX_FADV_DONTNEED). The
// page-out evicts only the pages it unmaps; those that start-up's
// read-around brought in but nothing mapped stayed cached, and a later
// fault next to one mapped it too (fault-around). By hand (cold page
// cache, in the third call): VmRSS 7.7 MB with this, 8.2 MB without.
func dropCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
