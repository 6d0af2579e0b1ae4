//go:build !linux

package wake

import (
	"errors"
	"time"
)

// fdAlarm: no timerfd here; Timers are runtime timers.
type fdAlarm struct{}

func (*fdAlarm) open() error         { return errors.New("wake: no timerfd on this system") }
func (*fdAlarm) set(time.Time) error { return nil }
func (*fdAlarm) wait() error         { return errors.New("wake: no timerfd on this system") }
