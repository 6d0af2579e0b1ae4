package wake

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdAlarm is a one-shot CLOCK_MONOTONIC timerfd registered with the
// runtime's poller (os.NewFile on a non-blocking descriptor).
// timerfd_settime clears its count, and each expiry is an event.
type fdAlarm struct {
	f  *os.File // kept open for the life of the process
	rc syscall.RawConn
	fd int
}

func (a *fdAlarm) open() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "wake-alarm")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	a.f, a.rc, a.fd = f, rc, fd
	return nil
}

// set arms the alarm for at (a zero time disarms it). timerfd_settime is
// a raw system call in x/sys/unix: it leaves sysmon asleep.
func (a *fdAlarm) set(at time.Time) error {
	var spec unix.ItimerSpec
	if !at.IsZero() {
		d := max(time.Until(at), time.Microsecond) // zero would disarm it
		spec.Value = unix.NsecToTimespec(int64(d))
	}
	return unix.TimerfdSettime(a.fd, 0, &spec, nil)
}

// wait blocks in the runtime's poller until the alarm expires, and
// reads the expiry. The read is a raw system call (os.File.Read and
// unix.Read go through the runtime's system call path, which wakes a
// sleeping sysmon).
func (a *fdAlarm) wait() error {
	var buf [8]byte
	var rerr error
	err := a.rc.Read(func(fd uintptr) bool {
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		for e == unix.EINTR {
			_, _, e = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		}
		switch e {
		case 0:
			return true
		case unix.EAGAIN:
			return false // not expired (or set again since): wait in the poller
		default:
			rerr = os.NewSyscallError("read timerfd", e)
			return true
		}
	})
	if err != nil {
		return err
	}
	return rerr
}
