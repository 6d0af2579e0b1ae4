package keypad

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Scanning only while a key is down.
//
// A 200 Hz scan of an idle keypad woke a Pi about 12,000 times a minute
// for nothing. While every key is up, the Matrix instead drives every row
// Low at once (all at the same level, so no two driven rows can short
// through pressed keys) and waits for a falling edge on any column: the
// first key pressed pulls its column Low. One goroutine per column waits
// in the pin's WaitForEdge (periph has no wait on several pins; a wait
// costs nothing while it blocks in the kernel: gpioioctl reads the line's
// event file through the runtime's poller). The edge wakes the scanning
// goroutine, which floats the rows again and scans every ScanInterval,
// with debounce, long press and auto-repeat as before, until every key
// is up and no contact reads closed; then it drives the rows and waits
// again. Before waiting it reads the columns once, so a press that came
// between the last scan and the wait is not lost.
//
// Ending a pending wait: periph's gpio.PinIn has no cancel. Close calls
// each column's Halt, which gpioioctl implements by putting the line's
// read deadline in the past, ending the read at once (bcm283x, the Pi's
// driver, waits for edges through gpioioctl and forwards Halt to it).
// A Halt that lands just before a watcher starts its next wait is lost
// (the wait sets a new deadline), and bcm283x halts only once after each
// In with an edge, so Close repeats "In with the edge, then Halt" every
// haltRetry until the watchers are gone. periph's sysfs driver cannot be
// halted (its wait is a blocking epoll_wait), so there Close takes up to
// Opts.EdgeTimeout, the bound on every wait (default 1 min: a wake-up
// per column a minute, each of which also looks at the matrix once).

// haltRetry is how often Close repeats the Halt of a column whose
// watcher has not returned yet.
const haltRetry = 20 * time.Millisecond

// armEdges turns on falling-edge detection on every column. It reports
// false, with every column back to NoEdge, when one refuses.
func (m *Matrix) armEdges() bool {
	for i, p := range m.s.cols {
		if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			m.log.Info("no edge detection on the columns, scanning continuously", "pin", p.String(), "err", err)
			for _, q := range m.s.cols[:i+1] {
				_ = q.In(gpio.PullUp, gpio.NoEdge)
			}
			return false
		}
	}
	return true
}

// disarmEdges turns edge detection off again (after Close).
func (m *Matrix) disarmEdges() {
	for _, p := range m.s.cols {
		_ = p.In(gpio.PullUp, gpio.NoEdge)
	}
}

// watch waits for edges on one column and wakes the scanning goroutine
// on each, and on each timeout.
func (m *Matrix) watch(p gpio.PinIn) {
	defer m.wg.Done()
	to := m.s.o.EdgeTimeout
	var pause *time.Timer
	for {
		start := time.Now()
		got := p.WaitForEdge(to)
		select {
		case <-m.done:
			return
		default:
		}
		if !got && time.Since(start) < to/2 {
			// Neither an edge nor the timeout, and not Close: the driver
			// failed. Do not spin on it; look again in a second.
			if pause == nil {
				m.log.Error("waiting for an edge failed", "pin", p.String())
				pause = time.NewTimer(time.Second)
				defer pause.Stop()
			} else {
				pause.Reset(time.Second)
			}
			select {
			case <-m.done:
				return
			case <-pause.C:
			}
		}
		select {
		case m.edge <- struct{}{}:
		default:
		}
	}
}

// haltWatchers ends the watchers' pending waits and returns when every
// goroutine of m is gone.
func (m *Matrix) haltWatchers() {
	gone := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(gone)
	}()
	for _, p := range m.s.cols {
		_ = p.Halt()
	}
	t := time.NewTicker(haltRetry)
	defer t.Stop()
	for {
		select {
		case <-gone:
			return
		case <-t.C:
		}
		for _, p := range m.s.cols {
			_ = p.In(gpio.PullUp, gpio.FallingEdge) // bcm283x halts once per In with an edge
			_ = p.Halt()
		}
	}
}

// runEdges is the scanning goroutine's loop with edge detection: wait
// for a press with every row driven, scan until every key is up, again.
func (m *Matrix) runEdges(scan func(time.Time), failing *bool) {
	defer func() { _ = m.s.floatAll() }()
	t := time.NewTicker(m.s.o.ScanInterval)
	t.Stop()
	driveFailed := false
	for {
		err := m.s.driveAll()
		if err != nil {
			if !driveFailed {
				m.log.Error("driving the rows to wait for a key failed, scanning", "err", err)
			}
			driveFailed = true
		} else {
			driveFailed = false
			select {
			case <-m.edge: // a stale wake from the last scan's edges
			default:
			}
			if !m.s.anyLow() {
				select {
				case <-m.done:
					return
				case <-m.edge:
				}
			}
		}
		if err := m.s.floatAll(); err != nil {
			*failing = true
		}
		if !driveFailed {
			scan(time.Now())
		}
		t.Reset(m.s.o.ScanInterval)
		for driveFailed || *failing || !m.s.idle() {
			select {
			case <-m.done:
				t.Stop()
				return
			case now := <-t.C:
				scan(now)
			}
			driveFailed = false // try the wait again once the keys are up
		}
		t.Stop()
	}
}

// idle reports whether the last scan read no closed contact and no key
// is down: nothing is left to debounce, repeat or release.
func (s *Scanner) idle() bool {
	for _, b := range s.raw {
		if b != 0 {
			return false
		}
	}
	for r := range s.keys {
		for c := range s.keys[r] {
			if s.keys[r][c].down {
				return false
			}
		}
	}
	return true
}

// driveAll drives every row Low, so that any pressed key pulls its
// column Low.
func (s *Scanner) driveAll() error {
	for _, row := range s.rows {
		if err := row.Out(gpio.Low); err != nil {
			return err
		}
	}
	return nil
}

// floatAll lets every row float again, as Scan expects.
func (s *Scanner) floatAll() error {
	var first error
	for _, row := range s.rows {
		if err := row.In(gpio.Float, gpio.NoEdge); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// anyLow reports whether a column reads Low (a key is pressed) with the
// rows driven.
func (s *Scanner) anyLow() bool {
	for _, c := range s.cols {
		if c.Read() == gpio.Low {
			return true
		}
	}
	return false
}
