package history

import (
	"path/filepath"
	"testing"
)

// BenchmarkAdd is what the phone's loop pays per call: the entry in
// memory and a wake-up of the writer (the save itself is not waited for).
func BenchmarkAdd(b *testing.B) {
	h, err := Open(Config{Max: DefaultMax})
	if err != nil {
		b.Fatal(err)
	}
	e := entry("missed", 1)
	b.ReportAllocs()
	for b.Loop() {
		h.Add(e)
	}
}

// BenchmarkSaveFull is one save of a full default history (encode, write,
// fsync, rename, fsync the directory) on the test's temporary directory.
func BenchmarkSaveFull(b *testing.B) {
	h, err := Open(Config{Path: filepath.Join(b.TempDir(), "history.json")})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	for i := range DefaultMax {
		h.Add(entry("received", i))
	}
	if err := h.Sync(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(encodeLocked(h.entries, h.nextID))))
	for b.Loop() {
		h.Add(entry("placed", 1))
		if err := h.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
