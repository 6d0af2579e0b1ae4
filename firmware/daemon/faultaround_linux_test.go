//go:build linux

package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestStopFaultAround maps a file whose pages are all in the page cache
// twice and reads one byte in the middle of each mapping: the kernel
// maps the cached pages around it in the plain mapping (fault-around),
// and only that page in the registered one.
func TestStopFaultAround(t *testing.T) {
	page := os.Getpagesize()
	const pages, touched = 64, 40
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
	if plain[touched*page] != 7 || registered[touched*page] != 7 {
		t.Fatal("the mappings do not read the file")
	}
	if got := mappedPages(t, plain); got <= 1 {
		t.Skipf("no fault-around on this machine anyway: %d page mapped by one read", got)
	}
	if got := mappedPages(t, registered); got != 1 {
		t.Fatalf("one read mapped %d pages of the registered mapping; want 1 (no fault-around)", got)
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
	if undone[touched*page] != 7 {
		t.Fatal("the mapping does not read the file")
	}
	if got := mappedPages(t, undone); got <= 1 {
		t.Fatalf("one read mapped %d page of a mapping whose registration failed; want fault-around back", got)
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
