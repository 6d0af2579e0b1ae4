package phone

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestHeldCallStopsCapture: holding a call stops its capture loop (it
// would send nothing anyway: voip/sip sends no audio while we hold), so a
// held minute reads no microphone frame for it; resuming starts the loop
// again and the far end hears the microphone at once.
func TestHeldCallStopsCapture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c1 := incoming("in-1", 5000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		if got := sent(t, c1.fakeCall); got != 100 {
			t.Fatalf("in-1 hears %d, want the microphone's 100", got)
		}
		if err := r.p.HoldCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		m := c1.fakeCall.media
		m.mu.Lock()
		frames, runs := m.frames, m.runs
		m.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		m.mu.Lock()
		if m.frames != frames {
			t.Errorf("%d frames captured for a held call in a minute, want none", m.frames-frames)
		}
		m.mu.Unlock()
		if err := r.p.ResumeCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		if got := sent(t, c1.fakeCall); got != 100 {
			t.Fatalf("resumed: in-1 hears %d, want the microphone's 100", got)
		}
		m.mu.Lock()
		if m.runs != runs+1 {
			t.Errorf("capture loop started %d times on resume, want once", m.runs-runs)
		}
		m.mu.Unlock()
	})
}

// TestRemoteHoldStopsCapture: while the far end holds us (we are
// recvonly or inactive, nothing can be sent) the call's capture loop
// stops; when it resumes the loop starts again.
func TestRemoteHoldStopsCapture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c1 := incoming("in-1", 5000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		if got := sent(t, c1.fakeCall); got != 100 {
			t.Fatalf("in-1 hears %d, want the microphone's 100", got)
		}
		r.p.CallEvent(CallEvent{Call: c1, State: CallHeld, RemoteHold: true})
		synctest.Wait()
		r.wantState(HeldRemote)
		m := c1.fakeCall.media
		m.mu.Lock()
		frames, runs := m.frames, m.runs
		m.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		m.mu.Lock()
		if m.frames != frames {
			t.Errorf("%d frames captured in a minute held by the far end, want none", m.frames-frames)
		}
		m.mu.Unlock()
		r.p.CallEvent(CallEvent{Call: c1, State: CallResumed})
		synctest.Wait()
		if got := sent(t, c1.fakeCall); got != 100 {
			t.Fatalf("resumed: in-1 hears %d, want the microphone's 100", got)
		}
		m.mu.Lock()
		if m.runs != runs+1 {
			t.Errorf("capture loop started %d times on resume, want once", m.runs-runs)
		}
		m.mu.Unlock()
	})
}
