// Package wake has timers that fire on time in an idle process without
// waking the Go runtime's monitor thread, for the phone's long waits (a
// registration refresh minutes away).
//
// When every goroutine is blocked, one thread of the Go runtime waits in
// epoll_wait until the next runtime timer. Linux lets a wait with a
// timeout end late by 0.1 % of it (select_estimate_accuracy, at most
// 100 ms). The runtime's monitor thread (sysmon) sleeps in futex until
// the same timer and wakes on time; it then finds the timer overdue and
// looks again every 10 ms until the late thread has run it: 5 to 10 more
// context switches for each timer 85 to 270 s away (perf, issue 19,
// docs/performance.md). Even on time, sysmon wakes for every runtime
// timer: two context switches (the futex wait ends, a usleep, then it
// sleeps again), more than half of what a refresh costs.
//
// A Timer here, with alarms on, is no runtime timer at all: the process
// has one CLOCK_MONOTONIC timerfd in the runtime's poller, armed for the
// earliest pending Timer, and one goroutine that waits on it (a raw read
// through the poller) and fires the Timers that are due. The expiry ends
// the poller's wait on time (a timerfd has no slack beyond the kernel's
// 50 µs), and sysmon, asleep until the next runtime timer (hal/wake/sysmon
// lengthens its longest sleep), is not woken: nothing in the poller's
// wake-up, the raw read or the channel send enters the runtime's system
// call path. A system call made through it (syscall.Syscall, os.File
// I/O) while sysmon sleeps wakes it into polling every 20 µs for its next
// 50 looks, so the phone's idle paths use raw calls (the port manager's
// sends and route lookup, the pin after a collection).
//
// Alarms are off until Enable(true) (phoned at start); off, or where
// there is no timerfd, a Timer is a runtime timer. Tests leave them off:
// a testing/synctest bubble's fake clock does not drive a timerfd. If the
// timerfd ever fails to read, the pending Timers and every later one
// become runtime timers.
package wake

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var enabled atomic.Bool

// Enable turns alarms on or off for the timers made from now on.
func Enable(on bool) { enabled.Store(on) }

// Timer is time.Timer driven by the alarm. C gets the time when it
// fires. With alarms on, a tick sent just before a Stop may still be
// received after it (as with time.Timer before Go 1.23).
type Timer struct {
	C <-chan time.Time
	c chan time.Time
	t *time.Timer // alarms off: a runtime timer alone

	mu sync.Mutex
	at time.Time // when it fires, while pending; zero: not pending
}

// NewTimer returns a Timer that fires once after d.
func NewTimer(d time.Duration) *Timer {
	if !enabled.Load() || !opened() {
		rt := time.NewTimer(d)
		return &Timer{C: rt.C, t: rt}
	}
	t := &Timer{c: make(chan time.Time, 1)}
	t.C = t.c
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start(d)
	return t
}

// start makes t pending d from now; t.mu is held.
func (t *Timer) start(d time.Duration) {
	t.at = time.Now().Add(d)
	shared.add(entry{at: t.at, t: t})
}

// fire is the firing of t's time at: it sends the tick unless Stop or
// Reset has taken that time back since.
func (t *Timer) fire(at time.Time) {
	t.mu.Lock()
	if t.at.IsZero() || !t.at.Equal(at) {
		t.mu.Unlock()
		return
	}
	t.at = time.Time{}
	t.mu.Unlock()
	select {
	case t.c <- time.Now():
	default:
	}
}

// Stop stops the timer; it reports whether the timer was still
// pending, as time.Timer.Stop does.
func (t *Timer) Stop() bool {
	if t.t != nil {
		return t.t.Stop()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.at.IsZero() {
		return false
	}
	shared.remove(entry{at: t.at, t: t})
	t.at = time.Time{}
	return true
}

// Reset makes the timer fire after d from now; it reports whether the
// timer was still pending, as time.Timer.Reset does.
func (t *Timer) Reset(d time.Duration) bool {
	if t.t != nil {
		return t.t.Reset(d)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.at.IsZero()
	if was {
		shared.remove(entry{at: t.at, t: t})
	}
	select {
	case <-t.c: // a tick of the old time, not yet received
	default:
	}
	t.start(d)
	return was
}

// entry is one pending Timer's time.
type entry struct {
	at time.Time
	t  *Timer
}

func (e entry) cmp(o entry) int { return e.at.Compare(o.at) }

// alarms is the process's one alarm and the Timers pending on it.
type alarms struct {
	mu      sync.Mutex
	fd      fdAlarm   // opened once, by opened
	pending []entry   // sorted by time
	armed   time.Time // the time the timerfd is set for; zero: disarmed
	failed  bool      // the timerfd failed: runtime timers from then on
}

var shared alarms

// opened makes the alarm and its goroutine once, and reports whether
// there is one. The goroutine lives as long as the process, as the
// runtime's own do; it holds one descriptor.
var opened = sync.OnceValue(func() bool {
	if shared.fd.open() != nil {
		return false
	}
	go shared.run()
	return true
})

// run waits on the timerfd and fires the Timers that are due, until a
// read fails.
func (a *alarms) run() {
	for {
		if err := a.fd.wait(); err != nil {
			a.fail()
			return
		}
		a.fireDue()
	}
}

// fireDue fires every Timer whose time has come and sets the alarm for
// the next one.
func (a *alarms) fireDue() {
	a.mu.Lock()
	now := time.Now()
	n := 0
	for n < len(a.pending) && !a.pending[n].at.After(now) {
		n++
	}
	due := slices.Clone(a.pending[:n])
	a.pending = slices.Delete(a.pending, 0, n)
	a.armed = time.Time{} // the expiry read is spent: set it again
	a.rearm()
	a.mu.Unlock()
	for _, e := range due {
		e.t.fire(e.at)
	}
}

// fail hands the pending Timers, and every later one, to runtime timers.
func (a *alarms) fail() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failLocked()
}

func (a *alarms) failLocked() {
	a.failed = true
	for _, e := range a.pending {
		e.runtimeTimer()
	}
	a.pending = nil
	a.armed = time.Time{}
	_ = a.fd.set(time.Time{}) // best effort: nobody waits on it now
}

// runtimeTimer fires e's Timer at e's time with a runtime timer.
func (e entry) runtimeTimer() {
	time.AfterFunc(time.Until(e.at), func() { e.t.fire(e.at) })
}

func (a *alarms) add(e entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed {
		e.runtimeTimer()
		return
	}
	i, _ := slices.BinarySearchFunc(a.pending, e, entry.cmp)
	a.pending = slices.Insert(a.pending, i, e)
	a.rearm()
}

func (a *alarms) remove(e entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Entries with the same time sit together; find e's among them.
	i, _ := slices.BinarySearchFunc(a.pending, e, entry.cmp)
	for ; i < len(a.pending) && a.pending[i].at.Equal(e.at); i++ {
		if a.pending[i].t == e.t {
			a.pending = slices.Delete(a.pending, i, i+1)
			break
		}
	}
	a.rearm()
}

// rearm sets the alarm to the earliest time pending, or disarms it;
// a.mu is held.
func (a *alarms) rearm() {
	if a.failed {
		return
	}
	var next time.Time
	if len(a.pending) > 0 {
		next = a.pending[0].at
	}
	if next.Equal(a.armed) {
		return
	}
	if err := a.fd.set(next); err != nil {
		// Not with a valid descriptor; if it happens, the Timers
		// still fire, on runtime timers.
		a.failLocked()
		return
	}
	a.armed = next
}
