package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

// nullConn discards writes; reads block like an idle socket.
type nullConn struct{ *memConn }

func (nullConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

func BenchmarkSendRTP(b *testing.B) {
	n := newMemNet()
	s, err := New(Config{Conn: nullConn{n.listen("10.0.0.1:4000")}, Remote: netip.MustParseAddrPort("10.0.0.2:5000"),
		Codec: codec.PCMU, KeepaliveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = int16(i * 100)
	}
	b.ReportAllocs()
	b.SetBytes(160)
	for b.Loop() {
		if err := s.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiveRTP(b *testing.B) {
	n := newMemNet()
	s, err := New(Config{Conn: nullConn{n.listen("10.0.0.1:4000")}, Remote: netip.MustParseAddrPort("10.0.0.2:5000"),
		Codec: codec.PCMU, KeepaliveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	from := netip.MustParseAddrPort("10.0.0.2:5000")
	buf := rtpBytes(0, 0, 0, 0x1234, false, make([]byte, 160))
	var pkt rtp.Packet
	frame := make([]int16, 160)
	var seq uint16
	var ts uint32
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		// Rewrite sequence number and timestamp in place.
		buf[2], buf[3] = byte(seq>>8), byte(seq)
		buf[4], buf[5], buf[6], buf[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		s.handleDatagram(buf, from, false, &pkt)
		s.NextFrame(frame) // the device pulls one frame per packet
		seq++
		ts += 160
	}
	if s.Stats().Received == 0 {
		b.Fatal("nothing received")
	}
}

// BenchmarkSendRTPUDP includes the loopback UDP send system call.
func BenchmarkSendRTPUDP(b *testing.B) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Skip(err)
	}
	defer c.Close()
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Skip(err)
	}
	defer sink.Close()
	s, err := New(Config{Conn: c, Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMU, KeepaliveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}
