package pace

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var fdClock atomic.Bool

// UseFDClock makes the clocks that Run starts from now on timerfds read
// through the runtime's poller (as a sound card's clock is a descriptor
// that becomes readable once a period) instead of runtime timers; Linux
// only, elsewhere it does nothing. A runtime timer wakes the Go
// runtime's sysmon thread at every expiry while the process is otherwise
// idle: twice per 20 ms frame in a call (a futex and a nanosleep; issue
// 19 measured it as a sixth of a call's CPU). A descriptor in the poller
// does not. phoned turns it on at start; tests leave it off, since a
// testing/synctest bubble's fake clock cannot drive a timerfd.
func UseFDClock(on bool) { fdClock.Store(on) }

func newTicker(d time.Duration, stop <-chan struct{}) ticker {
	if fdClock.Load() {
		if t, err := newFDTicker(d, stop); err == nil {
			return t
		}
	}
	return newTimeTicker(d, stop)
}

// fdTicker is a periodic CLOCK_MONOTONIC timerfd. Missed ticks are
// dropped, as time.Ticker drops them: one read is one frame.
type fdTicker struct {
	f    *os.File
	rc   syscall.RawConn
	done chan struct{} // closed by close: ends the stop watcher
	wg   sync.WaitGroup
	// buf and read serve wait, made once so that a tick allocates
	// nothing (a buffer and a closure escaped per frame before: 1.2 kB
	// of garbage a second in a call).
	buf  [8]byte
	read func(fd uintptr) bool
}

func newFDTicker(d time.Duration, stop <-chan struct{}) (*fdTicker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	t := &fdTicker{f: os.NewFile(uintptr(fd), "timerfd"), done: make(chan struct{})}
	t.read = t.readExpiry
	if t.rc, err = t.f.SyscallConn(); err == nil {
		err = t.set(d)
	}
	if err != nil {
		t.f.Close()
		return nil, err
	}
	// A wait ends when stop closes: a deadline in the past wakes it.
	t.wg.Go(func() {
		select {
		case <-stop:
			_ = t.f.SetReadDeadline(time.Unix(1, 0))
		case <-t.done:
		}
	})
	return t, nil
}

func (t *fdTicker) set(d time.Duration) error {
	ts := unix.NsecToTimespec(int64(d))
	spec := unix.ItimerSpec{Interval: ts, Value: ts}
	var err error
	if cerr := t.rc.Control(func(fd uintptr) {
		err = unix.TimerfdSettime(int(fd), 0, &spec, nil)
	}); cerr != nil {
		return cerr
	}
	return err
}

// wait reads the expiry count with a raw read(2): the descriptor is
// non-blocking, and a raw system call does not wake sysmon as
// syscall.Syscall does when every P is idle. Only the clock's own loop
// calls it.
func (t *fdTicker) wait() bool {
	return t.rc.Read(t.read) == nil
}

func (t *fdTicker) readExpiry(fd uintptr) bool {
	_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&t.buf[0])), uintptr(len(t.buf)))
	return e != syscall.EAGAIN
}

func (t *fdTicker) pause()                 { _ = t.set(0) }
func (t *fdTicker) resume(d time.Duration) { _ = t.set(d) }

func (t *fdTicker) close() {
	close(t.done)
	t.wg.Wait()
	t.f.Close()
}
