package pace

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskphone/phone/hal"
)

// The timerfd clock ticks, pauses and resumes, and a wait ends when stop
// closes; close releases the descriptor and the stop watcher. Real time
// (a synctest bubble cannot drive a timerfd), no timed asserts.
func TestFDTicker(t *testing.T) {
	stop := make(chan struct{})
	tk, err := newFDTicker(time.Millisecond, stop)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !tk.wait() {
			t.Fatal("wait ended without a tick")
		}
	}
	tk.pause()
	tk.resume(time.Millisecond)
	if !tk.wait() {
		t.Fatal("no tick after resume")
	}
	tk.pause() // no tick will come: only stop ends the wait
	done := make(chan bool)
	go func() { done <- tk.wait() }()
	close(stop)
	if <-done {
		t.Fatal("wait reported a tick after stop")
	}
	tk.close()
	if err := tk.f.Close(); err == nil {
		t.Fatal("descriptor still open after close")
	}
}

// With UseFDClock, PlayIdle runs on a timerfd: frames while there is a
// source, the clock stopped without one, again after a wake, and Run
// returns when stop closes.
func TestPlayIdleFDClock(t *testing.T) {
	UseFDClock(true)
	defer UseFDClock(false)
	tk := newTicker(time.Millisecond, nil)
	_, ok := tk.(*fdTicker)
	tk.close()
	if !ok {
		t.Fatal("UseFDClock(true): not a timerfd clock")
	}
	f := hal.Format{SampleRate: 8000, Channels: 1, Frame: time.Millisecond}
	var src atomic.Pointer[ramp]
	src.Store(&ramp{})
	stop, wake := make(chan struct{}), make(chan struct{}, 1)
	frames := make(chan struct{}, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		PlayIdle(stop, wake, f, func() hal.FrameSource {
			if r := src.Load(); r != nil {
				return r
			}
			return nil
		}, func([]byte, []int16) { frames <- struct{}{} })
	}()
	for range 3 {
		<-frames
	}
	src.Store(nil) // the clock stops at its next tick
	for len(frames) > 0 {
		<-frames
	}
	src.Store(&ramp{})
	wake <- struct{}{}
	for range 3 {
		<-frames
	}
	close(stop)
	<-done
}

// A tick of the timerfd clock allocates nothing (it did a buffer and a
// closure per frame). Counts allocations, not time.
func TestFDTickerNoAllocs(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	tk, err := newFDTicker(time.Millisecond, stop)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.close()
	if n := testing.AllocsPerRun(20, func() {
		if !tk.wait() {
			t.Fatal("wait ended without a tick")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per tick", n)
	}
}
