package wake

import (
	"testing"
	"testing/synctest"
	"time"
)

// With alarms off a Timer is a runtime timer: it fires after d, and Stop
// reports whether it was pending.
func TestTimerOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		Enable(false)
		start := time.Now()
		tm := NewTimer(90 * time.Second)
		if tm.t == nil {
			t.Fatal("no runtime timer with alarms off")
		}
		got := <-tm.C
		if d := got.Sub(start); d != 90*time.Second {
			t.Errorf("fired after %v, want 90s", d)
		}
		if tm.Stop() {
			t.Error("Stop after firing says pending")
		}
		tm = NewTimer(time.Minute)
		if !tm.Stop() {
			t.Error("Stop before firing says not pending")
		}
		tm.Reset(time.Second)
		if got := <-tm.C; got.Sub(start) != 91*time.Second {
			t.Errorf("after Reset fired %v after start, want 91s", got.Sub(start))
		}
	})
}
