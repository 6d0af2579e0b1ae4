package sip

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestCallComfortNoise: every call negotiates CN/8000 beside the codec; a
// phone with VAD on sends its silence as CN packets, which the far end
// plays as comfort noise; the phone with VAD off (the default) keeps
// sending voice frames in silence.
func TestCallComfortNoise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, func(c *Config) { c.VAD = true }, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		ma, mb := ca.Media(), cb.Media()
		if ma == nil || mb == nil {
			t.Fatal("no media")
		}
		quiet := func(c *Call) {
			m := c.Media()
			frame, in := make([]int16, 160), make([]int16, 160)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for range 100 { // 2 s of silence both ways
				<-tick.C
				if err := m.WriteFrame(frame); err != nil {
					t.Errorf("WriteFrame: %v", err)
					return
				}
				m.NextFrame(in)
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() { quiet(ca) })
		wg.Go(func() { quiet(cb) })
		wg.Wait()
		sa, sb := ma.Stats(), mb.Stats()
		// A: 300 ms of hangover, then a CN packet every 200 ms.
		if sa.CNSent < 7 || sa.CNSent > 9 || sa.Sent > 30 {
			t.Errorf("A (VAD on) sent %d packets, %d of them CN", sa.Sent, sa.CNSent)
		}
		if sb.CNReceived != sa.CNSent || sb.Jitterbuf.Noise == 0 {
			t.Errorf("B received %d CN of %d and played %d samples of noise", sb.CNReceived, sa.CNSent, sb.Jitterbuf.Noise)
		}
		if sb.CNSent != 0 || sb.Sent < 100 {
			t.Errorf("B (VAD off) sent %d packets, %d CN", sb.Sent, sb.CNSent)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}
