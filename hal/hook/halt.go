package hook

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Waiting for edges without waking.
//
// The watcher waits in the pin's WaitForEdge for up to Opts.EdgeTimeout
// (1 min): while the handset stays put, the process is not woken (a
// gpioioctl wait is a read of the line's event file through the runtime's
// poller). It used to wait 100 ms at a time only to notice Close, ten
// wake-ups a second on an idle phone. periph's gpio.PinIn has no cancel,
// so Close ends the wait with the pin's Halt: gpioioctl puts the line's
// read deadline in the past, ending the read at once, and bcm283x (the
// Pi's driver) forwards Halt to gpioioctl. A Halt that lands just before
// the watcher starts its next wait is lost (the wait sets a new
// deadline), and bcm283x halts only once after each In with an edge, so
// Close repeats "In with the edges, then Halt" every haltRetry until the
// watcher is gone. periph's sysfs driver cannot be halted (a blocking
// epoll_wait): there Close takes up to EdgeTimeout. Never 0 or negative
// for a wait: periph's drivers disagree on their meaning (gpioioctl:
// forever; sysfs, gpiotest: at once).

// haltRetry is how often Close repeats the Halt while the watcher has
// not returned.
const haltRetry = 20 * time.Millisecond

// halt ends the watcher's pending wait and returns once it is gone.
func (s *Switch) halt() {
	gone := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(gone)
	}()
	_ = s.pin.Halt()
	t := time.NewTicker(haltRetry)
	defer t.Stop()
	for {
		select {
		case <-gone:
			return
		case <-t.C:
		}
		_ = s.pin.In(s.o.Pull, gpio.BothEdges) // bcm283x halts once per In with an edge
		_ = s.pin.Halt()
	}
}

// pause waits a second after WaitForEdge failed at once (neither an
// edge nor its timeout nor Close: the driver failed), so that a broken
// pin does not spin the watcher. It reports false when Close came first.
func (s *Switch) pause() bool {
	s.o.Logger.Error("waiting for an edge failed; looking again in a second")
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.done:
		return false
	case <-t.C:
		return true
	}
}
