package ui

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingView counts how often the screen reads the view: each read is
// a wake-up of the screen's goroutine.
type countingView struct {
	box   *viewBox
	reads atomic.Int64
	// live puts the bubble's clock in the view (the daemon's time.Now).
	live bool
}

func (c *countingView) get() View {
	c.reads.Add(1)
	v := c.box.get()
	if c.live {
		v.Now = time.Now()
	}
	return v
}

// TestScreenNoDisplayIdle: with no panel the screen renders nothing by
// itself, whatever changes, and Image renders the view when asked.
func TestScreenNoDisplayIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cv := &countingView{box: &viewBox{v: View{Now: now, Lines: oneLine()}}, live: true}
		changed := make(chan struct{}, 1)
		s, _ := NewScreen(ScreenConfig{View: cv.get, Changed: changed, DimAfter: time.Minute, DimLevel: 30})
		s.Start()
		defer s.Close()
		for range 5 {
			changed <- struct{}{}
			time.Sleep(time.Hour)
			synctest.Wait()
		}
		if n, f := cv.reads.Load(), s.Frames(); n != 0 || f != 0 {
			t.Fatalf("no panel: %d view reads and %d frames in 5 idle hours, want none", n, f)
		}
		v := cv.box.get()
		v.Calls = []Call{ringing}
		cv.box.set(v)
		v.Now = time.Now()
		if d := diffFrames(render(v), s.Image()); d != "" {
			t.Fatalf("Image is not the current view: %s", d)
		}
		if n := cv.reads.Load(); n != 1 {
			t.Fatalf("Image read the view %d times, want 1", n)
		}
	})
}

// TestScreenNoDisplayImageStopped: Image renders the view before Start
// and after Close too.
func TestScreenNoDisplayImageStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := View{Now: now, Lines: oneLine(), Calls: []Call{ringing}}
		s, _ := NewScreen(ScreenConfig{View: func() View { return v }, Changed: make(chan struct{})})
		if d := diffFrames(render(v), s.Image()); d != "" {
			t.Fatalf("before Start: %s", d)
		}
		s.Start()
		synctest.Wait()
		_ = s.Close()
		if d := diffFrames(render(v), s.Image()); d != "" {
			t.Fatalf("after Close: %s", d)
		}
	})
}

// TestScreenClockWakeups: with a panel and Changed, the idle screen
// wakes once a minute for its clock, and once a second while a call's
// timer shows.
func TestScreenClockWakeups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cv := &countingView{box: &viewBox{v: View{Lines: oneLine()}}, live: true}
		disp := &fakeDisplay{}
		changed := make(chan struct{}, 1)
		s, _ := NewScreen(ScreenConfig{View: cv.get, Display: disp, Changed: changed})
		s.Start()
		defer s.Close()
		synctest.Wait()
		cv.reads.Store(0)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := cv.reads.Load(); n < 9 || n > 11 {
			t.Fatalf("%d view reads in 10 idle minutes, want one a minute", n)
		}
		if f := disp.count(); f < 10 {
			t.Fatalf("%d frames in 10 minutes: the clock did not move", f)
		}
		// A call answered half a second ago: its timer ticks on its
		// own whole seconds.
		c := ringing
		c.State, c.Answered = CallTalking, time.Now().Add(-500*time.Millisecond)
		cv.box.set(View{Lines: oneLine(), Calls: []Call{c}})
		changed <- struct{}{}
		synctest.Wait()
		cv.reads.Store(0)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := cv.reads.Load(); n != 10 {
			t.Fatalf("%d view reads in 10 s of a call, want 10", n)
		}
	})
}

func TestUntilClock(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)
	talking := Call{State: CallTalking, Answered: at.Add(-1200 * time.Millisecond)}
	ring := Call{State: CallIncoming, Answered: at.Add(-1200 * time.Millisecond)}
	for _, tc := range []struct {
		name string
		v    View
		want time.Duration
	}{
		{"idle", View{}, 30 * time.Second},
		{"ringing", View{Calls: []Call{ring}}, 30 * time.Second},
		{"talking", View{Calls: []Call{ring, talking}}, 800 * time.Millisecond},
	} {
		if got := untilClock(tc.v, at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
