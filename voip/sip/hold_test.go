package sip

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
)

// TestHoldSendsOnlyKeepalives: while A holds B (A sendonly, B recvonly),
// both keep capturing audio for a minute and neither sends a stream:
// only the media session's RTP keepalives (a comfort-noise packet after
// 15 s without RTP), not 50 silence packets a second. On resume both
// send again at once, and B hears A.
func TestHoldSendsOnlyKeepalives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		talkBoth(t, ca, cb, 440, 1000, time.Second)
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		b.next(t, "remote hold", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == cb && ce.RemoteHold
		})
		ma, mb := ca.Media(), cb.Media()
		sa0, sb0 := ma.Stats(), mb.Stats()
		talkBoth(t, ca, cb, 440, 1000, time.Minute) // 3000 frames captured each
		sa, sb := ma.Stats(), mb.Stats()
		for _, c := range []struct {
			who          string
			sent, keeps  uint64
			sent0, keep0 uint64
		}{
			{"holder A (sendonly)", sa.Sent, sa.Keepalives, sa0.Sent, sa0.Keepalives},
			{"held B (recvonly)", sb.Sent, sb.Keepalives, sb0.Sent, sb0.Keepalives},
		} {
			sent, keeps := c.sent-c.sent0, c.keeps-c.keep0
			if sent != keeps || keeps < 3 || keeps > 5 {
				t.Errorf("%s sent %d RTP packets (%d keepalives) in a held minute, want only the 4 keepalives", c.who, sent, keeps)
			}
		}
		if err := ca.Resume(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		b.next(t, "remote resume", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == cb && !ce.RemoteHold
		})
		sa1, sb1 := ma.Stats(), mb.Stats()
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		sa2, sb2 := ma.Stats(), mb.Stats()
		if n := sa2.Sent - sa1.Sent; n != 100 {
			t.Errorf("A sent %d packets in 2 s after resume, want 100 (every frame)", n)
		}
		if n := sb2.Sent - sb1.Sent; n != 100 {
			t.Errorf("B sent %d packets in 2 s after resume, want 100 (every frame)", n)
		}
		if !tone.Contains(tail(gotB, 0.5), 440, 8000) || !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Error("audio did not resume both ways")
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}
