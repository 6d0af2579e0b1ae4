// Package sysmon lets an idle phone sleep through the Go runtime's
// once-a-minute look.
//
// The runtime's monitor thread (sysmon) sleeps while every goroutine is
// blocked, until the next runtime timer but never longer than half of
// the runtime's forced-collection period (runtime.forcegcperiod, two
// minutes): an idle Go process wakes at least once a minute, two
// context switches each time (the futex wait ends, then a 10 ms usleep
// before it looks and sleeps again). On an idle phone registered for
// 300 s that was two thirds of all its wake-ups, and what kept it above
// baresip's (perf, issue 19, docs/performance.md). Nothing in the
// runtime or its GODEBUG settings changes the period.
//
// SetIdleSleep changes it: it sets runtime.forcegcperiod to twice the
// sleep wanted, through //go:linkname. That is a pull of a runtime
// variable the runtime does not offer, which the linker refuses unless
// the program is linked with -ldflags=-checklinkname=0; so it is built
// only with the build tag sysmonsleep, which the Makefile's phoned
// builds set together with that flag. Without the tag SetIdleSleep does
// nothing and reports so, and the runtime keeps its minute.
//
// What else the variable governs, and why it is safe for the phone:
//   - A process with no collection in forcegcperiod is collected: with
//     20 minutes instead of two, a process with GC percent on is
//     collected by its allocations alone (phoned's collector runs on the
//     memory limit while idle anyway: daemon.QuietGCWhileIdle).
//   - sysmon preempts goroutines that run long and retakes Ps from
//     system calls, but only when awake: any system call, a stop of the
//     world or a timer coming due wakes it, as before. A goroutine woken
//     by the network that computes for a long time without a system
//     call, with no timer pending in the whole process, is preempted when
//     sysmon next wakes: that was up to a minute, and is now up to the
//     sleep set here. A phone always has a timer pending (its
//     registration refresh), so the wait ends at that timer at worst.
//
// If a Go release renames or drops the variable, the tagged build fails
// to link (loudly); if it keeps the name but not the meaning, the
// package's test (a collection forced after the period set, with
// nothing allocated) fails.
package sysmon

import (
	"errors"
	"time"
)

// RuntimeDefault is the runtime's own longest idle sleep: half of its
// two-minute forced-collection period.
const RuntimeDefault = time.Minute

// ErrUnavailable is SetIdleSleep's error in a build without the tag.
var ErrUnavailable = errors.New("sysmon: built without the sysmonsleep tag: the runtime's one-minute look stays")

// SetIdleSleep makes d the longest the runtime's monitor thread sleeps
// while the process is idle (the next timer still wakes it sooner),
// and the forced-collection period twice d. It returns the longest sleep
// before the change. d must be at least a second: shorter would make an
// idle process wake more, not less.
func SetIdleSleep(d time.Duration) (prev time.Duration, err error) {
	if d < time.Second {
		return 0, errors.New("sysmon: idle sleep under a second")
	}
	if d > 24*time.Hour {
		return 0, errors.New("sysmon: idle sleep over a day")
	}
	return setIdleSleep(d)
}

// IdleSleep returns the longest idle sleep now in effect.
func IdleSleep() time.Duration { return idleSleep() }

// Available reports whether this build can change the sleep.
func Available() bool { return available }
