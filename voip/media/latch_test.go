package media

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/voip/codec"
)

// tick is the latch rig's time step: a stranger sending every tick sends
// at five times the rate of a 20 ms stream.
const tick = 4 * time.Millisecond

// rtpStream is one sender in a latch scenario.
type rtpStream struct {
	from        netip.AddrPort
	ssrc        uint32
	seq         uint16
	ts          uint32
	tone        sine
	every       int // ticks between packets
	start, stop int // in ticks; stop 0 means never
	sent        int // packets sent
}

// latchRig is one session on a memNet, fed by rtpStreams in a synctest
// bubble, sending a frame every 20 ms and playing out a frame every 20 ms.
type latchRig struct {
	n      *memNet
	c      *memConn
	s      *Session
	played []int16
	now    int // ticks run
}

func newLatchRig(t *testing.T, remote netip.AddrPort) *latchRig {
	t.Helper()
	n := newMemNet()
	c := n.listen("10.0.0.1:4000")
	s, err := New(Config{Conn: c, Remote: remote, Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &latchRig{n: n, c: c, s: s}
}

// run advances the rig by ticks.
func (r *latchRig) run(ticks int, streams ...*rtpStream) {
	pcm := make([]int16, 160)
	var payload []byte
	for range ticks {
		for _, st := range streams {
			k := r.now - st.start
			if k < 0 || (st.stop != 0 && r.now >= st.stop) || k%st.every != 0 {
				continue
			}
			st.tone.NextFrame(pcm)
			payload = codec.PCMU.Encode(payload[:0], pcm)
			r.n.deliver(st.from, r.c.addr, rtpBytes(0, st.seq, st.ts, st.ssrc, false, payload))
			st.seq++
			st.ts += 160
			st.sent++
		}
		synctest.Wait()
		if r.now%5 == 0 {
			r.s.WriteFrame(pcm)
			out := make([]int16, 160)
			r.s.NextFrame(out)
			r.played = append(r.played, out...)
		}
		time.Sleep(tick)
		r.now++
	}
	synctest.Wait()
}

// sentTo counts the datagrams (RTP and RTCP) the session sent to a.
func (r *latchRig) sentTo(a netip.AddrPort) int {
	n := 0
	for _, p := range r.c.sentPkts() {
		if p.from == a {
			n++
		}
	}
	return n
}

// sentLog is every datagram the session sent, in order.
func (r *latchRig) sentLog() []memPkt { return r.c.sentPkts() }

// noStrangerPlayed checks that the far end's 1000 Hz carries the playout
// and the stranger's 440 Hz is not in it.
func (r *latchRig) noStrangerPlayed(t *testing.T) {
	t.Helper()
	if p440, p1000 := goertzel(r.played, 440), goertzel(r.played, 1000); p440 > 0.01 || p1000 < 0.3 {
		t.Fatalf("playout: stranger's 440 Hz power %.3f, far end's 1000 Hz %.3f", p440, p1000)
	}
}

var (
	sdpAddr   = netip.MustParseAddrPort("203.0.113.9:7000")   // what the far end's SDP says
	strangerA = netip.MustParseAddrPort("192.0.2.66:9999")    // a stranger on the path
	natAddr   = netip.MustParseAddrPort("198.51.100.7:31000") // the far end's NAT mapping
	privAddr  = netip.MustParseAddrPort("192.168.1.2:4000")   // a private address in SDP
)

// TestLatchKeepsFarEndAgainstFastStranger: a stranger sending at five
// times the rate while the real far end sends gets none of the phone's
// audio and is never played, whether it makes up its own SSRC or copies
// the far end's and runs its sequence numbers ahead. The far end is the
// SDP address, or (symmetric NAT) a source the SDP does not name.
func TestLatchKeepsFarEndAgainstFastStranger(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote netip.AddrPort // SDP
		far    netip.AddrPort // where the far end sends from
	}{
		{"sdp address", sdpAddr, sdpAddr},
		{"symmetric nat", privAddr, natAddr},
	} {
		for _, copySSRC := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/copied ssrc %v", tc.name, copySSRC), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					r := newLatchRig(t, tc.remote)
					far := &rtpStream{from: tc.far, ssrc: 0xFA4E, seq: 100, tone: sine{freq: 1000}, every: 5}
					r.run(100, far) // 400 ms: latched on the far end, whichever way
					st0 := r.s.Stats()
					if st0.Latched != tc.far {
						t.Fatalf("latched %v, want %v", st0.Latched, tc.far)
					}
					// At 5x the rate: a stranger with its own SSRC, or a
					// copy of the far end's with sequence numbers ahead.
					stranger := &rtpStream{from: strangerA, ssrc: 0xBAD, seq: 1, tone: sine{freq: 440}, every: 1, start: r.now}
					if copySSRC {
						stranger.ssrc, stranger.seq = far.ssrc, far.seq+1
					}
					r.played = nil
					r.run(500, far, stranger) // 2 s
					st := r.s.Stats()
					if st.Latched != tc.far || st.Remote != tc.far || st.Relatches != 0 {
						t.Fatalf("latched %v, sending to %v, %d moves; want %v and none", st.Latched, st.Remote, st.Relatches, tc.far)
					}
					if n := r.sentTo(strangerA); n != 0 {
						t.Fatalf("%d packets of the phone's audio went to the stranger", n)
					}
					if want := st0.Strangers + uint64(stranger.sent); st.Strangers != want {
						t.Fatalf("strangers %d, want %d", st.Strangers, want)
					}
					r.noStrangerPlayed(t)
				})
			})
		}
	}
}

// TestLatchStrangerBeforeFarEnd: a stranger that starts sending before
// the far end's first packet does not latch when the far end's packets
// come from the SDP address or its IP.
func TestLatchStrangerBeforeFarEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		far  netip.AddrPort
	}{
		{"sdp address", sdpAddr},
		{"sdp ip, other port", netip.MustParseAddrPort("203.0.113.9:40123")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newLatchRig(t, sdpAddr)
				stranger := &rtpStream{from: strangerA, ssrc: 0xBAD, seq: 1, tone: sine{freq: 440}, every: 1}
				far := &rtpStream{from: tc.far, ssrc: 0xFA4E, seq: 100, tone: sine{freq: 1000}, every: 5, start: 25}
				r.run(25, stranger, far) // 100 ms of the stranger alone
				if st := r.s.Stats(); st.Latched.IsValid() {
					t.Fatalf("latched onto %v before the far end sent", st.Latched)
				}
				r.run(500, stranger, far)
				st := r.s.Stats()
				if st.Latched != tc.far || st.Remote != tc.far {
					t.Fatalf("latched %v, sending to %v; want %v", st.Latched, st.Remote, tc.far)
				}
				if n := r.sentTo(strangerA); n != 0 {
					t.Fatalf("%d packets went to the stranger", n)
				}
				if st.Received != uint64(far.sent) {
					t.Fatalf("received %d, the far end sent %d", st.Received, far.sent)
				}
				r.played = r.played[160*10:] // the jitter buffer's start
				r.noStrangerPlayed(t)
			})
		})
	}
}

// TestLatchSDPAddressWinsOverEarlyStranger: a stranger alone long enough
// to latch (as a far end behind a NAT would) loses the latch at the far
// end's first packet from the SDP address, and gets nothing after it.
func TestLatchSDPAddressWinsOverEarlyStranger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newLatchRig(t, sdpAddr)
		stranger := &rtpStream{from: strangerA, ssrc: 0xBAD, seq: 1, tone: sine{freq: 440}, every: 5}
		r.run(250, stranger) // 1 s alone
		if st := r.s.Stats(); st.Latched != strangerA {
			t.Fatalf("latched %v; a lone source that streams past probation is taken (it may be a NAT)", st.Latched)
		}
		before := len(r.sentLog())
		far := &rtpStream{from: sdpAddr, ssrc: 0xFA4E, seq: 100, tone: sine{freq: 1000}, every: 5, start: r.now}
		r.run(1, stranger, far)
		r.run(500, stranger, far)
		st := r.s.Stats()
		if st.Latched != sdpAddr || st.Relatches != 1 || st.RelatchFrom != strangerA || st.RelatchTo != sdpAddr {
			t.Fatalf("latched %v after %d moves (last %v -> %v)", st.Latched, st.Relatches, st.RelatchFrom, st.RelatchTo)
		}
		for _, p := range r.sentLog()[before:] {
			if p.from == strangerA {
				t.Fatal("sent to the stranger after the far end's first packet")
			}
		}
	})
}

// TestLatchFollowsNATRebinding: the far end's NAT rebinds (its source
// port changes, SSRC and sequence carry on) and the latch follows once the
// old source is quiet, while a fast stranger with its own SSRC cannot use
// the moment.
func TestLatchFollowsNATRebinding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newLatchRig(t, privAddr)
		far := &rtpStream{from: natAddr, ssrc: 0xFA4E, seq: 100, tone: sine{freq: 1000}, every: 5, stop: 250}
		r.run(250, far)
		if st := r.s.Stats(); st.Latched != natAddr {
			t.Fatalf("latched %v, want %v", st.Latched, natAddr)
		}
		rebound := netip.MustParseAddrPort("198.51.100.7:31002")
		far2 := &rtpStream{from: rebound, ssrc: far.ssrc, seq: far.seq + 2, ts: far.ts + 320, tone: far.tone, every: 5, start: r.now + 10}
		stranger := &rtpStream{from: strangerA, ssrc: 0xBAD, seq: 1, tone: sine{freq: 440}, every: 1, start: r.now}
		r.played = nil
		r.run(500, far2, stranger)
		st := r.s.Stats()
		if st.Latched != rebound || st.Remote != rebound {
			t.Fatalf("after a NAT rebinding latched %v, sending to %v; want %v", st.Latched, st.Remote, rebound)
		}
		if st.Relatches != 1 || st.RelatchFrom != natAddr || st.RelatchTo != rebound {
			t.Fatalf("%d moves, last %v -> %v", st.Relatches, st.RelatchFrom, st.RelatchTo)
		}
		if r.sentTo(rebound) == 0 || r.sentTo(strangerA) != 0 {
			t.Fatalf("sent %d to the new port, %d to the stranger", r.sentTo(rebound), r.sentTo(strangerA))
		}
		r.noStrangerPlayed(t)
	})
}

// TestLatchSymmetricNATFirstLatch: the SDP names a private address that
// never sends; the far end's NAT mapping, a source nobody signalled, is
// taken once it has streamed alone for the probation time, and the phone
// then answers there.
func TestLatchSymmetricNATFirstLatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newLatchRig(t, privAddr)
		far := &rtpStream{from: natAddr, ssrc: 0xFA4E, seq: 100, tone: sine{freq: 1000}, every: 5}
		r.run(25, far)
		if st := r.s.Stats(); st.Latched.IsValid() || r.sentTo(natAddr) != 0 {
			t.Fatalf("latched %v after 100 ms; an unknown source must stream %v first", st.Latched, LatchProbation)
		}
		r.run(100, far)
		st := r.s.Stats()
		if st.Latched != natAddr || st.Remote != natAddr || r.sentTo(natAddr) == 0 {
			t.Fatalf("latched %v, sending to %v", st.Latched, st.Remote)
		}
		if st.Strangers == 0 || st.Received == 0 || st.Received+st.Strangers != uint64(far.sent) {
			t.Fatalf("received %d + probation %d, sent %d", st.Received, st.Strangers, far.sent)
		}
	})
}

// The pure latch rules, with explicit times.
func TestLatchRules(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	other := netip.MustParseAddrPort("192.0.2.77:8888")

	t.Run("ambiguous unknown sources latch neither", func(t *testing.T) {
		var l latch
		l.reset(privAddr)
		for i := range 50 {
			l.offer(natAddr, 1, uint16(i), at(i*20))
			l.offer(other, 2, uint16(i), at(i*20+10))
		}
		if l.cur.IsValid() {
			t.Fatalf("latched %v while two unknown sources streamed", l.cur)
		}
		// The other stops: the NAT source is taken after its probation.
		ms := 1000
		for i := 50; i < 100 && !l.cur.IsValid(); i++ {
			l.offer(natAddr, 1, uint16(i), at(ms))
			ms += 20
		}
		if l.cur != natAddr || ms-1000 < int(LatchQuiet/time.Millisecond) {
			t.Fatalf("latched %v after %d ms alone", l.cur, ms-1000)
		}
	})

	t.Run("new SSRC after quiet is not followed", func(t *testing.T) {
		var l latch
		l.reset(sdpAddr)
		l.offer(sdpAddr, 1, 10, at(0))
		for i := range 100 {
			if l.offer(other, 2, uint16(i), at(1000+20*i)) {
				t.Fatal("a new stream from an unsignalled address took over")
			}
		}
		if l.strangers != 100 {
			t.Fatal(l.strangers)
		}
	})

	t.Run("signalled IP after quiet is followed", func(t *testing.T) {
		var l latch
		l.reset(sdpAddr)
		l.offer(sdpAddr, 1, 10, at(0))
		p2 := netip.MustParseAddrPort("203.0.113.9:7002")
		if l.offer(p2, 2, 500, at(2000)) || !l.offer(p2, 2, 501, at(2020)) || l.cur != p2 {
			t.Fatalf("latched %v", l.cur)
		}
		// The SDP address comes back: it wins at once.
		if !l.offer(sdpAddr, 1, 11, at(2030)) || l.cur != sdpAddr || l.moves != 2 {
			t.Fatalf("latched %v after %d moves", l.cur, l.moves)
		}
	})

	t.Run("not while the latched source sends", func(t *testing.T) {
		var l latch
		l.reset(sdpAddr)
		for i := range 200 {
			l.offer(sdpAddr, 1, uint16(i), at(20*i))
			if l.offer(other, 1, uint16(i+1), at(20*i+1)) {
				t.Fatal("a copy of the stream took over while the far end sent")
			}
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		var l latch
		l.reset(privAddr)
		l.cur, l.ssrc, l.seq, l.heard, l.moved = natAddr, 1, 100, at(0), at(0)
		b := netip.MustParseAddrPort("198.51.100.7:1")
		c := netip.MustParseAddrPort("198.51.100.7:2")
		seq := uint16(101)
		ms := 400
		for ; l.cur != b && ms < 5000; ms += 20 {
			l.offer(b, 1, seq, at(ms))
			seq++
		}
		if l.cur != b || ms < int(RelatchInterval/time.Millisecond) {
			t.Fatalf("moved to %v at %d ms", l.cur, ms)
		}
		first := ms
		for ; l.cur != c && ms < 5000; ms += 20 {
			l.offer(c, 1, seq, at(ms+int(LatchQuiet/time.Millisecond)))
			seq++
		}
		if l.cur != c || ms-first < int((RelatchInterval-LatchQuiet)/time.Millisecond) || l.moves != 2 {
			t.Fatalf("second move to %v after %d ms", l.cur, ms-first)
		}
	})

	t.Run("hold address: unknown sources only on probation", func(t *testing.T) {
		var l latch
		l.reset(netip.MustParseAddrPort("0.0.0.0:7000"))
		if l.offer(netip.MustParseAddrPort("0.0.0.0:7000"), 1, 1, at(0)) || l.cur.IsValid() {
			t.Fatal("latched onto the hold address")
		}
	})
}
