package media

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

// FuzzDTMFPayload: the RFC 4733 parser never panics, rejects short input,
// and round-trips what it accepts (except the R bit, which is ignored).
func FuzzDTMFPayload(f *testing.F) {
	f.Add([]byte{0x01, 0x94, 0x06, 0xe0}, uint32(11200))
	f.Add([]byte{0x09, 0x00, 0x01, 0x90}, uint32(0))
	f.Add([]byte{0x10, 0xff, 0x00, 0x00}, uint32(1))
	f.Add([]byte{0x01}, uint32(5))
	f.Fuzz(func(t *testing.T, b []byte, ts uint32) {
		p, err := ParseDTMFPayload(b)
		if len(b) < DTMFPayloadLen {
			if err == nil {
				t.Fatal("short payload accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]}
		if got := p.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("round trip % x -> %+v -> % x", b[:4], p, got)
		}
		var r dtmfReceiver
		n := 0
		emit := func(e DTMFEvent) {
			n++
			if _, ok := DigitEvent(e.Digit); !ok {
				t.Fatalf("reported a non-digit %q", e.Digit)
			}
		}
		for range 3 {
			r.packet(p, ts, 8000, time.Time{}, emit)
		}
		r.audio(ts+100000, 8000, time.Time{}, emit)
		if n > 1 {
			t.Fatalf("%d events for one timestamp", n)
		}
	})
}

// FuzzReceive feeds arbitrary datagrams, as RTP, as muxed RTCP and on an
// RTCP socket, from a few sources, to one session: it must never panic,
// and playout keeps filling frames.
func FuzzReceive(f *testing.F) {
	pcmu := rtpBytes(0, 1, 160, 7, true, make([]byte, 160))
	f.Add(pcmu)
	f.Add(rtpBytes(101, 2, 160, 7, true, []byte{1, 0x8a, 0x03, 0x20}))
	f.Add(rtpBytes(13, 3, 320, 7, false, []byte{127}))
	withCSRC := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 4, CSRC: []uint32{1, 2}, SSRC: 7}, Payload: []byte{1, 2}}
	b, _ := withCSRC.Marshal()
	f.Add(b)
	padded := append(rtpBytes(0, 5, 480, 7, false, []byte{1, 2, 3}), 0, 0, 3)
	padded[0] |= 0x20
	f.Add(padded)
	f.Add([]byte{0x80, 0xc8, 0x00, 0x06, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3})
	f.Add([]byte{0x81, 0xc9, 0x00, 0x07, 0, 0, 0, 7, 0, 0, 0, 9, 0x10, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x81, 0xcb, 0x00, 0x01, 0, 0, 0, 7})
	f.Add([]byte{0x90, 0x00, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 7, 0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0, 0})
	f.Add([]byte{})

	srcs := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.2:5000"),
		netip.MustParseAddrPort("10.0.0.3:6000"),
		netip.MustParseAddrPort("10.0.0.2:5001"),
	}
	n := newMemNet()
	conn := n.listen("10.0.0.1:4000")
	f.Fuzz(func(t *testing.T, data []byte) {
		// A fresh session per input, so that inputs minimise; one input
		// may carry several datagrams separated by 0xDE 0xAD.
		s, err := New(Config{Conn: conn, Remote: srcs[0], Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var pkt rtp.Packet
		frame := make([]int16, 160)
		for i, b := range bytes.SplitN(data, []byte{0xDE, 0xAD}, 16) {
			from := srcs[i%len(srcs)]
			s.handleDatagram(b, from, false, &pkt)
			s.handleRTCP(b, from, time.Now())
			s.NextFrame(frame)
		}
		_ = s.Stats()
	})
}

// FuzzLatch drives the symmetric RTP latch with arbitrary packet
// sequences from the SDP address, its IP on another port, a NAT mapping
// and two strangers, four bytes a packet (source, SSRC, sequence step,
// time step), and checks its rules: the SDP address always wins at once;
// a packet is accepted exactly when it comes from the source latched
// after it; a first latch elsewhere comes after a probation; a move comes
// only after the old source's quiet time and the move interval.
func FuzzLatch(f *testing.F) {
	f.Add([]byte{2, 0, 1, 5, 2, 0, 1, 5, 2, 0, 1, 5, 2, 0, 1, 60, 2, 0, 1, 5, 3, 0, 1, 1})
	f.Add([]byte{0, 0, 1, 5, 3, 1, 1, 1, 3, 1, 1, 1, 3, 1, 1, 200, 3, 1, 1, 200, 3, 1, 1, 5})
	f.Add([]byte{1, 0, 1, 5, 1, 0, 1, 100, 2, 0, 1, 255, 2, 0, 1, 5, 2, 0, 1, 255, 0, 2, 7, 0})
	f.Add([]byte{3, 2, 1, 1, 4, 2, 1, 1, 3, 2, 1, 1, 4, 2, 1, 1})
	srcs := []netip.AddrPort{
		netip.MustParseAddrPort("203.0.113.9:7000"),   // SDP
		netip.MustParseAddrPort("203.0.113.9:7002"),   // SDP IP, another port
		netip.MustParseAddrPort("198.51.100.7:31000"), // a NAT mapping
		netip.MustParseAddrPort("192.0.2.66:9999"),
		netip.MustParseAddrPort("192.0.2.67:9999"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var l latch
		sdp := srcs[0]
		if len(data) > 0 && data[0]&0x80 != 0 {
			sdp = netip.AddrPort{} // no usable SDP address (hold)
		}
		l.reset(sdp)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		seqs := map[netip.AddrPort]uint16{}
		firstSeen := map[netip.AddrPort]time.Time{}
		lastHeard := time.Time{}
		lastMove := time.Time{}
		var offers, accepted uint64
		for len(data) >= 4 {
			src := srcs[int(data[0]&0x7F)%len(srcs)]
			ssrc := []uint32{0xFA4E, 0xBAD, l.ssrc}[int(data[1])%3]
			seqs[src] += uint16(int8(data[2]))
			now = now.Add(time.Duration(data[3]) * time.Millisecond)
			data = data[4:]
			if _, ok := firstSeen[src]; !ok {
				firstSeen[src] = now
			}
			was := l.cur
			ok := l.offer(src, ssrc, seqs[src], now)
			offers++
			if ok {
				accepted++
			}
			if ok != (src == l.cur) {
				t.Fatalf("accepted %v from %v, latched %v", ok, src, l.cur)
			}
			if sdp.IsValid() && src == sdp && l.cur != sdp {
				t.Fatalf("a packet from the SDP address left the latch on %v", l.cur)
			}
			if l.cur != was && l.cur != sdp {
				switch {
				case !was.IsValid() && l.sdpIP(l.cur):
				case !was.IsValid():
					if now.Sub(firstSeen[l.cur]) < LatchProbation {
						t.Fatalf("first latch onto %v %v after its first packet", l.cur, now.Sub(firstSeen[l.cur]))
					}
				default:
					if now.Sub(lastHeard) < LatchQuiet || now.Sub(lastMove) < RelatchInterval {
						t.Fatalf("moved %v -> %v %v after the old source's last packet, %v after the last move",
							was, l.cur, now.Sub(lastHeard), now.Sub(lastMove))
					}
				}
			}
			if l.cur != was {
				lastMove = now
			}
			if ok {
				lastHeard = now
			}
		}
		if accepted+l.strangers != offers {
			t.Fatalf("%d offers: %d accepted, %d strangers", offers, accepted, l.strangers)
		}
	})
}
