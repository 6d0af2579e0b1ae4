//go:build linux

package ntp

import (
	"time"

	"golang.org/x/sys/unix"
)

// setClock steps CLOCK_REALTIME to t (clock_settime(2)).
func setClock(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}

// SlewClock adjusts the clock gradually by offset, as adjtime(3) does
// (adjtimex(2) with ADJ_OFFSET_SINGLESHOT, microseconds).
func SlewClock(offset time.Duration) error {
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT}
	setLong(&tx.Offset, offset.Microseconds()) // slews are below 128 ms: fits 32 bits
	_, err := unix.Adjtimex(&tx)
	return err
}

// setLong stores v in a C long field of unix.Timex, which is int32 on
// 32-bit ARM and int64 on arm64.
func setLong[T int32 | int64](p *T, v int64) { *p = T(v) }
