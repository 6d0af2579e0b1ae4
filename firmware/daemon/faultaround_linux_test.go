//go:build linux

package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestStopFaultAround maps a file whose pages are all in the page cache
// and reads one byte in each of its four 64 kB windows: the kernel maps
// the cached pages around each read in a plain mapping (fault-around),
// and only the pages read in a registered one.
//
// One read alone does not show fault-around: on Linux 6.18 over ext4
// the first read of a fresh mapping now and then maps its one page
// (about 1 in 8 mappings under go test -count), or the whole file where
// the page cache holds it as one large folio. Four reads in four
// windows map at least 49 pages with fault-around and exactly 4
// without.
func TestStopFaultAround(t *testing.T) {
	page := os.Getpagesize()
	const pages, windows = 64, 4
	path := filepath.Join(t.TempDir(), "cached")
	// Written, the file's pages are in the page cache.
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, pages*page), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapFile := func() []byte {
		b, err := unix.Mmap(int(f.Fd()), 0, pages*page, unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		return b
	}
	// readWindows reads one byte in each 64 kB window of b and returns
	// the pages then mapped.
	readWindows := func(b []byte) int {
		t.Helper()
		for w := range windows {
			if b[(w*pages/windows+3)*page] != 7 {
				t.Fatal("the mapping does not read the file")
			}
		}
		return mappedPages(t, b)
	}
	plain, registered, undone := mapFile(), mapFile(), mapFile()
	span := func(b []byte) exeMapping {
		start := uint64(uintptr(unsafe.Pointer(&b[0])))
		return exeMapping{start: start, end: start + uint64(len(b))}
	}
	n, err := stopFaultAround([]exeMapping{span(registered)})
	if errors.Is(err, errNoFaultAroundStop) {
		t.Skipf("this kernel cannot: %v", err)
	}
	if err != nil || n != int64(len(registered)) {
		t.Fatalf("stopFaultAround: %d bytes, %v", n, err)
	}
	if got := readWindows(plain); got <= windows {
		t.Skipf("no fault-around on this machine anyway: %d pages mapped by %d reads", got, windows)
	}
	if got := readWindows(registered); got != windows {
		t.Fatalf("%d reads mapped %d pages of the registered mapping; want %d (no fault-around)", windows, got, windows)
	}
	if !uffdWP(t, registered) {
		t.Fatal("the registered mapping has no uw in its VmFlags")
	}
	// All or nothing: a range that cannot be registered (nothing mapped
	// there once unmapped) undoes the registration of those before it.
	gone, err := unix.Mmap(int(f.Fd()), 0, pages*page, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	hole := span(gone)
	if err := unix.Munmap(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := stopFaultAround([]exeMapping{span(undone), hole}); !errors.Is(err, errNoFaultAroundStop) {
		t.Fatalf("registering an unmapped range: %v", err)
	}
	if uffdWP(t, undone) {
		t.Fatal("a mapping whose registration failed is still registered (uw in its VmFlags)")
	}
	if got := readWindows(undone); got <= windows {
		t.Fatalf("%d reads mapped %d pages of a mapping whose registration failed; want fault-around back", windows, got)
	}
	// The registration holds for later faults too, and reads stay right.
	for i := range pages {
		if registered[i*page] != 7 {
			t.Fatalf("page %d reads %d", i, registered[i*page])
		}
	}
	if got := mappedPages(t, registered); got != pages {
		t.Fatalf("%d of %d pages mapped after reading each", got, pages)
	}
}

// uffdWP reports whether /proc/self/smaps lists b's mapping as
// registered for write-protect tracking (VmFlags uw).
func uffdWP(t *testing.T, b []byte) bool {
	t.Helper()
	sm, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	in := false
	for _, line := range strings.Split(string(sm), "\n") {
		switch {
		case strings.HasPrefix(line, head):
			in = true
		case in && strings.HasPrefix(line, "VmFlags:"):
			return slices.Contains(strings.Fields(line)[1:], "uw")
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", head)
	return false
}

// mappedPages counts b's pages that /proc/self/pagemap says are present.
func mappedPages(t *testing.T, b []byte) int {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	page := uintptr(os.Getpagesize())
	e := make([]byte, len(b)/int(page)*8)
	if _, err := pm.ReadAt(e, int64(uintptr(unsafe.Pointer(&b[0]))/page*8)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(e); i += 8 {
		if binary.LittleEndian.Uint64(e[i:])&(1<<63) != 0 {
			n++
		}
	}
	return n
}
