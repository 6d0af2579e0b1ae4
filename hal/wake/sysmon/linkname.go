//go:build sysmonsleep

package sysmon

import (
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// forcegcperiod is the runtime's (runtime/proc.go): nanoseconds, read
// by sysmon (its idle sleep is half of it) and by the collector's time
// trigger. A global's first word is 64-bit aligned on every platform,
// so the atomic access works on 32-bit ARM too; sysmon reads it plainly.
//
//go:linkname forcegcperiod runtime.forcegcperiod
var forcegcperiod int64

const available = true

func setIdleSleep(d time.Duration) (time.Duration, error) {
	prev := atomic.SwapInt64(&forcegcperiod, int64(2*d))
	return time.Duration(prev / 2), nil
}

func idleSleep() time.Duration { return time.Duration(atomic.LoadInt64(&forcegcperiod) / 2) }
