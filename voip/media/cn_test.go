package media

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func TestCNPayload(t *testing.T) {
	p, err := ParseCN([]byte{40, 127, 200, 3})
	if err != nil {
		t.Fatal(err)
	}
	if p.Level != 40 || !bytes.Equal(p.Coeffs, []byte{127, 200, 3}) {
		t.Fatalf("parsed %+v", p)
	}
	if got := p.AppendTo(nil); !bytes.Equal(got, []byte{40, 127, 200, 3}) {
		t.Fatalf("AppendTo %x", got)
	}
	for _, bad := range [][]byte{nil, {0x80}, {0xFF, 1}, make([]byte, 34)} {
		if _, err := ParseCN(bad); !errors.Is(err, ErrBadCN) {
			t.Errorf("ParseCN(%x) = %v, want ErrBadCN", bad, err)
		}
	}
	if _, err := ParseCN(make([]byte, 33)); err != nil {
		t.Errorf("order 32: %v", err)
	}
	// Level and RMS are inverse: 0 dBov is the 16-bit overload square
	// wave, every -dBov step 1 dB below it.
	for lvl := range uint8(128) {
		if got := CNLevel(CNPayload{Level: lvl}.RMS()); got != lvl {
			t.Fatalf("level %d -> %.2f RMS -> level %d", lvl, CNPayload{Level: lvl}.RMS(), got)
		}
	}
	if CNLevel(0) != 127 || CNLevel(1e9) != 0 {
		t.Fatal("CNLevel does not clamp")
	}
}

// cnTone is n samples of a 1 kHz tone at amplitude a from sample offset off.
func cnTone(n, off int, a float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(a * math.Sin(2*math.Pi*1000*float64(off+i)/8000))
	}
	return s
}

func ulaw(pcm []int16) []byte {
	return codec.PCMU.Encode(nil, pcm)
}

// cnReceiver is a PCMU session with CN negotiated, driven by
// handleDatagram directly.
func cnReceiver(t *testing.T, cnPT uint8) *Session {
	t.Helper()
	n := newMemNet()
	far := n.listen("10.0.0.2:5000")
	s, err := New(Config{Conn: n.listen("10.0.0.1:4000"), Remote: far.addr, Codec: codec.PCMU, CNPayloadType: cnPT, KeepaliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestComfortNoiseReceived(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"level 40 white", []byte{40}},
		{"level 60 white", []byte{60}},
		{"level 30 order 4", []byte{30, 200, 90, 160, 120}},
		{"level 50 order 10", []byte{50, 30, 220, 100, 150, 127, 140, 110, 130, 120, 127}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := cnReceiver(t, 13)
				far := s.remote
				seq, ts := uint16(100), uint32(8000)
				frame := make([]int16, 160)
				// A talkspurt of 5 packets, then the CN packet at the
				// timestamp where silence begins.
				for i := range 5 {
					s.handleDatagram(rtpBytes(0, seq, ts, 7, i == 0, ulaw(cnTone(160, i*160, 8000))), far, false, &rtp.Packet{})
					seq++
					ts += 160
				}
				s.handleDatagram(rtpBytes(13, seq, ts, 7, false, tc.payload), far, false, &rtp.Packet{})
				seq++
				var out []int16
				for range 100 { // 2 s
					s.NextFrame(frame)
					out = append(out, frame...)
				}
				want := CNPayload{Level: tc.payload[0]}.RMS()
				got := rms(out[400*8:]) // from 400 ms on: voice and its tail are long gone
				if d := db(got) - db(want); math.Abs(d) > 1 {
					t.Fatalf("noise RMS %.1f, want %.1f (%.2f dB off)", got, want, d)
				}
				st := s.Stats()
				if st.CNReceived != 1 || st.Jitterbuf.Noise == 0 || st.Dropped != 0 {
					t.Fatalf("stats %+v", st)
				}
				// Voice resumes a second later: it plays, and the noise stops.
				ts += 8000
				for i := range 10 {
					s.handleDatagram(rtpBytes(0, seq, ts, 7, i == 0, ulaw(cnTone(160, i*160, 8000))), far, false, &rtp.Packet{})
					seq++
					ts += 160
				}
				out = out[:0]
				for range 8 {
					s.NextFrame(frame)
					out = append(out, frame...)
				}
				noise := s.Stats().Jitterbuf.Noise
				s.NextFrame(frame)
				if r := rms(frame); r < 4000 {
					t.Fatalf("voice after the silence plays at RMS %.0f", r)
				}
				dominant(t, frame, 1000)
				if got := s.Stats().Jitterbuf.Noise; got != noise {
					t.Fatalf("noise went on after voice resumed: %d -> %d samples", noise, got)
				}
			})
		})
	}
}

func TestComfortNoiseBeforeVoice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cnReceiver(t, 13)
		// A far end that starts silent: noise from the first CN on.
		s.handleDatagram(rtpBytes(13, 1, 1000, 7, false, []byte{45}), s.remote, false, &rtp.Packet{})
		frame := make([]int16, 1600)
		s.NextFrame(frame)
		if d := db(rms(frame)) - db(CNPayload{Level: 45}.RMS()); math.Abs(d) > 1 {
			t.Fatalf("noise %.2f dB off", d)
		}
	})
}

func TestComfortNoiseMalformedDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cnReceiver(t, 13)
		bad := [][]byte{{}, {0x80}, {0xC0, 1, 2}, append([]byte{20}, make([]byte, 40)...)}
		for i, p := range bad {
			s.handleDatagram(rtpBytes(13, uint16(i+1), uint32(160*i), 7, false, p), s.remote, false, &rtp.Packet{})
		}
		frame := make([]int16, 160)
		s.NextFrame(frame)
		st := s.Stats()
		if st.CNBad != 4 || st.Dropped != 4 || st.CNReceived != 0 || st.Received != 0 || st.Jitterbuf.Noise != 0 {
			t.Fatalf("after 4 malformed CN packets: %+v", st)
		}
		if st.Latched.IsValid() {
			t.Fatal("a malformed CN packet latched")
		}
		if rms(frame) != 0 {
			t.Fatal("malformed CN played")
		}
	})
}

func TestComfortNoiseNotNegotiated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// PT 13 without CN negotiated is a keepalive: accepted, never
		// played, whatever level it claims.
		s := cnReceiver(t, 0)
		s.handleDatagram(rtpBytes(13, 1, 160, 7, false, []byte{0}), s.remote, false, &rtp.Packet{})
		frame := make([]int16, 160)
		s.NextFrame(frame)
		if st := s.Stats(); st.Dropped != 0 || st.CNReceived != 0 || st.Jitterbuf.Noise != 0 || rms(frame) != 0 {
			t.Fatalf("keepalive CN: %+v", st)
		}
	})
}

func TestVADSendsComfortNoise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.CNPayloadType, a.VAD, a.KeepaliveInterval = 13, true, -1
			b.CNPayloadType, b.KeepaliveInterval = 13, -1
		})
		defer a.Close()
		defer b.Close()
		hiss := make([]int16, 160) // background at about -60 dBov
		for i := range hiss {
			hiss[i] = int16(32 * math.Sin(float64(i)*2.1))
		}
		var kinds []byte // one letter a frame written: v voice, c CN, - nothing
		write := func(frames int, pcm func(i int) []int16) {
			for i := range frames {
				before := len(rtpSent(t, ca))
				if err := a.WriteFrame(pcm(i)); err != nil {
					t.Fatal(err)
				}
				ps := rtpSent(t, ca)
				switch {
				case len(ps) == before:
					kinds = append(kinds, '-')
				case ps[len(ps)-1].PayloadType == 13:
					kinds = append(kinds, 'c')
				default:
					kinds = append(kinds, 'v')
				}
			}
		}
		write(25, func(i int) []int16 { return cnTone(160, 160*i, 8000) }) // 500 ms talk
		write(50, func(int) []int16 { return hiss })                       // 1 s pause
		write(10, func(i int) []int16 { return cnTone(160, 160*i, 8000) }) // talk again
		got := string(kinds)
		// Talk; 300 ms of hangover; CN at once and every 200 ms; voice at
		// the first loud frame.
		want := "vvvvvvvvvvvvvvvvvvvvvvvvv" + "vvvvvvvvvvvvvvv" +
			"c---------c---------c---------c----" + "vvvvvvvvvv"
		if got != want {
			t.Fatalf("frames sent as\n%s\nwant\n%s", got, want)
		}
		ps := rtpSent(t, ca)
		var cn, resumed int
		for i, p := range ps {
			if p.PayloadType == 13 {
				cn++
				if len(p.Payload) != 1+cnOrder || p.Payload[0] < 55 || p.Payload[0] > 65 {
					t.Fatalf("CN payload %x, want the hiss's level (about 60 -dBov) and %d coefficients", p.Payload, cnOrder)
				}
				if next := ps[i+1]; next.PayloadType == 0 {
					resumed++
					if !next.Marker {
						t.Fatal("first voice packet after silence without the marker bit")
					}
				}
			}
			if i > 0 && p.SequenceNumber != ps[i-1].SequenceNumber+1 {
				t.Fatal("sequence numbers not consecutive across CN")
			}
		}
		if cn != 4 || resumed != 1 || a.Stats().CNSent != 4 {
			t.Fatalf("%d CN packets, %d resumes, stats %d", cn, resumed, a.Stats().CNSent)
		}
		// The far end heard them as comfort noise.
		synctest.Wait()
		if st := b.Stats(); st.CNReceived != 4 || st.CNBad != 0 {
			t.Fatalf("far end: %d CN received, %d bad", st.CNReceived, st.CNBad)
		}
	})
}

func TestVADOffOrWithoutCN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		// VAD on but CN not negotiated: nothing to send silence with, so
		// every frame goes out as voice (as with VAD off, the default).
		a, b, ca, _ := newPair(t, n, func(a, b *Config) { a.VAD, a.KeepaliveInterval = true, -1 })
		defer a.Close()
		defer b.Close()
		silence := make([]int16, 160)
		for range 40 {
			a.WriteFrame(silence)
		}
		for _, p := range rtpSent(t, ca) {
			if p.PayloadType != 0 {
				t.Fatalf("sent PT %d", p.PayloadType)
			}
		}
		if got := len(rtpSent(t, ca)); got != 40 {
			t.Fatalf("%d packets for 40 frames", got)
		}
	})
}

// BenchmarkComfortNoise is the receive side of a silence: one CN packet
// with a 10th-order spectrum handled, then 20 ms frames of noise played.
func BenchmarkComfortNoise(b *testing.B) {
	n := newMemNet()
	far := n.listen("10.0.0.2:5000")
	s, err := New(Config{Conn: n.listen("10.0.0.1:4000"), Remote: far.addr, Codec: codec.PCMU, CNPayloadType: 13, KeepaliveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pkt := rtpBytes(13, 1, 160, 7, false, []byte{50, 30, 220, 100, 150, 127, 140, 110, 130, 120, 127})
	var p rtp.Packet
	frame := make([]int16, 160)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%10 == 0 { // a SID update every 200 ms
			pkt[3]++ // next sequence number
			s.handleDatagram(pkt, far.addr, false, &p)
		}
		s.NextFrame(frame)
	}
}

// goertzelAt is the power of freq (Hz at rate) in s, per sample.
func goertzelAt(s []int16, freq, rate float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, v := range s {
		s0 := float64(v) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(s))
}

// TestVADSendsSpectrum: the CN we send carries the background's spectrum
// (10 reflection coefficients), so a rumbling room comes out of the far
// end as rumble, not hiss: low-pass noise at -60 dBov in, noise out whose
// 300 Hz band is far stronger than its 3 kHz band, at about the level
// sent.
func TestVADSendsSpectrum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, func(a, b *Config) {
			a.CNPayloadType, a.VAD, a.KeepaliveInterval = 13, true, -1
			b.CNPayloadType, b.KeepaliveInterval = 13, -1
		})
		defer a.Close()
		defer b.Close()
		rng := uint32(1)
		var y float64
		rumble := make([]int16, 160)
		var sent []int16
		for range 60 { // 1.2 s: 300 ms of hangover, then CN
			for i := range rumble {
				rng ^= rng << 13
				rng ^= rng >> 17
				rng ^= rng << 5
				y = 0.95*y + (float64(rng)/(1<<31)-1)*17
				rumble[i] = int16(y)
			}
			sent = append(sent, rumble...)
			if err := a.WriteFrame(rumble); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if st := b.Stats(); st.CNReceived < 3 {
			t.Fatalf("far end got %d CN packets", st.CNReceived)
		}
		frame := make([]int16, 160)
		var out []int16
		for range 100 {
			b.NextFrame(frame)
			out = append(out, frame...)
		}
		out = out[len(out)/2:] // noise only
		lo, hi := goertzelAt(out, 300, 8000), goertzelAt(out, 3000, 8000)
		if db(math.Sqrt(lo/hi)) < 10 {
			t.Fatalf("far end's noise: 300 Hz %.0f, 3 kHz %.0f: not low-pass", lo, hi)
		}
		t.Logf("far end's noise: 300 Hz %.1f dB above 3 kHz; RMS %.1f, background %.1f", db(math.Sqrt(lo/hi)), rms(out), rms(sent[len(sent)/2:]))
		in := sent[len(sent)/2:]
		if d := db(rms(out)) - db(rms(in)); math.Abs(d) > 3 {
			t.Fatalf("noise RMS %.1f, background RMS %.1f (%.1f dB)", rms(out), rms(in), d)
		}
	})
}

// BenchmarkVADSilence is the send side of a silence with VAD on: each
// 20 ms frame classified and analysed, a CN packet with its spectrum
// every 200 ms.
func BenchmarkVADSilence(b *testing.B) {
	s, err := New(Config{Conn: nullConn{newMemNet().listen("10.0.0.1:4000")}, Remote: netip.MustParseAddrPort("10.0.0.2:5000"), Codec: codec.PCMU,
		CNPayloadType: 13, VAD: true, KeepaliveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hiss := make([]int16, 160)
	for i := range hiss {
		hiss[i] = int16(20 * math.Sin(float64(i)*1.3))
	}
	b.ReportAllocs()
	for b.Loop() {
		s.WriteFrame(hiss)
	}
}
