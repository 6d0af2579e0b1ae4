package media

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

// FuzzCN checks the comfort-noise parser (a payload it accepts writes
// back unchanged; one it refuses is dropped and counted, changing
// nothing else) and the noise it makes (any accepted payload, however
// sharp its spectrum, plays without a panic). Seeds in testdata/fuzz/FuzzCN.
func FuzzCN(f *testing.F) {
	f.Add([]byte{40})
	f.Add([]byte{127})
	f.Add([]byte{0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0})
	f.Add([]byte{0x80})
	f.Add([]byte{})
	n := newMemNet()
	conn := n.listen("10.0.0.1:4000")
	far := n.listen("10.0.0.2:5000")
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := ParseCN(payload)
		if err == nil && !bytes.Equal(p.AppendTo(nil), payload) {
			t.Fatalf("ParseCN(%x) = %+v writes back as %x", payload, p, p.AppendTo(nil))
		}
		s, serr := New(Config{Conn: conn, Remote: far.addr, Codec: codec.PCMU, CNPayloadType: 13, KeepaliveInterval: -1})
		if serr != nil {
			t.Fatal(serr)
		}
		defer s.Close()
		var pkt rtp.Packet
		s.handleDatagram(rtpBytes(0, 1, 0, 9, true, make([]byte, 160)), far.addr, false, &pkt)
		s.handleDatagram(rtpBytes(13, 2, 160, 9, false, payload), far.addr, false, &pkt)
		frame := make([]int16, 160)
		for range 10 {
			s.NextFrame(frame)
		}
		st := s.Stats()
		if err != nil {
			if st.CNBad != 1 || st.Dropped != 1 || st.CNReceived != 0 || st.Jitterbuf.Noise != 0 {
				t.Fatalf("malformed %x: %+v", payload, st)
			}
			return
		}
		if st.CNBad != 0 || st.CNReceived != 1 || st.Jitterbuf.Noise == 0 {
			t.Fatalf("good %x: %+v", payload, st)
		}
	})
}
