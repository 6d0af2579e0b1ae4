package media

import (
	"context"
	"math"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/voip/codec"
)

// sine is a phase-continuous tone source (hal.FrameSource).
type sine struct {
	freq  float64
	phase float64
}

func (g *sine) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = int16(8000 * math.Sin(g.phase))
		g.phase += 2 * math.Pi * g.freq / 8000
	}
}

// goertzel returns the normalised power of freq in s (1 for a pure
// full-scale-relative tone at freq, near 0 for other content).
func goertzel(s []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, energy float64
	for _, v := range s {
		x := float64(v)
		s0 := x + k*s1 - s2
		s2, s1 = s1, s0
		energy += x * x
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	if energy == 0 {
		return 0
	}
	return p / (energy * float64(len(s)) / 2)
}

// dominant reports whether freq carries most of the energy in s, clearly
// more than the other test frequencies.
func dominant(t *testing.T, s []int16, freq float64) {
	t.Helper()
	p := goertzel(s, freq)
	for _, other := range []float64{440, 1000, 697, 1336} {
		if other != freq && goertzel(s, other) > p/10 {
			t.Fatalf("%v Hz (%.3f) not dominant over %v Hz (%.3f)", freq, p, other, goertzel(s, other))
		}
	}
	if p < 0.5 {
		t.Fatalf("%v Hz power %.3f, want > 0.5", freq, p)
	}
}

// newPair makes two sessions talking to each other over net.
func newPair(t *testing.T, n *memNet, mod func(a, b *Config)) (*Session, *Session, *memConn, *memConn) {
	t.Helper()
	ca, cb := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
	cfgA := Config{Conn: ca, Remote: cb.addr, Codec: codec.PCMU, DTMFPayloadType: 101}
	cfgB := Config{Conn: cb, Remote: ca.addr, Codec: codec.PCMU, DTMFPayloadType: 101}
	if mod != nil {
		mod(&cfgA, &cfgB)
	}
	a, err := New(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, ca, cb
}

// rtpSent parses every RTP packet c wrote.
func rtpSent(t *testing.T, c *memConn) []rtp.Packet {
	t.Helper()
	var ps []rtp.Packet
	for _, m := range c.sentPkts() {
		if isRTCP(m.b) {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(m.b); err != nil {
			t.Fatalf("we sent a bad RTP packet: %v", err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestTonesBothWaysOverLoopbackUDP(t *testing.T) {
	ua, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer ua.Close()
	ub, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ub.Close()
	rxA, rxB := make(chan struct{}, 1000), make(chan struct{}, 1000)
	a, err := New(Config{Conn: ua, Remote: ub.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMA,
		rxHook: func() { rxA <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Conn: ub, Remote: ua.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMA,
		rxHook: func() { rxB <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const frames = 50
	ga, gb := &sine{freq: 440}, &sine{freq: 1000}
	fa, fb := make([]int16, 160), make([]int16, 160)
	for range frames {
		ga.NextFrame(fa)
		gb.NextFrame(fb)
		if err := a.WriteFrame(fa); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteFrame(fb); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(s *Session, rx chan struct{}) {
		deadline := time.After(10 * time.Second)
		for s.Stats().Received < frames {
			select {
			case <-rx:
			case <-deadline:
				t.Fatalf("received %d of %d packets", s.Stats().Received, frames)
			}
		}
	}
	wait(a, rxA)
	wait(b, rxB)
	pull := func(s *Session) []int16 {
		var out []int16
		f := make([]int16, 160)
		for range frames + 15 {
			s.NextFrame(f)
			out = append(out, f...)
		}
		return out
	}
	outB, outA := pull(b), pull(a)
	// Skip the pre-roll; analyse 600 ms of what was heard.
	dominant(t, trimSilence(outB)[:4800], 440)
	dominant(t, trimSilence(outA)[:4800], 1000)
	if st := b.Stats(); st.Lost != 0 || st.Latched != ua.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("stats %+v", st)
	}
}

func trimSilence(s []int16) []int16 {
	for i, v := range s {
		if v != 0 {
			return s[i:]
		}
	}
	return nil
}

func TestRTPHeaderRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f := make([]int16, 160)
		for i := range f {
			f[i] = 1000
		}
		for range 5 {
			s.WriteFrame(f)
		}
		s.SetMute(true)
		s.WriteFrame(f)
		s.SetMute(false)
		s.WriteFrame(f)
		s.SetDirection(RecvOnly) // held by the far end: nothing sent
		s.WriteFrame(f)
		s.WriteFrame(f)
		s.SetDirection(SendRecv)
		s.WriteFrame(f)
		time.Sleep(time.Second) // capture pauses for a second
		s.WriteFrame(f)

		ps := rtpSent(t, c)
		if len(ps) != 9 {
			t.Fatalf("sent %d packets, want 9", len(ps))
		}
		wantTS := []uint32{0, 160, 320, 480, 640, 800, 960, 1440, 1440 + 8000}
		wantM := []bool{true, false, false, false, false, false, true, true, true}
		for i, p := range ps {
			if p.Version != 2 || p.PayloadType != 0 || p.SSRC != ps[0].SSRC || len(p.Payload) != 160 {
				t.Fatalf("packet %d header %+v", i, p.Header)
			}
			if p.SequenceNumber != ps[0].SequenceNumber+uint16(i) {
				t.Fatalf("packet %d seq %d, want %d", i, p.SequenceNumber, ps[0].SequenceNumber+uint16(i))
			}
			if got := p.Timestamp - ps[0].Timestamp; got != wantTS[i] {
				t.Fatalf("packet %d timestamp +%d, want +%d", i, got, wantTS[i])
			}
			if p.Marker != wantM[i] {
				t.Fatalf("packet %d marker %v, want %v", i, p.Marker, wantM[i])
			}
		}
		for _, b := range ps[5].Payload {
			if b != codec.LinearToUlaw(0) {
				t.Fatalf("muted frame carries %#x, want µ-law silence", b)
			}
		}
		if ps[0].Payload[0] != codec.LinearToUlaw(1000) {
			t.Fatal("audio payload is not the encoded frame")
		}
		// A second session picks other random values.
		s2, _ := New(Config{Conn: n.listen("10.0.0.1:4002"), Remote: peer.addr, Codec: codec.PCMU})
		defer s2.Close()
		if st, st2 := s.Stats(), s2.Stats(); st.SSRC == st2.SSRC {
			t.Fatal("two sessions with the same SSRC")
		}
	})
}

// rtpBytes builds an RTP datagram.
func rtpBytes(pt uint8, seq uint16, ts, ssrc uint32, marker bool, payload []byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

func TestSymmetricRTPLatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen("10.0.0.1:4000")
		sdp := n.listen("203.0.113.9:7000")  // what the far end's SDP says
		nat := n.listen("203.0.113.9:31000") // where its RTP really comes from: its NAT translates ports
		s, err := New(Config{Conn: c, Remote: sdp.addr, Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f := make([]int16, 160)
		lastTo := func() netip.AddrPort {
			s.WriteFrame(f)
			ps := c.sentPkts()
			return ps[len(ps)-1].from
		}
		if to := lastTo(); to != sdp.addr {
			t.Fatalf("before any packet we send to %v, want the SDP address %v", to, sdp.addr)
		}
		payload := make([]byte, 160)
		// Garbage and wrong payload types from the NAT address do not latch.
		n.deliver(nat.addr, c.addr, []byte{0x00, 0x01, 0x02})
		n.deliver(nat.addr, c.addr, []byte{0x80}) // truncated
		n.deliver(nat.addr, c.addr, rtpBytes(96, 1, 1, 42, false, payload))
		n.deliver(nat.addr, c.addr, append([]byte{0x40}, make([]byte, 20)...)) // version 1
		synctest.Wait()
		if to := lastTo(); to != sdp.addr {
			t.Fatalf("latched onto garbage: sending to %v", to)
		}
		if st := s.Stats(); st.Dropped != 4 || st.Latched.IsValid() {
			t.Fatalf("stats after garbage: dropped %d latched %v", st.Dropped, st.Latched)
		}
		// The first valid packet from the SDP's IP latches.
		seq := uint16(100)
		send := func(from netip.AddrPort, ssrc uint32) {
			n.deliver(from, c.addr, rtpBytes(0, seq, uint32(seq)*160, ssrc, false, payload))
			seq++
		}
		send(nat.addr, 0xAAAA)
		synctest.Wait()
		if to := lastTo(); to != nat.addr {
			t.Fatalf("sending to %v after RTP from %v", to, nat.addr)
		}
		// One stray packet from elsewhere (new SSRC) does not move it.
		stray := netip.MustParseAddrPort("192.0.2.66:9999")
		n.deliver(stray, c.addr, rtpBytes(0, 5000, 1, 0xBAD, false, payload))
		send(nat.addr, 0xAAAA)
		synctest.Wait()
		if to := lastTo(); to != nat.addr {
			t.Fatalf("a stray packet moved the latch to %v", to)
		}
		// A stream from elsewhere while the latched one keeps sending, even
		// with its SSRC: never.
		other := netip.MustParseAddrPort("192.0.2.77:8888")
		for i := range 30 {
			n.deliver(other, c.addr, rtpBytes(0, uint16(7000+i), uint32(i*160), 0xAAAA, false, payload))
			send(nat.addr, 0xAAAA)
		}
		synctest.Wait()
		if to := lastTo(); to != nat.addr {
			t.Fatalf("moved to a competing source: %v", to)
		}
		// A new stream (new SSRC) while the latched one keeps sending: not
		// after 2 packets.
		for i := range 2 {
			n.deliver(other, c.addr, rtpBytes(0, uint16(9000+i), uint32(i*160), 0xBBBB, false, payload))
			send(nat.addr, 0xAAAA)
		}
		synctest.Wait()
		if to := lastTo(); to != nat.addr {
			t.Fatalf("moved to a concurrent new stream after 2 packets: %v", to)
		}
		// NAT rebinding: the same SSRC now comes from a new port, the old
		// one is silent: two packets move the latch.
		time.Sleep(max(LatchQuiet, RelatchInterval))
		rebound := netip.MustParseAddrPort("203.0.113.9:31002")
		send(rebound, 0xAAAA)
		synctest.Wait()
		if to := lastTo(); to != nat.addr {
			t.Fatal("moved after a single packet from the new port")
		}
		send(rebound, 0xAAAA)
		synctest.Wait()
		if to := lastTo(); to != rebound {
			t.Fatalf("after a NAT rebinding sending to %v, want %v", to, rebound)
		}
		st := s.Stats()
		if st.Latched != rebound || st.Relatches != 1 {
			t.Fatalf("stats latched %v relatches %d", st.Latched, st.Relatches)
		}
		// SetRemote (re-INVITE) drops the latch.
		s.SetRemote(sdp.addr, netip.AddrPort{})
		if to := lastTo(); to != sdp.addr {
			t.Fatalf("after SetRemote sending to %v", to)
		}
	})
}

func TestRTCPLatchingWithoutMux(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, cr := n.listen("10.0.0.1:4000"), n.listen("10.0.0.1:4001")
		sdp := netip.MustParseAddrPort("203.0.113.9:7000")
		s, err := New(Config{Conn: c, RTCPConn: cr, Remote: sdp, Codec: codec.PCMU, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if st := s.Stats(); st.Remote != sdp {
			t.Fatal(st.Remote)
		}
		natRTP := netip.MustParseAddrPort("198.51.100.7:31000")
		natRTCP := netip.MustParseAddrPort("198.51.100.7:31001")
		// The far end's RTP streams from its NAT mapping past probation.
		for i := range 15 {
			n.deliver(natRTP, c.addr, rtpBytes(0, uint16(1+i), uint32(160*i), 0x1234, i == 0, make([]byte, 160)))
			synctest.Wait()
			time.Sleep(20 * time.Millisecond)
		}
		rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0x1234}})
		n.deliver(natRTCP, cr.addr, rr)
		synctest.Wait()
		// A stray RTCP from elsewhere with another SSRC does not move it.
		bad, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0x9999}})
		n.deliver(netip.MustParseAddrPort("192.0.2.1:1"), cr.addr, bad)
		synctest.Wait()
		time.Sleep(8 * time.Second) // at least one report interval
		var toRTCP []netip.AddrPort
		for _, p := range cr.sentPkts() {
			toRTCP = append(toRTCP, p.from)
		}
		if len(toRTCP) == 0 {
			t.Fatal("no RTCP sent in 8 s")
		}
		for _, a := range toRTCP {
			if a != natRTCP {
				t.Fatalf("RTCP sent to %v, want the latched %v", a, natRTCP)
			}
		}
		if st := s.Stats(); st.LatchedRTCP != natRTCP || st.Latched != natRTP {
			t.Fatalf("latched %v / %v", st.Latched, st.LatchedRTCP)
		}
	})
}

// runCall drives a call for d: each side captures a tone through
// haltest.AudioIn and plays into haltest.AudioOut.
func runCall(t *testing.T, a, b *Session, d time.Duration) (outA, outB *haltest.AudioOut) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	inA := haltest.NewAudioIn(hal.Narrowband, &sine{freq: 440})
	inB := haltest.NewAudioIn(hal.Narrowband, &sine{freq: 1000})
	outA, outB = haltest.NewAudioOut(hal.Narrowband), haltest.NewAudioOut(hal.Narrowband)
	outA.Start(a)
	outB.Start(b)
	done := make(chan struct{}, 2)
	d += 7 * time.Millisecond // off the frame grid
	go func() { a.Run(ctx, inA); done <- struct{}{} }()
	go func() { b.Run(ctx, inB); done <- struct{}{} }()
	time.Sleep(d)
	cancel()
	<-done
	<-done
	outA.Close()
	outB.Close()
	return outA, outB
}

func TestCallWithLossJitterAndReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		var dropped int
		var droppedSeqs, passedSeqs []uint16
		n.filter = func(from, to netip.AddrPort, b []byte) bool {
			// Drop every 25th audio packet from A to B.
			if to.Port() == 5000 && !isRTCP(b) {
				var p rtp.Packet
				if p.Unmarshal(b) == nil {
					if p.SequenceNumber%25 == 0 {
						dropped++
						droppedSeqs = append(droppedSeqs, p.SequenceNumber)
						return false
					}
					passedSeqs = append(passedSeqs, p.SequenceNumber)
				}
			}
			return true
		}
		a, b, _, _ := newPair(t, n, nil)
		defer a.Close()
		defer b.Close()
		_, outB := runCall(t, a, b, 12*time.Second)
		synctest.Wait()
		stA, stB := a.Stats(), b.Stats()
		if dropped < 15 {
			t.Fatalf("only %d dropped", dropped)
		}
		// A loss shows only once a later packet arrives, and the call
		// may end with the last packets let through still in flight: B
		// knows of the drops below the highest sequence it processed (the
		// path keeps order, so that is the Received-th one let through).
		// Its count starts at the first packet it got (RFC 3550 A.3
		// base_seq): a drop of A's very first packet (random initial
		// sequence, 1 in 25) is no loss to B.
		if stB.Received == 0 || stB.Received > uint64(len(passedSeqs)) {
			t.Fatalf("B received %d of %d let through", stB.Received, len(passedSeqs))
		}
		base, top := passedSeqs[0], passedSeqs[stB.Received-1]
		seen := 0
		for _, d := range droppedSeqs {
			if int16(d-base) > 0 && int16(top-d) > 0 {
				seen++
			}
		}
		if seen < 15 || len(droppedSeqs)-seen > 2 {
			t.Fatalf("%d of %d drops between B's first and highest sequence %d..%d", seen, len(droppedSeqs), base, top)
		}
		if stB.Lost != int64(seen) {
			t.Fatalf("B counts %d lost, %d were dropped between its first and highest sequence", stB.Lost, seen)
		}
		if stA.Lost != 0 {
			t.Fatalf("A lost %d on a clean path", stA.Lost)
		}
		// B's reports told A about the loss (at least one report: the
		// value is the cumulative count at B's last report).
		if stA.RemoteLost <= 0 || stA.RemoteLost > int64(dropped) || stA.RemoteFractionLost <= 0 {
			t.Fatalf("A's view of B's loss: lost %d fraction %.3f (dropped %d)", stA.RemoteLost, stA.RemoteFractionLost, dropped)
		}
		if stB.Jitterbuf.Concealed == 0 {
			t.Fatal("no concealment for lost packets")
		}
		// Despite the loss B heard A's 440 Hz.
		dominant(t, outB.Samples(8000), 440)
		// Everything A sent was dropped, received, or still in flight
		// when the call ended (at most a packet or two).
		inFlight := int64(stA.Sent-stA.Keepalives) - int64(stB.Received) - int64(len(droppedSeqs))
		if stA.Sent < 550 || inFlight < 0 || inFlight > 2 {
			t.Fatalf("sent %d, B received %d + dropped %d", stA.Sent, stB.Received, len(droppedSeqs))
		}
	})
}

func TestRTTAndJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, nil)
		defer func() {
			a.Close()
			b.Close()
			time.Sleep(time.Second) // let the delayed datagrams land
		}()
		// A delays what it sends by 30 ms, plus 0-20 ms of jitter on RTP;
		// B's packets arrive at once: RTT 30 ms.
		var k int
		delayed := func(from, to netip.AddrPort, bb []byte) bool {
			if from != ca.addr {
				return true
			}
			d := 30 * time.Millisecond
			if !isRTCP(bb) {
				k++
				d += time.Duration(k*7%21) * time.Millisecond
			}
			go func() {
				time.Sleep(d)
				n.mu.Lock()
				dst := n.conns[to]
				n.mu.Unlock()
				dst.ch <- memPkt{from: from, b: bb}
			}()
			return false
		}
		n.mu.Lock()
		n.filter = delayed
		n.mu.Unlock()
		runCall(t, a, b, 16*time.Second)
		time.Sleep(time.Second)
		stA, stB := a.Stats(), b.Stats()
		if stB.Jitter <= 0 {
			t.Fatalf("B measured no jitter: %+v", stB)
		}
		if stA.RemoteJitter <= 0 {
			t.Fatal("B's reports carried no jitter")
		}
		// B's RR answers A's SR: RTT = 30 ms (A->B) + 0 (B->A).
		if stA.RTT < 29*time.Millisecond || stA.RTT > 31*time.Millisecond {
			t.Fatalf("A's RTT %v, want 30 ms", stA.RTT)
		}
		if stB.RTT < 29*time.Millisecond || stB.RTT > 31*time.Millisecond {
			t.Fatalf("B's RTT %v, want 30 ms", stB.RTT)
		}
	})
}

func TestHoldKeepaliveAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMA})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithCancel(t.Context())
		in := haltest.NewAudioIn(hal.Narrowband, &sine{freq: 440})
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, in) }()
		// Off the 20 ms frame grid, so the capture loop never races the test.
		time.Sleep(time.Second + 7*time.Millisecond)
		before := len(rtpSent(t, c))
		s.SetDirection(Inactive) // hold
		time.Sleep(61 * time.Second)
		held := rtpSent(t, c)[before:]
		if len(held) < 3 || len(held) > 5 {
			t.Fatalf("%d packets in 61 s of hold, want 4 keepalives", len(held))
		}
		for _, p := range held {
			if p.PayloadType != 13 || len(p.Payload) != 1 || p.Payload[0] != 127 {
				t.Fatalf("hold sent %+v %x, want CN keepalives", p.Header, p.Payload)
			}
		}
		s.SetDirection(SendRecv)
		time.Sleep(100 * time.Millisecond)
		ps := rtpSent(t, c)
		resumed := ps[before+len(held)]
		last := ps[before-1]
		if resumed.PayloadType != 8 || !resumed.Marker {
			t.Fatalf("first packet after resume %+v", resumed.Header)
		}
		// The timestamp kept running through the hold (62 s at 8 kHz).
		gap := resumed.Timestamp - last.Timestamp
		if gap < 61*8000 || gap > 62*8000 {
			t.Fatalf("timestamp moved %d over the hold, want about %d", gap, 61*8000)
		}
		if resumed.SequenceNumber != held[len(held)-1].SequenceNumber+1 {
			t.Fatal("sequence numbers not continuous")
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
		if st := s.Stats(); st.Keepalives != uint64(len(held)) {
			t.Fatalf("keepalives %d", st.Keepalives)
		}
	})
}

func TestReceiveDirectionAndPlayout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, nil)
		defer a.Close()
		defer b.Close()
		b.SetDirection(SendOnly) // b holds a: b does not play a's audio
		_, outB := runCall(t, a, b, 2*time.Second)
		for _, v := range outB.Samples(0) {
			if v != 0 {
				t.Fatal("audio played while not receiving")
			}
		}
		if b.Stats().Received == 0 {
			t.Fatal("packets not counted while on hold")
		}
	})
}

func TestCloseStopsEverythingAndKeepsSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, cr, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.1:4001"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, RTCPConn: cr, Remote: peer.addr, Codec: codec.PCMU, DTMFPayloadType: 101})
		if err != nil {
			t.Fatal(err)
		}
		s.WriteFrame(make([]int16, 160))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		if _, ok := <-s.DTMF(); ok {
			t.Fatal("DTMF channel open after Close")
		}
		if err := s.WriteFrame(make([]int16, 160)); err != ErrClosed {
			t.Fatalf("WriteFrame after Close: %v", err)
		}
		if err := s.SendDTMF(t.Context(), '1', 0); err != ErrClosed {
			t.Fatalf("SendDTMF after Close: %v", err)
		}
		// A BYE went out on the RTCP socket.
		sent := cr.sentPkts()
		pkts, err := rtcp.Unmarshal(sent[len(sent)-1].b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pkts[len(pkts)-1].(*rtcp.Goodbye); !ok {
			t.Fatalf("last RTCP %T, want BYE", pkts[len(pkts)-1])
		}
		// The sockets still work: deadline cleared, not closed.
		n.deliver(peer.addr, c.addr, []byte("still open"))
		buf := make([]byte, 100)
		k, _, err := c.ReadFrom(buf)
		if err != nil || string(buf[:k]) != "still open" {
			t.Fatalf("socket after Close: %q %v", buf[:k], err)
		}
	})
	// synctest.Test fails if any goroutine of the bubble is left.
}

func TestReaderEndsWhenSocketClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen("10.0.0.1:4000")
		s, err := New(Config{Conn: c, Remote: netip.MustParseAddrPort("10.0.0.2:5000"), Codec: codec.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		c.Close() // the port manager released the mapping
		if _, ok := <-s.DTMF(); ok {
			t.Fatal("reader still running")
		}
		s.Close()
	})
}

func TestNewValidates(t *testing.T) {
	n := newMemNet()
	c := n.listen("10.0.0.1:4000")
	for _, cfg := range []Config{
		{Codec: codec.PCMU},
		{Conn: c},
		{Conn: c, Codec: codec.PCMU, PayloadType: 200},
		{Conn: c, Codec: codec.PCMU, DTMFPayloadType: 0x80},
		{Conn: c, Codec: codec.PCMU, PayloadType: 101, DTMFPayloadType: 101},
		{Conn: c, Codec: codec.PCMU, Ptime: time.Second},
		{Conn: c, Codec: codec.PCMU, Direction: 9},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestSDPHoldAddressSendsNothingUntilLatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen("10.0.0.1:4000")
		s, err := New(Config{Conn: c, Remote: netip.MustParseAddrPort("0.0.0.0:5000"), Codec: codec.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.WriteFrame(make([]int16, 160))
		time.Sleep(20 * time.Second)
		if len(c.sentPkts()) != 0 {
			t.Fatal("sent to 0.0.0.0")
		}
	})
}

func TestLatchingOverLoopbackUDP(t *testing.T) {
	mine, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer mine.Close()
	// X: the address the far end's SDP advertises (nobody sends from it).
	x, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	// Y: where the far end's RTP really comes from (its NAT mapping).
	y, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	rx := make(chan struct{}, 10)
	s, err := New(Config{Conn: mine, Remote: x.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMU,
		KeepaliveInterval: -1, rxHook: func() { rx <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := y.WriteTo(rtpBytes(0, 1, 160, 0xCAFE, true, make([]byte, 160)), mine.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rx:
	case <-time.After(10 * time.Second):
		t.Fatal("packet from Y never handled")
	}
	if err := s.WriteFrame(make([]int16, 160)); err != nil {
		t.Fatal(err)
	}
	y.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	for {
		k, from, err := y.ReadFrom(buf)
		if err != nil {
			t.Fatalf("nothing sent to Y, the real source: %v", err)
		}
		if isRTCP(buf[:k]) {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:k]); err != nil || from.String() != mine.LocalAddr().String() {
			t.Fatalf("got %v from %v", err, from)
		}
		break
	}
	st := s.Stats()
	if st.Latched != y.LocalAddr().(*net.UDPAddr).AddrPort() || st.Remote != st.Latched {
		t.Fatalf("latched %v, sending to %v", st.Latched, st.Remote)
	}
	if st.FirstRx.IsZero() || st.LastRx.Before(st.FirstRx) || st.Received != 1 || st.ReceivedBytes != 160 {
		t.Fatalf("receive stats %+v", st)
	}
}
