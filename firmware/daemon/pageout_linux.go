//go:build linux

package daemon

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4).
const madvPageout = 21

// pageOutCode asks the kernel to drop phoned's own read-only file pages
// (code, read-only data, the symbol tables) from the process
// (madvise MADV_PAGEOUT): what start-up alone ran (every package's init,
// the config parse, the web and TLS set-up) stops counting in the
// phone's RSS, and whatever runs again comes back on its next use, from
// the page cache. It returns the bytes of the ranges advised; a kernel
// without MADV_PAGEOUT refuses and nothing changes.
func pageOutCode() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
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
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout)
		if errno != 0 {
			return total
		}
		total += int64(end - start)
	}
	return total
}
