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

// With alarms on, the timerfd is armed AlarmLag after the earliest
// pending timer, follows Stop and firing, and is disarmed when no timer
// is left.
func TestAlarmFollowsTimers(t *testing.T) {
	enableAlarms(t)
	late := NewTimer(2 * time.Hour)
	early := NewTimer(time.Hour)
	if pending, armed := shared.wanted(); len(pending) != 2 || !armed.Equal(early.alarmAt()) {
		t.Fatalf("pending %v, armed %v; want two, armed at the earlier %v", pending, armed, early.alarmAt())
	}
	if d := kernelArmed(t); d < time.Hour-time.Minute || d > time.Hour+time.Minute {
		t.Fatalf("timerfd expires in %v, want about an hour", d)
	}
	if !early.Stop() {
		t.Fatal("Stop of a pending timer says not pending")
	}
	if _, armed := shared.wanted(); !armed.Equal(late.alarmAt()) {
		t.Fatalf("after Stop armed at %v, want the later timer's %v", armed, late.alarmAt())
	}
	if d := kernelArmed(t); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Fatalf("after Stop timerfd expires in %v, want about two hours", d)
	}
	// A timer that fires takes its alarm with it.
	quick := NewTimer(30 * time.Minute)
	if _, armed := shared.wanted(); !armed.Equal(quick.alarmAt()) {
		t.Fatalf("armed at %v, want the quick timer's %v", armed, quick.alarmAt())
	}
	quick.Reset(10 * time.Millisecond)
	select {
	case <-quick.C:
	case <-time.After(time.Minute):
		t.Fatal("the timer did not fire")
	}
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(late.alarmAt()) {
		t.Fatalf("after firing: pending %v, armed %v; want the late timer's alone", pending, armed)
	}
	// Reset moves the alarm with the timer.
	late.Reset(3 * time.Hour)
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(late.alarmAt()) {
		t.Fatalf("after Reset: pending %v, armed %v; want the late timer's new %v", pending, armed, late.alarmAt())
	}
	if d := kernelArmed(t); d < 3*time.Hour-time.Minute || d > 3*time.Hour+time.Minute {
		t.Fatalf("after Reset timerfd expires in %v, want about three hours", d)
	}
	late.Reset(10 * time.Millisecond)
	select {
	case <-late.C:
	case <-time.After(time.Minute):
		t.Fatal("the reset timer did not fire")
	}
	if late.Stop() {
		t.Error("Stop after firing says pending")
	}
	if pending, armed := shared.wanted(); len(pending) != 0 || !armed.IsZero() {
		t.Fatalf("no timer left: pending %v, armed %v", pending, armed)
	}
	if d := kernelArmed(t); d != 0 {
		t.Fatalf("no timer left, timerfd still expires in %v", d)
	}
}

// Two timers for the same instant each keep their own alarm time.
func TestAlarmSameInstant(t *testing.T) {
	enableAlarms(t)
	a := NewTimer(time.Hour)
	at := a.alarmAt()
	shared.add(at) // a second timer at the same instant
	a.Stop()
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(at) {
		t.Fatalf("pending %v, armed %v", pending, armed)
	}
	shared.remove(at)
	if pending, armed := shared.wanted(); len(pending) != 0 || !armed.IsZero() {
		t.Fatalf("pending %v, armed %v", pending, armed)
	}
}

// A firing that had started when Reset replaced its time neither sends a
// tick nor takes the new time's alarm.
func TestStaleFiring(t *testing.T) {
	enableAlarms(t)
	tm := NewTimer(time.Hour)
	tm.Reset(2 * time.Hour)
	tm.fire() // as the old hour's firing would, after Reset
	select {
	case <-tm.C:
		t.Fatal("a tick from the replaced time")
	default:
	}
	if at := tm.alarmAt(); at.IsZero() {
		t.Fatal("the replaced time's firing dropped the new alarm")
	}
	if pending, armed := shared.wanted(); len(pending) != 1 || !armed.Equal(tm.alarmAt()) {
		t.Fatalf("pending %v, armed %v; want the new time's alarm", pending, armed)
	}
	tm.Stop()
}

// alarmAt is t's alarm time (zero: none), for tests.
func (t *Timer) alarmAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.at
}

// wanted returns the times alarms are wanted at, for tests.
func (a *alarms) wanted() (pending []time.Time, armed time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.pending), a.armed
}
