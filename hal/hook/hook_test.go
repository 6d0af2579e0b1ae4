package hook

import (
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/deskphone/phone/hal"
)

// newEdgePin returns a gpiotest pin with edge support. It must be made
// inside the synctest bubble so that waiting on its channel is durable.
func newEdgePin() *gpiotest.Pin {
	return &gpiotest.Pin{N: "HOOK", Num: 27, EdgesChan: make(chan gpio.Level)}
}

// edges plays levels onto the pin's edge channel, gap apart.
func edges(p *gpiotest.Pin, gap time.Duration, levels ...gpio.Level) {
	for _, l := range levels {
		p.EdgesChan <- l
		time.Sleep(gap)
	}
}

func recv(t *testing.T, s *Switch) (hal.HookEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		return ev, ok
	default:
		return hal.HookEvent{}, false
	}
}

func TestLiftAndHangUpWithBounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newEdgePin()
		s, err := New(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Polling() || s.OffHook() {
			t.Fatalf("polling=%v offhook=%v, want edges and on hook", s.Polling(), s.OffHook())
		}
		// Lift: the contact chatters for 8 ms.
		start := time.Now()
		edges(p, 2*time.Millisecond, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low)
		lastEdge := start.Add(8 * time.Millisecond)
		time.Sleep(10 * time.Millisecond) // 12 ms after the last edge: not yet
		if ev, ok := recv(t, s); ok {
			t.Fatalf("event %+v before the debounce time", ev)
		}
		time.Sleep(50 * time.Millisecond)
		ev, ok := recv(t, s)
		if !ok || !ev.OffHook || !ev.At.Equal(lastEdge) {
			t.Fatalf("lift: got %+v %v, want off hook at the last bounce (%v)", ev, ok, lastEdge.Sub(start))
		}
		if ev, ok := recv(t, s); ok {
			t.Fatalf("extra event %+v", ev)
		}
		if !s.OffHook() {
			t.Error("OffHook() false after lift")
		}
		// Hang up, with bounce.
		time.Sleep(time.Second)
		edges(p, 3*time.Millisecond, gpio.High, gpio.Low, gpio.High)
		time.Sleep(100 * time.Millisecond)
		ev, ok = recv(t, s)
		if !ok || ev.OffHook {
			t.Fatalf("hang up: got %+v %v", ev, ok)
		}
		if ev, ok := recv(t, s); ok {
			t.Fatalf("extra event %+v", ev)
		}
		if s.OffHook() {
			t.Error("OffHook() true after hang-up")
		}
	})
}

func TestGlitchIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newEdgePin()
		s, err := New(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		edges(p, 10*time.Millisecond, gpio.Low, gpio.High) // 10 ms low: a knock, not a lift
		time.Sleep(time.Second)
		if ev, ok := recv(t, s); ok {
			t.Fatalf("glitch gave %+v", ev)
		}
		s.Close()
		if _, ok := <-s.Events(); ok {
			t.Error("Events not closed")
		}
		if err := s.Close(); err != nil {
			t.Error("second Close:", err)
		}
	})
}

// TestPollingFallback: a pin without edge detection (gpiotest refuses
// edges when EdgesChan is nil) is polled, with the same debounce.
func TestPollingFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &gpiotest.Pin{N: "HOOK"}
		s, err := New(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.Polling() {
			t.Fatal("not polling")
		}
		bounce := func(levels ...gpio.Level) {
			for _, l := range levels {
				p.Out(l)
				time.Sleep(7 * time.Millisecond)
			}
		}
		bounce(gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low)
		time.Sleep(100 * time.Millisecond)
		ev, ok := recv(t, s)
		if !ok || !ev.OffHook {
			t.Fatalf("lift: %+v %v", ev, ok)
		}
		if ev, ok := recv(t, s); ok {
			t.Fatalf("extra event %+v", ev)
		}
		bounce(gpio.High, gpio.Low, gpio.High)
		time.Sleep(100 * time.Millisecond)
		ev, ok = recv(t, s)
		if !ok || ev.OffHook {
			t.Fatalf("hang up: %+v %v", ev, ok)
		}
		bounce(gpio.Low, gpio.High) // 7 ms glitch
		time.Sleep(100 * time.Millisecond)
		if ev, ok := recv(t, s); ok {
			t.Fatalf("glitch gave %+v", ev)
		}
	})
}

func TestInvertedWiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newEdgePin()
		o := DefaultOpts
		o.OffHook = gpio.High
		o.Pull = gpio.PullDown
		s, err := New(p, &o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.OffHook() {
			t.Fatal("pulled down pin read as off hook")
		}
		edges(p, 0, gpio.High)
		time.Sleep(50 * time.Millisecond)
		if ev, ok := recv(t, s); !ok || !ev.OffHook {
			t.Fatalf("lift: %+v %v", ev, ok)
		}
	})
}

func TestNilPin(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Fatal("nil pin accepted")
	}
}
