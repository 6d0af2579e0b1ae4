package keypad

import (
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/deskphone/phone/hal"
)

// newEdgeFake is newFake whose columns have edge detection, as
// gpioioctl's lines do: a column going from High to Low queues an edge,
// WaitForEdge returns on it, and Halt ends a pending wait (unless
// noHalt). It must be made inside the synctest bubble.
func newEdgeFake(nrows, ncols int, noHalt bool) *fakeMatrix {
	m := newFake(nrows, ncols, false)
	m.lows = make([]bool, ncols)
	for _, p := range m.cols {
		p.EdgesChan = make(chan gpio.Level, 1)
		p.halt = make(chan struct{}, 1)
		p.noHalt = noHalt
	}
	return m
}

// notifyLocked queues a falling edge on every column that went Low since
// the last call (a no-op for fakes without edges).
func (m *fakeMatrix) notifyLocked() {
	if m.lows == nil {
		return
	}
	for c, p := range m.cols {
		low := m.levelLocked(c) == gpio.Low
		if low && !m.lows[c] {
			select {
			case p.EdgesChan <- gpio.Low:
			default: // one pending edge is as good as several
			}
		}
		m.lows[c] = low
	}
}

func (p *colPin) WaitForEdge(timeout time.Duration) bool {
	p.m.mu.Lock()
	p.m.waits++
	p.m.mu.Unlock()
	if p.halt == nil {
		return p.Pin.WaitForEdge(timeout)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.EdgesChan:
		return true
	case <-p.halt:
		return false
	case <-t.C:
		return false
	}
}

func (p *colPin) Halt() error {
	if p.halt != nil && !p.noHalt {
		select {
		case p.halt <- struct{}{}:
		default:
		}
	}
	return nil
}

// counts returns how many row drives, column reads and edge waits the
// matrix has made so far.
func (m *fakeMatrix) counts() (drives, reads, waits int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.drives, m.reads, m.waits
}

// drain returns the events buffered on the matrix's channel.
func drain(m *Matrix) []hal.KeyEvent {
	var evs []hal.KeyEvent
	for {
		select {
		case ev := <-m.Events():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

func expectFrom(t *testing.T, start time.Time, got []hal.KeyEvent, want ...hal.KeyEvent) {
	t.Helper()
	// expect compares stamps against t0; shift the bubble's times onto it.
	for i := range got {
		got[i].At = t0.Add(got[i].At.Sub(start))
	}
	expect(t, got, want...)
}

// TestMatrixIdleWaitsForEdge: with edge detection on the columns, an idle
// keypad makes no pin operation at all (no scan) for ten minutes; a
// press wakes it, is debounced and reported, a held volume key repeats,
// and once every key is up it stops scanning again.
func TestMatrixIdleWaitsForEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newEdgeFake(5, 4, false)
		rows, cols := f.pins()
		o := DefaultOpts
		o.EdgeTimeout = time.Hour // no periodic look in this test
		m, err := New(rows, cols, &o)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.Polling() {
			t.Fatal("polling with edge detection on every column")
		}
		start := time.Now()
		synctest.Wait()
		d0, r0, w0 := f.counts()
		// Armed: every row driven once, every column read once, one wait
		// per column.
		if d0 != 5 || r0 != 4 || w0 != 4 {
			t.Fatalf("arming: %d drives, %d reads, %d waits; want 5, 4, 4", d0, r0, w0)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if d, r, w := f.counts(); d != d0 || r != r0 || w != w0 {
			t.Fatalf("idle 10 min: %d drives, %d reads, %d waits; want none since arming", d-d0, r-r0, w-w0)
		}

		// A bouncing press of '5': closed 3 ms, open 3 ms, then closed.
		at := time.Since(start)
		f.set(1, 1, true)
		time.Sleep(3 * time.Millisecond)
		f.set(1, 1, false)
		time.Sleep(3 * time.Millisecond)
		f.set(1, 1, true)
		time.Sleep(102 * time.Millisecond)
		f.set(1, 1, false)
		time.Sleep(100 * time.Millisecond)
		// The first closed reading is at the edge (at); the scan 5 ms
		// later reads it open, the bounce closes it again before the next
		// edge-woken scan (at+6 ms), from which it is held 20 ms. Released
		// at at+108, read open at the next tick.
		expectFrom(t, start, drain(m), down('5', at+ms(6)), up('5', at+ms(111)))
		synctest.Wait()
		d1, r1, w1 := f.counts()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if d, r, w := f.counts(); d != d1 || r != r1 || w != w1 {
			t.Fatalf("idle after a key: %d drives, %d reads, %d waits; want none", d-d1, r-r1, w-w1)
		}

		// Vol+ held 1.2 s repeats every 100 ms after 500 ms.
		at = time.Since(start)
		f.set(0, 3, true)
		time.Sleep(1200*time.Millisecond + ms(2))
		f.set(0, 3, false)
		time.Sleep(100 * time.Millisecond)
		want := []hal.KeyEvent{down(hal.KeyVolUp, at)}
		for r := 500; r <= 1200; r += 100 {
			want = append(want, hal.KeyEvent{Key: hal.KeyVolUp, Down: true, Repeat: true, At: t0.Add(at + ms(r))})
		}
		want = append(want, up(hal.KeyVolUp, at+ms(1205)))
		expectFrom(t, start, drain(m), want...)
		synctest.Wait()
		d2, r2, _ := f.counts()
		time.Sleep(time.Minute)
		synctest.Wait()
		if d, r, _ := f.counts(); d != d2 || r != r2 {
			t.Fatalf("idle after repeats: %d drives, %d reads; want none", d-d2, r-r2)
		}
	})
}

// TestMatrixKeyDownAtStart: a key already down when the matrix starts
// (no edge will come) is seen by the read before the first wait.
func TestMatrixKeyDownAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newEdgeFake(5, 4, false)
		f.set(4, 3, true) // line key
		rows, cols := f.pins()
		m, err := New(rows, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(50 * time.Millisecond)
		expectFrom(t, start, drain(m), down(hal.KeyLine, 0))
		m.Close()
	})
}

// TestMatrixEdgeTimeoutLooks: with no edge at all, the matrix looks at
// the keys once per EdgeTimeout and column (the bound on each wait), and
// makes no pin operation in between.
func TestMatrixEdgeTimeoutLooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newEdgeFake(5, 4, false)
		rows, cols := f.pins()
		m, err := New(rows, cols, nil) // EdgeTimeout 1 min
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		synctest.Wait()
		_, _, w0 := f.counts()
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		_, _, w := f.counts()
		if n := w - w0; n != 4*10 {
			t.Errorf("%d waits in 10 min, want 40 (one a minute per column)", n)
		}
	})
}

// TestMatrixCloseHalts: Close ends the columns' pending waits with Halt
// at once, floats the rows and turns edge detection off; on pins whose
// Halt cannot end a wait (sysfs) it takes at most EdgeTimeout.
func TestMatrixCloseHalts(t *testing.T) {
	for _, noHalt := range []bool{false, true} {
		name := "halt"
		if noHalt {
			name = "no-halt"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newEdgeFake(5, 4, noHalt)
				rows, cols := f.pins()
				m, err := New(rows, cols, nil)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				start := time.Now()
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				if !noHalt && took != 0 {
					t.Errorf("Close took %v with Halt, want at once", took)
				}
				if noHalt && took > DefaultOpts.EdgeTimeout {
					t.Errorf("Close took %v without Halt, want at most EdgeTimeout", took)
				}
				if _, ok := <-m.Events(); ok {
					t.Error("Events not closed")
				}
				for _, p := range f.rows {
					if p.driven {
						t.Errorf("%s left driven after Close", p.N)
					}
				}
			})
		})
	}
}

// TestMatrixNoEdgesPolls: Opts.NoEdges scans all the time.
func TestMatrixNoEdgesPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newEdgeFake(5, 4, false)
		rows, cols := f.pins()
		o := DefaultOpts
		o.NoEdges = true
		m, err := New(rows, cols, &o)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !m.Polling() {
			t.Fatal("not polling with NoEdges")
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if d, _, w := f.counts(); d != 200*5 || w != 0 {
			t.Errorf("%d drives, %d waits in 1 s; want 1000 (200 scans of 5 rows), 0", d, w)
		}
	})
}
