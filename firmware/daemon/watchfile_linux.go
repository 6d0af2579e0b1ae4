package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// watchFile calls changed (on its own goroutine) whenever the file at
// path is created, replaced by a rename, written or removed, until stop
// is called; stop waits for that goroutine. It watches the directory
// with inotify, read through the runtime's poller, so nothing runs while
// the file stays as it is: it replaces a poll of the file that woke an
// idle phone every 15 s (issue 19).
func watchFile(path string, changed func()) (stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	const mask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads wait in the poller
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					_ = f.Close()
				}
				return
			}
			if namesFile(buf[:n], base) {
				changed()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { _ = f.Close() })
		wg.Wait()
	}, nil
}

// namesFile reports whether the inotify events in b name the file base.
func namesFile(b []byte, base string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		// struct inotify_event: wd, mask, cookie, len (u32 each), name[len].
		l := int(binary.NativeEndian.Uint32(b[12:16]))
		if unix.SizeofInotifyEvent+l > len(b) {
			return false
		}
		name := bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l], "\x00")
		if string(name) == base {
			return true
		}
		b = b[unix.SizeofInotifyEvent+l:]
	}
	return false
}
