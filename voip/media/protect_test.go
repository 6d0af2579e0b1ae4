package media

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/media/srtp"
	"github.com/deskphone/phone/voip/sdp"
)

func srtpKey(fill byte) []byte {
	k := make([]byte, 30)
	for i := range k {
		k[i] = fill + byte(i)
	}
	return k
}

// srtpPair returns the protectors of two ends: a sends with ka, b with kb;
// bHears is the key b decrypts with (ka, unless the test wants it wrong).
func srtpPair(t *testing.T, ka, kb, bHears []byte) (*srtp.Session, *srtp.Session) {
	t.Helper()
	suite := sdp.SuiteAES128CMSHA1_80
	a, err := srtp.New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Key: ka}, Remote: sdp.Crypto{Key: kb}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := srtp.New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Key: kb}, Remote: sdp.Crypto{Key: bHears}})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestSRTPCallBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		var wire [][]byte
		n.filter = func(from, to netip.AddrPort, b []byte) bool {
			if to.Port() == 5000 && !isRTCP(b) {
				wire = append(wire, bytes.Clone(b))
			}
			return true
		}
		pa, pb := srtpPair(t, srtpKey(1), srtpKey(100), srtpKey(1))
		a, b, _, _ := newPair(t, n, func(a, b *Config) {
			a.Protector, b.Protector = pa, pb
			a.RTCPInterval, b.RTCPInterval = time.Second, time.Second // reports within 1.5 s
		})
		defer a.Close()
		defer b.Close()
		outA, outB := runCall(t, a, b, 6*time.Second)
		synctest.Wait()
		dominant(t, outB.Samples(8000), 440)
		dominant(t, outA.Samples(8000), 1000)
		stA, stB := a.Stats(), b.Stats()
		if stA.Dropped != 0 || stB.Dropped != 0 || stB.Received < 250 {
			t.Fatalf("dropped %d/%d, B received %d", stA.Dropped, stB.Dropped, stB.Received)
		}
		// The wire carries SRTP: the 10-byte tag, and no tone in the
		// payloads decoded as if they were plain PCMU.
		var heard []int16
		for _, w := range wire {
			var p rtp.Packet
			if err := p.Unmarshal(w); err != nil {
				t.Fatal(err)
			}
			if p.PayloadType == 0 {
				if len(p.Payload) != 160+10 {
					t.Fatalf("payload %d bytes, want 160 + tag", len(p.Payload))
				}
				heard = codec.PCMU.Decode(heard, p.Payload[:160])
			}
		}
		if g := goertzel(heard, 440); g > 0.05 {
			t.Fatalf("the tone is audible on the wire (%.3f)", g)
		}
		// RTCP went as SRTCP and was taken in: B unprotected more
		// packets than RTP it received, and A has B's reception report.
		if ps := pb.Stats(); ps.Unprotected <= stB.Received || ps.AuthFailed != 0 || ps.Protected < 250 {
			t.Fatalf("protector stats %+v, B received %d RTP", ps, stB.Received)
		}
		if pa.Stats().Unprotected <= stA.Received {
			t.Fatalf("no SRTCP from B reached A: %+v", pa.Stats())
		}
	})
}

func TestSRTPWrongKeyNoAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pa, pb := srtpPair(t, srtpKey(1), srtpKey(100), srtpKey(2)) // b hears with the wrong key
		a, b, _, _ := newPair(t, n, func(a, b *Config) { a.Protector, b.Protector = pa, pb })
		defer a.Close()
		defer b.Close()
		_, outB := runCall(t, a, b, 3*time.Second)
		synctest.Wait()
		stB := b.Stats()
		if stB.Received != 0 || stB.Dropped < 140 {
			t.Fatalf("B received %d, dropped %d", stB.Received, stB.Dropped)
		}
		if g := goertzel(outB.Samples(8000), 440); g > 0.05 {
			t.Fatalf("B plays the tone (%.3f) with the wrong key", g)
		}
		if ps := pb.Stats(); ps.AuthFailed < 140 || ps.Unprotected != 0 {
			t.Fatalf("protector stats %+v", ps)
		}
	})
}

// TestSRTPForgeryDoesNotLatch: packets that do not authenticate never
// move the latch, however many come, and a replayed genuine packet from
// a stranger is refused too. A keepalive is SRTP as well.
func TestSRTPForgeryDoesNotLatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen("10.0.0.1:4000")
		sdpAddr := n.listen("203.0.113.9:7000")
		far, us := srtpPair(t, srtpKey(1), srtpKey(100), srtpKey(1))
		s, err := New(Config{Conn: c, Remote: sdpAddr.addr, Codec: codec.PCMU, KeepaliveInterval: 15 * time.Second, Protector: us})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		payload := make([]byte, 160)
		seq := uint16(10)
		genuine := func() []byte {
			b, err := far.ProtectRTP(nil, rtpBytes(0, seq, uint32(seq)*160, 0xAAAA, false, payload))
			if err != nil {
				t.Fatal(err)
			}
			seq++
			return b
		}
		n.deliver(sdpAddr.addr, c.addr, genuine())
		synctest.Wait()
		if st := s.Stats(); st.Latched != sdpAddr.addr || st.Received != 1 {
			t.Fatalf("genuine packet: %+v", st)
		}
		attacker := netip.MustParseAddrPort("192.0.2.66:9999")
		wrong, _ := srtpPair(t, srtpKey(7), srtpKey(100), srtpKey(7))
		for i := range 50 {
			// Plain RTP, SRTP under another key and a copy of a genuine
			// packet, each in a stream of its own, steady enough to pass
			// the latch's probation if it ever saw them.
			n.deliver(attacker, c.addr, rtpBytes(0, uint16(1000+i), uint32(i)*160, 0xBAD, false, payload))
			f, _ := wrong.ProtectRTP(nil, rtpBytes(0, uint16(2000+i), uint32(i)*160, 0xBAD2, false, payload))
			n.deliver(attacker, c.addr, f)
			g := genuine()
			n.deliver(sdpAddr.addr, c.addr, g)
			synctest.Wait()
			n.deliver(attacker, c.addr, g)
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		st := s.Stats()
		if st.Latched != sdpAddr.addr || st.Relatches != 0 || st.Received != 51 || st.Dropped != 150 {
			t.Fatalf("after forgeries: latched %v relatches %d received %d dropped %d", st.Latched, st.Relatches, st.Received, st.Dropped)
		}
		if ps := us.Stats(); ps.AuthFailed != 100 || ps.Replayed != 50 {
			t.Fatalf("protector %+v", ps)
		}
		// Nothing was sent for 16 s: the keepalive goes out as SRTP.
		before := len(c.sentPkts())
		time.Sleep(17 * time.Second)
		ps := c.sentPkts()[before:]
		var kept int
		for _, p := range ps {
			if isRTCP(p.b) {
				continue
			}
			b, err := far.UnprotectRTP(nil, bytes.Clone(p.b))
			if err != nil {
				t.Fatalf("keepalive does not authenticate: %v", err)
			}
			var pkt rtp.Packet
			if err := pkt.Unmarshal(b); err != nil || pkt.PayloadType != ptCN {
				t.Fatalf("keepalive %+v %v", pkt.Header, err)
			}
			kept++
		}
		if kept != 1 {
			t.Fatalf("%d keepalives", kept)
		}
	})
}

// BenchmarkSendSRTP is BenchmarkSendRTP with SRTP (AES_CM_128_HMAC_SHA1_80).
func BenchmarkSendSRTP(b *testing.B) {
	n := newMemNet()
	p, err := srtp.New(sdp.SRTP{Suite: sdp.SuiteAES128CMSHA1_80, Local: sdp.Crypto{Key: srtpKey(1)}, Remote: sdp.Crypto{Key: srtpKey(2)}})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Conn: nullConn{n.listen("10.0.0.1:4000")}, Remote: netip.MustParseAddrPort("10.0.0.2:5000"),
		Codec: codec.PCMU, KeepaliveInterval: -1, Protector: p})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	frame := make([]int16, 160)
	b.ReportAllocs()
	b.SetBytes(160)
	for b.Loop() {
		if err := s.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveSRTP is BenchmarkReceiveRTP with SRTP: unprotect in
// place, then the same path (the copy of the packet is counted too).
func BenchmarkReceiveSRTP(b *testing.B) {
	n := newMemNet()
	far, us := func() (*srtp.Session, *srtp.Session) {
		a, err := srtp.New(sdp.SRTP{Suite: sdp.SuiteAES128CMSHA1_80, Local: sdp.Crypto{Key: srtpKey(1)}, Remote: sdp.Crypto{Key: srtpKey(2)}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := srtp.New(sdp.SRTP{Suite: sdp.SuiteAES128CMSHA1_80, Local: sdp.Crypto{Key: srtpKey(2)}, Remote: sdp.Crypto{Key: srtpKey(1)}})
		if err != nil {
			b.Fatal(err)
		}
		return a, c
	}()
	s, err := New(Config{Conn: nullConn{n.listen("10.0.0.1:4000")}, Remote: netip.MustParseAddrPort("10.0.0.2:5000"),
		Codec: codec.PCMU, KeepaliveInterval: -1, Protector: us})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	from := netip.MustParseAddrPort("10.0.0.2:5000")
	const npkt = 1 << 16
	pkts := make([][]byte, npkt)
	for i := range pkts {
		pkts[i], _ = far.ProtectRTP(nil, rtpBytes(0, uint16(i), uint32(i)*160, 0x1234, false, make([]byte, 160)))
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	frame := make([]int16, 160)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == npkt {
			b.Skip("ran out of pre-protected packets")
		}
		m := copy(buf, pkts[i])
		s.handleDatagram(buf[:m], from, false, &pkt)
		s.NextFrame(frame)
		i++
	}
	if s.Stats().Received == 0 || s.Stats().Dropped != 0 {
		b.Fatalf("received %d dropped %d", s.Stats().Received, s.Stats().Dropped)
	}
}
