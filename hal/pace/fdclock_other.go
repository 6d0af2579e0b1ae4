//go:build !linux

package pace

import "time"

// UseFDClock does nothing here: timerfd is Linux's.
func UseFDClock(on bool) {}

func newTicker(d time.Duration, stop <-chan struct{}) ticker { return newTimeTicker(d, stop) }
