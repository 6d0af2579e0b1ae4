package wake

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kernelArmed is how long until the alarm's timerfd expires, as the
// kernel has it (zero: disarmed).
func kernelArmed(t *testing.T) time.Duration {
	t.Helper()
	var cur unix.ItimerSpec
	if err := unix.TimerfdGettime(shared.fd.fd, &cur); err != nil {
		t.Fatal(err)
	}
	return time.Duration(cur.Value.Nano())
}

// enableAlarms turns alarms on for one test.
func enableAlarms(t *testing.T) {
	t.Helper()
	Enable(true)
	t.Cleanup(func() { Enable(false) })
	if !opened() {
		t.Skip("no timerfd here")
	}
}

// receive waits for t's tick, at most a minute.
func receive(t *testing.T, tm *Timer, what string) time.Time {
	t.Helper()
	select {
	case got := <-tm.C:
		return got
	case <-time.After(time.Minute):
		t.Fatalf("%s did not fire", what)
		return time.Time{}
	}
}

// With alarms on, a Timer is no runtime timer, and the timerfd is armed
// for the earliest pending Timer, follows Stop, Reset and firing, and is
// disarmed when no Timer is left.
func TestAlarmFollowsTimers(t *testing.T) {
	enableAlarms(t)
	late := NewTimer(2 * time.Hour)
	early := NewTimer(time.Hour)
	if late.t != nil || early.t != nil {
		t.Fatal("a runtime timer with alarms on")
	}
	if pending, armed := shared.wanted(); len(pending) != 2 || !armed.Equal(early.when()) {
		t.Fatalf("pending %v, armed %v; want two, armed at the earlier %v", pending, armed, early.when())
	}
	if d := kernelArmed(t); d < time.Hour-time.Minute || d > time.Hour+time.Minute {
		t.Fatalf("timerfd expires in %v, want about an hour", d)
	}
	if !early.Stop() {
		t.Fatal("Stop of a pending timer says not pending")
	}
	if early.Stop() {
		t.Fatal("a second Stop says pending")
	}
	if _, armed := shared.wanted(); !armed.Equal(late.when()) {
		t.Fatalf("after Stop armed at %v, want the later timer's %v", armed, late.when())
	}
	if d := kernelArmed(t); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Fatalf("after Stop timerfd expires in %v, want about two hours", d)
	}
	// A timer that fires leaves the alarm to the others.
	quick := NewTimer(30 * time.Minute)
	if _, armed := shared.wanted(); !armed.Equal(quick.when()) {
		t.Fatalf("armed at %v, want the quick timer's %v", armed, quick.when())
	}
	if !quick.Reset(10 * time.Millisecond) {
		t.Fatal("Reset of a pending timer says not pending")
	}
	at := quick.when()
	if got := receive(t, quick, "the quick timer"); got.Before(at) {
		t.Fatalf("fired at %v, before its time %v", got, at)
	}
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(late.when()) {
		t.Fatalf("after firing: pending %v, armed %v; want the late timer's alone", pending, armed)
	}
	// Reset moves the alarm with the timer.
	late.Reset(3 * time.Hour)
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(late.when()) {
		t.Fatalf("after Reset: pending %v, armed %v; want the late timer's new %v", pending, armed, late.when())
	}
	if d := kernelArmed(t); d < 3*time.Hour-time.Minute || d > 3*time.Hour+time.Minute {
		t.Fatalf("after Reset timerfd expires in %v, want about three hours", d)
	}
	late.Reset(10 * time.Millisecond)
	receive(t, late, "the reset timer")
	if late.Stop() {
		t.Error("Stop after firing says pending")
	}
	if late.Reset(time.Hour) {
		t.Error("Reset after firing says pending")
	}
	late.Stop()
	if pending, armed := shared.wanted(); len(pending) != 0 || !armed.IsZero() {
		t.Fatalf("no timer left: pending %v, armed %v", pending, armed)
	}
	if d := kernelArmed(t); d != 0 {
		t.Fatalf("no timer left, timerfd still expires in %v", d)
	}
}

// twinOf makes a second Timer pending at tm's very instant.
func twinOf(tm *Timer) *Timer {
	twin := &Timer{c: make(chan time.Time, 1)}
	twin.C = twin.c
	twin.mu.Lock()
	defer twin.mu.Unlock()
	twin.at = tm.when()
	shared.add(entry{at: twin.at, t: twin})
	return twin
}

// Two timers for the same instant: Stop of one leaves the other's.
func TestAlarmSameInstant(t *testing.T) {
	enableAlarms(t)
	a := NewTimer(time.Hour)
	b := twinOf(a)
	a.Stop()
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(b.when()) {
		t.Fatalf("pending %v, armed %v", pending, armed)
	}
	b.Stop()
	if pending, armed := shared.wanted(); len(pending) != 0 || !armed.IsZero() {
		t.Fatalf("pending %v, armed %v", pending, armed)
	}
}

// Many timers, some for the same instant, some stopped: each one left
// fires once, not before its time, and the stopped ones never.
func TestAlarmFiresEachOnce(t *testing.T) {
	enableAlarms(t)
	var timers, stopped []*Timer
	var ats []time.Time
	for i := range 40 {
		tm := NewTimer(time.Duration(i%8) * 3 * time.Millisecond)
		if i%5 == 4 {
			tm.Stop()
			stopped = append(stopped, tm)
			continue
		}
		timers, ats = append(timers, tm), append(ats, tm.when())
	}
	same := NewTimer(4 * time.Millisecond)
	twin := twinOf(same)
	timers, ats = append(timers, same, twin), append(ats, twin.when(), twin.when())
	for i, tm := range timers {
		if got := receive(t, tm, "a timer"); !ats[i].IsZero() && got.Before(ats[i]) {
			t.Errorf("timer %d fired at %v, before its time %v", i, got, ats[i])
		}
	}
	time.Sleep(30 * time.Millisecond)
	for i, tm := range append(timers, stopped...) {
		select {
		case <-tm.C:
			t.Errorf("timer %d ticked twice, or after Stop", i)
		default:
		}
	}
	if pending, armed := shared.wanted(); len(pending) != 0 || !armed.IsZero() {
		t.Fatalf("all fired: pending %v, armed %v", pending, armed)
	}
}

// A firing of a time that Reset or Stop has taken back sends no tick
// and leaves the new time pending.
func TestStaleFiring(t *testing.T) {
	enableAlarms(t)
	tm := NewTimer(time.Hour)
	old := tm.when()
	tm.Reset(2 * time.Hour)
	tm.fire(old) // as the old hour's firing would, after Reset
	select {
	case <-tm.C:
		t.Fatal("a tick from the replaced time")
	default:
	}
	if tm.when().IsZero() {
		t.Fatal("the replaced time's firing took the new time")
	}
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(tm.when()) {
		t.Fatalf("pending %v, armed %v; want the new time's alarm", pending, armed)
	}
	now := tm.when()
	tm.Stop()
	tm.fire(now)
	select {
	case <-tm.C:
		t.Fatal("a tick after Stop")
	default:
	}
}

// If the timerfd fails, pending timers and later ones fire on runtime
// timers.
func TestAlarmFailure(t *testing.T) {
	enableAlarms(t)
	pending := NewTimer(5 * time.Millisecond)
	stopped := NewTimer(5 * time.Millisecond)
	shared.fail()
	t.Cleanup(func() {
		shared.mu.Lock()
		shared.failed = false
		shared.mu.Unlock()
	})
	if !stopped.Stop() {
		t.Error("Stop of a pending timer after the failure says not pending")
	}
	later := NewTimer(5 * time.Millisecond)
	receive(t, pending, "a timer pending at the failure")
	receive(t, later, "a timer made after the failure")
	later.Reset(time.Millisecond)
	receive(t, later, "a timer reset after the failure")
	time.Sleep(20 * time.Millisecond)
	select {
	case <-stopped.C:
		t.Error("a stopped timer fired")
	default:
	}
	if d := kernelArmed(t); d != 0 {
		t.Errorf("failed alarm still armed for %v", d)
	}
}

// when is t's time (zero: not pending), for tests.
func (t *Timer) when() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.at
}

// wanted returns the times pending and the time armed, for tests.
func (a *alarms) wanted() (pending []time.Time, armed time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.pending {
		pending = append(pending, e.at)
	}
	return slices.Clip(pending), a.armed
}
