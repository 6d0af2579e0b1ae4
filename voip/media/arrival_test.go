package media

import (
	"testing"
	"testing/synctest"

	"github.com/pion/rtp"
)

// TestOnNextAudio: the hook runs once, for the first audio packet that
// is played after it is armed; not for a malformed packet, a foreign
// payload type, comfort noise or audio the direction does not let us
// receive; not once disarmed, nor after Close.
func TestOnNextAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cnReceiver(t, 13)
		fired := 0
		s.OnNextAudio(func() { fired++ })
		seq := uint16(0)
		send := func(pt uint8, payload []byte) {
			seq++
			s.handleDatagram(rtpBytes(pt, seq, uint32(seq)*160, 7, false, payload), s.remote, false, &rtp.Packet{})
		}
		send(0, nil)                // no payload: nothing to play
		send(96, make([]byte, 160)) // not negotiated
		s.handleDatagram([]byte{0x80, 0}, s.remote, false, &rtp.Packet{})
		send(13, []byte{0x81, 1}) // malformed comfort noise
		s.SetDirection(SendOnly)  // we hold: nothing is played
		send(0, make([]byte, 160))
		if fired != 0 {
			t.Fatalf("fired %d times before a packet to play", fired)
		}
		s.SetDirection(SendRecv)
		send(0, make([]byte, 160))
		send(0, make([]byte, 160))
		if fired != 1 {
			t.Fatalf("fired %d times for two packets, want once", fired)
		}
		s.OnNextAudio(func() { fired++ })
		send(13, []byte{40}) // comfort noise: a holding phone's keepalive
		if fired != 1 {
			t.Fatalf("comfort noise: fired %d, want still 1", fired)
		}
		send(0, make([]byte, 160))
		if fired != 2 {
			t.Fatalf("audio after comfort noise: fired %d, want 2", fired)
		}
		s.OnNextAudio(func() { fired++ })
		s.OnNextAudio(nil)
		send(0, make([]byte, 160))
		s.OnNextAudio(func() { fired++ })
		s.Close()
		send(0, make([]byte, 160))
		if fired != 2 {
			t.Fatalf("fired %d, want 2: disarmed, then closed", fired)
		}
	})
}
