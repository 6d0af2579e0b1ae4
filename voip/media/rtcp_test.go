package media

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtcp"

	"github.com/deskphone/phone/voip/codec"
)

// rtcpSent parses every RTCP compound packet c wrote (mux: RTP filtered).
func rtcpSent(t *testing.T, c *memConn) (pkts [][]rtcp.Packet, at []time.Time) {
	t.Helper()
	for _, m := range c.sentPkts() {
		if !isRTCP(m.b) {
			continue
		}
		ps, err := rtcp.Unmarshal(m.b)
		if err != nil {
			t.Fatalf("we sent bad RTCP: %v", err)
		}
		pkts = append(pkts, ps)
		at = append(at, m.at)
	}
	return pkts, at
}

func TestRTCPReportContents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU, KeepaliveInterval: -1, CNAME: "me@test"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		// The far end sends an SR, then 20 packets of which 3 are lost,
		// across a sequence number wrap.
		srNTP := ntpTime(start)
		sr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 0x77, NTPTime: srNTP}})
		n.deliver(peer.addr, c.addr, sr)
		seq0 := uint16(65530)
		for i := range 20 {
			if i == 4 || i == 5 || i == 11 {
				continue
			}
			n.deliver(peer.addr, c.addr, rtpBytes(0, seq0+uint16(i), uint32(i*160), 0x77, i == 0, make([]byte, 160)))
		}
		synctest.Wait()
		// We send 10 frames.
		f := make([]int16, 160)
		for range 10 {
			s.WriteFrame(f)
		}
		time.Sleep(8 * time.Second) // past the longest first interval (7.5 s)
		reps, at := rtcpSent(t, c)
		if len(reps) == 0 {
			t.Fatal("no report in 8 s")
		}
		first := reps[0]
		srOut, ok := first[0].(*rtcp.SenderReport)
		if !ok {
			t.Fatalf("first packet %T, want SR (we sent RTP)", first[0])
		}
		if srOut.SSRC != s.Stats().SSRC || srOut.PacketCount != 10 || srOut.OctetCount != 1600 {
			t.Fatalf("SR %+v", srOut)
		}
		if srOut.NTPTime != ntpTime(at[0]) {
			t.Fatal("SR NTP time is not the send time")
		}
		sdes, ok := first[1].(*rtcp.SourceDescription)
		if !ok || sdes.Chunks[0].Items[0].Text != "me@test" || sdes.Chunks[0].Items[0].Type != rtcp.SDESCNAME {
			t.Fatalf("second packet %+v, want SDES CNAME", first[1])
		}
		if len(srOut.Reports) != 1 {
			t.Fatalf("%d report blocks", len(srOut.Reports))
		}
		rb := srOut.Reports[0]
		if rb.SSRC != 0x77 || rb.TotalLost != 3 || rb.LastSequenceNumber != 1<<16+uint32(seq0+19) {
			t.Fatalf("report block %+v", rb)
		}
		if want := uint8(3 * 256 / 20); rb.FractionLost != want {
			t.Fatalf("fraction lost %d, want %d", rb.FractionLost, want)
		}
		if rb.LastSenderReport != uint32(srNTP>>16) {
			t.Fatalf("LSR %#x, want %#x", rb.LastSenderReport, uint32(srNTP>>16))
		}
		if want := uint32(at[0].Sub(start) * 65536 / time.Second); rb.Delay != want {
			t.Fatalf("DLSR %d, want %d", rb.Delay, want)
		}
		// Intervals: randomised over [2.5 s, 7.5 s]; RR once we stop sending.
		time.Sleep(120 * time.Second)
		reps, at = rtcpSent(t, c)
		if len(reps) < 16 || len(reps) > 50 {
			t.Fatalf("%d reports in 128 s", len(reps))
		}
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(at); i++ {
			d := at[i].Sub(at[i-1])
			if d < 2500*time.Millisecond || d > 7500*time.Millisecond {
				t.Fatalf("report interval %v outside 2.5-7.5 s", d)
			}
			distinct[d] = true
			if _, ok := reps[i][0].(*rtcp.ReceiverReport); !ok {
				t.Fatalf("report %d is %T, want RR (nothing sent since)", i, reps[i][0])
			}
		}
		if len(distinct) < 3 {
			t.Fatal("report intervals not randomised")
		}
		// Fraction lost is per interval: nothing arrived in the last one.
		if st := s.Stats(); st.Lost != 3 || st.FractionLost != 0 {
			t.Fatalf("stats lost %d fraction %v", st.Lost, st.FractionLost)
		}
	})
}

func TestRTCPMalformedDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		bye, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{1}}}) // not SR/RR first
		for _, b := range [][]byte{bye, {0x80, 0xc9, 0x00, 0x09}, {0x80, 0xc8}} {
			n.deliver(peer.addr, c.addr, b)
		}
		synctest.Wait()
		if st := s.Stats(); st.Dropped != 3 || st.Latched.IsValid() {
			t.Fatalf("dropped %d latched %v", st.Dropped, st.Latched)
		}
	})
}
