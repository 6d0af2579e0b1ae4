package update

import (
	"context"
	"time"
)

// Watch supervises a trial boot of slot booted: when healthy is closed (or
// receives) within deadline, the slot is committed; when the deadline
// passes first, reboot is called, and the next Boot returns to the
// committed slot because the trial has used up its boots. It returns when
// one of those happened or ctx is done; a non-trial boot returns at once.
func Watch(ctx context.Context, statePath, booted string, deadline time.Duration, healthy <-chan struct{}, reboot func()) (committed bool, err error) {
	s, err := ReadState(statePath)
	if err != nil {
		return false, err
	}
	if s.Trial != booted {
		return false, nil
	}
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case <-healthy:
		if err := Commit(statePath, booted); err != nil {
			return false, err
		}
		return true, nil
	case <-t.C:
		reboot()
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
