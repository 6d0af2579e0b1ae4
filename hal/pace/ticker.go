package pace

import "time"

// ticker is Run's frame clock: wait blocks until the next tick (true) or
// until the stop channel it was made with is closed (false).
type ticker interface {
	wait() bool
	pause()
	resume(d time.Duration)
	close()
}

// timeTicker is a runtime timer: what Run uses unless UseFDClock is on,
// and what tests in a testing/synctest bubble need (the bubble's fake
// clock drives it).
type timeTicker struct {
	t    *time.Ticker
	stop <-chan struct{}
}

func newTimeTicker(d time.Duration, stop <-chan struct{}) ticker {
	return &timeTicker{t: time.NewTicker(d), stop: stop}
}

func (t *timeTicker) wait() bool {
	select {
	case <-t.stop:
		return false
	case <-t.t.C:
		return true
	}
}

func (t *timeTicker) pause()                 { t.t.Stop() }
func (t *timeTicker) resume(d time.Duration) { t.t.Reset(d) }
func (t *timeTicker) close()                 { t.t.Stop() }
