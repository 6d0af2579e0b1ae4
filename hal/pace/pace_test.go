package pace

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

type ramp struct{ next int16 }

func (r *ramp) NextFrame(pcm []int16) {
	for i := range pcm {
		pcm[i] = r.next
		r.next++
	}
}

// TestPlay: one frame per frame period, samples in order and encoded
// little-endian, silence while there is no source, and Play returns when
// stop closes.
func TestPlay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hal.Format{SampleRate: 8000, Channels: 1, Frame: 20 * time.Millisecond}
		var src atomic.Pointer[ramp]
		stop := make(chan struct{})
		done := make(chan struct{})
		var frames [][]int16
		go func() {
			defer close(done)
			Play(stop, f, func() hal.FrameSource {
				if r := src.Load(); r != nil {
					return r
				}
				return nil
			}, func(le []byte, pcm []int16) {
				for i, s := range pcm {
					if got := int16(binary.LittleEndian.Uint16(le[2*i:])); got != s {
						t.Errorf("byte encoding of sample %d: %d, want %d", i, got, s)
					}
				}
				frames = append(frames, append([]int16(nil), pcm...))
			})
		}()
		time.Sleep(50 * time.Millisecond) // frames at 20 and 40 ms: silence
		src.Store(&ramp{next: 1})
		time.Sleep(40 * time.Millisecond) // frames at 60 and 80 ms: the ramp
		close(stop)
		<-done
		if len(frames) != 4 {
			t.Fatalf("%d frames in 90 ms, want 4", len(frames))
		}
		for _, fr := range frames[:2] {
			if fr[0] != 0 || fr[len(fr)-1] != 0 {
				t.Fatalf("frame without a source is not silence: %v", fr[:4])
			}
		}
		if frames[2][0] != 1 || frames[3][0] != 161 || len(frames[3]) != 160 {
			t.Fatalf("ramp frames start %d, %d (len %d), want 1, 161 (160)", frames[2][0], frames[3][0], len(frames[3]))
		}
	})
}

// TestPlayIdle: without a source the clock stops (no frames, no timer:
// the bubble is durably blocked), a wake with a source restarts it one
// frame period later, and stop ends it while idle.
func TestPlayIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hal.Format{SampleRate: 8000, Channels: 1, Frame: 20 * time.Millisecond}
		var src atomic.Pointer[ramp]
		stop := make(chan struct{})
		wake := make(chan struct{}, 1)
		done := make(chan struct{})
		var mu sync.Mutex
		var frames []time.Duration
		got := func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), frames...)
		}
		t0 := time.Now()
		src.Store(&ramp{next: 1})
		go func() {
			defer close(done)
			PlayIdle(stop, wake, f, func() hal.FrameSource {
				if r := src.Load(); r != nil {
					return r
				}
				return nil
			}, func(le []byte, pcm []int16) {
				mu.Lock()
				frames = append(frames, time.Since(t0))
				mu.Unlock()
			})
		}()
		time.Sleep(50 * time.Millisecond) // frames at 20 and 40 ms
		src.Store(nil)
		time.Sleep(50 * time.Millisecond) // 60 ms: idle, the clock stops
		synctest.Wait()
		idleFrom := time.Now()
		// Nothing is scheduled: a long sleep passes without a frame.
		time.Sleep(time.Hour)
		if fr := got(); len(fr) != 2 {
			t.Fatalf("frames at %v, want 20 and 40 ms only", fr)
		}
		src.Store(&ramp{next: 1})
		wake <- struct{}{}
		time.Sleep(50 * time.Millisecond) // 20 and 40 ms after the wake
		if fr := got(); len(fr) != 4 || fr[2] != idleFrom.Sub(t0)+time.Hour+20*time.Millisecond {
			t.Fatalf("frames at %v after a wake at %v, want two from 20 ms after it", fr, idleFrom.Sub(t0)+time.Hour)
		}
		src.Store(nil)
		time.Sleep(30 * time.Millisecond)
		close(stop)
		<-done
	})
}

// TestClock: a Clock runs while its Run loop's ticker does: Next is nil
// before and after, closes at every frame written, and closes early
// when the loop goes idle or stops, so no waiter hangs.
func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hal.Format{SampleRate: 8000, Channels: 1, Frame: 20 * time.Millisecond}
		var src atomic.Pointer[ramp]
		src.Store(&ramp{})
		clk := NewClock()
		if clk.Next() != nil {
			t.Fatal("Next of a clock nothing drives is not nil")
		}
		var nilClock *Clock
		if nilClock.Next() != nil {
			t.Fatal("Next of a nil clock is not nil")
		}
		stop := make(chan struct{})
		wake := make(chan struct{}, 1)
		done := make(chan struct{})
		t0 := time.Now()
		go func() {
			defer close(done)
			Run(stop, f, func() hal.FrameSource {
				if r := src.Load(); r != nil {
					return r
				}
				return nil
			}, func([]byte, []int16) {}, Options{Clock: clk, Wake: wake})
		}()
		synctest.Wait()
		for i := 1; i <= 3; i++ {
			tick := clk.Next()
			if tick == nil {
				t.Fatal("the clock does not run while Run ticks")
			}
			<-tick
			if d := time.Since(t0); d != time.Duration(i)*f.Frame {
				t.Fatalf("tick %d at %v, want %v", i, d, time.Duration(i)*f.Frame)
			}
		}
		tick := clk.Next()
		src.Store(nil) // idle: the next frame time stops the clock
		<-tick
		synctest.Wait()
		if clk.Next() != nil {
			t.Fatal("the clock runs while Run is idle")
		}
		src.Store(&ramp{})
		wake <- struct{}{}
		synctest.Wait()
		tick = clk.Next()
		if tick == nil {
			t.Fatal("the clock does not run again after a wake")
		}
		close(stop)
		<-done
		<-tick // released by the stop
		if clk.Next() != nil {
			t.Fatal("the clock runs after Run returned")
		}
	})
}

// TestClockTickAllocatesNothing: a tick (a wait set up, the frame's
// fire) makes no garbage; a channel per frame was the only allocation a
// call made in time.
func TestClockTickAllocatesNothing(t *testing.T) {
	clk := NewClock()
	clk.setRunning(true)
	allocs := testing.AllocsPerRun(200, func() {
		tick := clk.Next()
		clk.fire()
		<-tick
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per tick, want 0", allocs)
	}
}

// TestClockWaitsForTheNextTick: a tick no one waited for is not kept for
// the next waiter (it would capture a frame early), and a stop wakes
// the waiter; the zero value works as NewClock's.
func TestClockWaitsForTheNextTick(t *testing.T) {
	for _, clk := range []*Clock{NewClock(), {}} {
		clk.setRunning(true)
		clk.fire()
		clk.fire()
		tick := clk.Next()
		select {
		case <-tick:
			t.Fatal("Next returned a tick fired before it was called")
		default:
		}
		clk.fire()
		select {
		case <-tick:
		default:
			t.Fatal("no tick after fire")
		}
		tick = clk.Next()
		clk.setRunning(false)
		select {
		case <-tick:
		default:
			t.Fatal("stopping the clock did not wake the waiter")
		}
		if clk.Next() != nil {
			t.Fatal("Next of a stopped clock is not nil")
		}
	}
}
