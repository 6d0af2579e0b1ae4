package wake

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdAlarm is a one-shot CLOCK_MONOTONIC timerfd registered with the
// runtime's poller (os.NewFile on a non-blocking descriptor) and never
// read: timerfd_settime clears its count, and each expiry is an event.
type fdAlarm struct {
	f  *os.File // kept open for the life of the process
	fd int
}

func (a *fdAlarm) open() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	a.f = os.NewFile(uintptr(fd), "wake-alarm")
	a.fd = fd
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
