//go:build linux

package initd

import (
	"time"

	"golang.org/x/sys/unix"
)

// setClock steps CLOCK_REALTIME to t (clock_settime(2)).
func setClock(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}

// slewClock adjusts the clock gradually by offset, as adjtime(3) does
// (adjtimex(2) with ADJ_OFFSET_SINGLESHOT, microseconds).
func slewClock(offset time.Duration) error {
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT, Offset: offset.Microseconds()}
	_, err := unix.Adjtimex(&tx)
	return err
}
