// Package wake has timers that fire on time in an idle process, for the
// phone's long waits (a registration refresh minutes away).
//
// When every goroutine is blocked, one thread of the Go runtime waits in
// epoll_wait until the next runtime timer. Linux lets a wait with a
// timeout end late by 0.1 % of it (select_estimate_accuracy, at most
// 100 ms). The runtime's monitor thread (sysmon) sleeps in futex until
// the same timer and wakes on time; it then finds the timer overdue and
// looks again every 10 ms until the late thread has run it: 5 to 10 more
// context switches for each timer 85 to 270 s away (perf, issue 19,
// docs/performance.md).
//
// A Timer here is a runtime timer plus an alarm: a timerfd in the
// runtime's poller, armed AlarmLag after the timer, which ends the
// thread's wait on time. Nobody reads the alarm; its expiry only makes
// the poller return, and the thread then runs the overdue timer. It is
// armed a little after the timer, not before, so that sysmon (50 µs of
// timer slack) is usually awake when the timer's goroutine runs: a
// system call entered through the runtime while sysmon sleeps wakes it
// into polling every 20 µs for its next 50 looks. A little, because
// sysmon polls while the timer is overdue, every 20 µs for a while after
// a call (its back-off was reset by the call's work), 10 ms otherwise.
//
// Alarms are off until Enable(true) (phoned at start); off, or where
// there is no timerfd, a Timer is a runtime timer alone. Tests leave them
// off: a testing/synctest bubble's fake clock does not drive a timerfd.
package wake

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AlarmLag is how long after its timer an alarm fires.
const AlarmLag = 500 * time.Microsecond

var enabled atomic.Bool

// Enable turns alarms on or off for the timers made from now on.
func Enable(on bool) { enabled.Store(on) }

// Timer is time.Timer with an alarm. C gets the time when it fires.
// With alarms on, a tick sent just before a Stop may still be received
// after it (as with time.Timer before Go 1.23).
type Timer struct {
	C     <-chan time.Time
	c     chan time.Time
	t     *time.Timer
	alarm bool

	mu sync.Mutex
	at time.Time // the alarm's time while one is wanted; zero: none
}

// NewTimer returns a Timer that fires once after d.
func NewTimer(d time.Duration) *Timer {
	if !enabled.Load() || !opened() {
		rt := time.NewTimer(d)
		return &Timer{C: rt.C, t: rt}
	}
	t := &Timer{c: make(chan time.Time, 1), alarm: true}
	t.C = t.c
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want(d)
	t.t = time.AfterFunc(d, t.fire)
	return t
}

func (t *Timer) fire() {
	t.mu.Lock()
	if !t.at.IsZero() && time.Now().Before(t.at.Add(-AlarmLag)) {
		// The firing of a time a Reset replaced, which had already
		// started when Reset stopped it: the timer now fires later.
		t.mu.Unlock()
		return
	}
	t.drop()
	t.mu.Unlock()
	select {
	case t.c <- time.Now():
	default:
	}
}

// want asks for an alarm AlarmLag after d from now; t.mu is held.
func (t *Timer) want(d time.Duration) {
	t.at = time.Now().Add(d + AlarmLag)
	shared.add(t.at)
}

// drop gives up t's alarm, if any; t.mu is held.
func (t *Timer) drop() {
	if !t.at.IsZero() {
		shared.remove(t.at)
		t.at = time.Time{}
	}
}

// Stop stops the timer, and its alarm; it reports whether the timer was
// still pending, as time.Timer.Stop does.
func (t *Timer) Stop() bool {
	if !t.alarm {
		return t.t.Stop()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ok := t.t.Stop()
	t.drop()
	return ok
}

// Reset makes the timer fire after d from now, with its alarm; it
// reports whether the timer was still pending, as time.Timer.Reset does.
func (t *Timer) Reset(d time.Duration) bool {
	if !t.alarm {
		return t.t.Reset(d)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ok := t.t.Stop()
	t.drop()
	select {
	case <-t.c: // a tick of the old time, not yet received
	default:
	}
	t.want(d)
	t.t.Reset(d)
	return ok
}

// alarms is the process's one alarm and the times it is wanted at.
type alarms struct {
	mu      sync.Mutex
	fd      fdAlarm     // opened once, by opened
	pending []time.Time // sorted
	armed   time.Time   // zero: disarmed
}

var shared alarms

// opened makes the alarm once, and reports whether there is one.
var opened = sync.OnceValue(func() bool { return shared.fd.open() == nil })

func (a *alarms) add(at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, _ := slices.BinarySearchFunc(a.pending, at, time.Time.Compare)
	a.pending = slices.Insert(a.pending, i, at)
	a.rearm()
}

func (a *alarms) remove(at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, found := slices.BinarySearchFunc(a.pending, at, time.Time.Compare); found {
		a.pending = slices.Delete(a.pending, i, i+1)
	}
	a.rearm()
}

// rearm sets the alarm to the earliest time wanted, or disarms it.
func (a *alarms) rearm() {
	var next time.Time
	if len(a.pending) > 0 {
		next = a.pending[0]
	}
	if next.Equal(a.armed) {
		return
	}
	if a.fd.set(next) == nil {
		a.armed = next
	}
}
