package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/atomicfile"
)

// watchFile reports the watched file being replaced (atomicfile's
// rename), rewritten and removed, and nothing for other files in the
// directory; stop ends its goroutine.
func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "provision-url")
	changed := make(chan struct{}, 16)
	stop, err := watchFile(path, func() { changed <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second): // a failure bound, not a pace
			t.Fatalf("%s: not reported", what)
		}
		for len(changed) > 0 { // one change may come as several events
			<-changed
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, []byte("http://a/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want("replaced")
	if err := os.WriteFile(path, []byte("http://b/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want("rewritten")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	want("removed")
	stop()
	stop()
}

func TestWatchFileNoDir(t *testing.T) {
	if _, err := watchFile(filepath.Join(t.TempDir(), "no", "such"), func() {}); err == nil {
		t.Fatal("watching in a missing directory: no error")
	}
}

func TestNamesFile(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, 16), append(make([]byte, 12), 0xff, 0xff, 0xff, 0x7f)} {
		if namesFile(b, "provision-url") {
			t.Errorf("namesFile(%x) = true", b)
		}
	}
}
