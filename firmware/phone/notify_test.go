package phone

import (
	"testing"
	"testing/synctest"
)

// TestNotify: a change of state signals the subscriber, repeats
// coalesce, the phone never blocks on a reader that is away, and Stop
// ends the signals.
func TestNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := make(chan struct{}, 1)
		r.p.Notify(c)
		r.hook.Lift()
		r.wantState(OffHook)
		select {
		case <-c:
		default:
			t.Fatal("no signal after going off hook")
		}
		r.hook.HangUp()
		r.hook.Lift()
		r.hook.HangUp() // three changes, nobody reading: no block
		r.wantState(Idle)
		<-c
		select {
		case <-c:
			t.Fatal("signals did not coalesce")
		default:
		}
		r.p.Stop(c)
		r.hook.Lift()
		r.wantState(OffHook)
		select {
		case <-c:
			t.Fatal("a signal after Stop")
		default:
		}
	})
}
