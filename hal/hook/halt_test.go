package hook

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// haltPin is a gpiotest pin whose pending WaitForEdge ends on Halt, as a
// gpioioctl line's does (unless noHalt, as with periph's sysfs driver),
// and which counts the waits. It must be made inside the synctest bubble.
type haltPin struct {
	*gpiotest.Pin
	halt   chan struct{}
	noHalt bool

	mu    sync.Mutex // guards following
	waits int
}

func newHaltPin(noHalt bool) *haltPin {
	return &haltPin{Pin: newEdgePin(), halt: make(chan struct{}, 1), noHalt: noHalt}
}

func (p *haltPin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	p.waits++
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-p.EdgesChan:
		_ = p.Out(l)
		return true
	case <-p.halt:
		return false
	case <-t.C:
		return false
	}
}

func (p *haltPin) Halt() error {
	if !p.noHalt {
		select {
		case p.halt <- struct{}{}:
		default:
		}
	}
	return nil
}

func (p *haltPin) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits
}

// TestIdleWaits: a handset left alone makes the watcher wait once per
// EdgeTimeout (a minute), not ten times a second; a lift is still seen.
func TestIdleWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHaltPin(false)
		s, err := New(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		synctest.Wait()
		w0 := p.count()
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		if n := p.count() - w0; n != 10 {
			t.Errorf("%d waits in 10 idle minutes, want 10", n)
		}
		start := time.Now()
		edges(p.Pin, 0, gpio.Low)
		time.Sleep(50 * time.Millisecond)
		ev, ok := recv(t, s)
		if !ok || !ev.OffHook || !ev.At.Equal(start) {
			t.Fatalf("lift: %+v %v, want off hook at the edge", ev, ok)
		}
	})
}

// TestCloseHalts: Close ends the pending wait at once with Halt, and
// within EdgeTimeout on a pin that cannot be halted; either way Events is
// closed and the goroutine gone (synctest checks).
func TestCloseHalts(t *testing.T) {
	for _, noHalt := range []bool{false, true} {
		name := "halt"
		if noHalt {
			name = "no-halt"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHaltPin(noHalt)
				s, err := New(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				start := time.Now()
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				if !noHalt && took != 0 {
					t.Errorf("Close took %v with Halt, want at once", took)
				}
				if noHalt && took > DefaultOpts.EdgeTimeout {
					t.Errorf("Close took %v without Halt, want at most EdgeTimeout", took)
				}
				if _, ok := <-s.Events(); ok {
					t.Error("Events not closed")
				}
			})
		})
	}
}
