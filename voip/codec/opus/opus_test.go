//go:build cgo && opus

package opus

import (
	"math"
	"testing"
)

// tone returns n samples of a sine of f Hz at 16 kHz and amplitude amp.
func tone(f, amp float64, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(i)/SampleRate)))
	}
	return pcm
}

// level returns the amplitude of the f Hz component of pcm (Goertzel).
func level(pcm []int16, f float64) float64 {
	w := 2 * math.Pi * f / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(p) / float64(len(pcm))
}

// roundTrip codes pcm in 20 ms frames and returns the decoded audio and
// the octets sent.
func roundTrip(t *testing.T, c *Codec, pcm []int16) ([]int16, int) {
	t.Helper()
	var out []int16
	octets := 0
	for i := 0; i+320 <= len(pcm); i += 320 {
		p := c.Encode(nil, pcm[i:i+320])
		if len(p) == 0 {
			t.Fatalf("frame %d: no packet", i/320)
		}
		octets += len(p)
		n := len(out)
		out = c.Decode(out, p)
		if len(out)-n != 320 {
			t.Fatalf("frame %d decoded to %d samples, want 320", i/320, len(out)-n)
		}
	}
	return out, octets
}

// TestTones sends tones through encoder and decoder: each arrives near
// its level and dominates what else there is. 6 kHz cannot pass G.711,
// so it proves the wideband path.
func TestTones(t *testing.T) {
	for _, f := range []float64{400, 1000, 3000, 5000, 6000} {
		c, err := New(Params{})
		if err != nil {
			t.Fatal(err)
		}
		out, octets := roundTrip(t, c, tone(f, 8000, 16000)) // one second
		got := level(out[3200:], f)                          // past the first 200 ms
		other := level(out[3200:], f*0.77)
		kbps := float64(octets) * 8 / 1000
		t.Logf("%4.0f Hz: level %.0f of 8000, %.0f at 0.77 f; %.1f kbit/s", f, got, other, kbps)
		if got < 8000*0.7 || got > 8000*1.3 {
			t.Errorf("%v Hz arrives at %.0f, sent at 8000", f, got)
		}
		if other > got/20 {
			t.Errorf("%v Hz: %.0f at %.0f Hz next to %.0f at the tone", f, other, f*0.77, got)
		}
		if kbps > DefaultBitrate*1.25/1000 { // a pure tone is hard: VBR's average overshoots a little
			t.Errorf("%v Hz: %.1f kbit/s, want at most ~%d", f, kbps, DefaultBitrate/1000)
		}
	}
}

// TestRemoteBitrate: a far end's maxaveragebitrate lowers the rate.
func TestRemoteBitrate(t *testing.T) {
	c, err := New(Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetRemoteFmtp("maxaveragebitrate=12000; useinbandfec=1"); err != nil {
		t.Fatal(err)
	}
	_, octets := roundTrip(t, c, tone(1000, 8000, 16000))
	if kbps := float64(octets) * 8 / 1000; kbps > 12*1.25 {
		t.Errorf("%.1f kbit/s with maxaveragebitrate=12000", kbps)
	}
	if err := c.SetRemoteFmtp("maxaveragebitrate=x"); err == nil {
		t.Error("a bad maxaveragebitrate was taken")
	}
}

// TestLoss: a lost packet is recovered from the next packet's FEC, or
// concealed, to a frame of audio continuing the tone; bad input decodes
// to nothing.
func TestLoss(t *testing.T) {
	c, err := New(Params{})
	if err != nil {
		t.Fatal(err)
	}
	in := tone(1000, 8000, 16000)
	var pkts [][]byte
	for i := 0; i+320 <= len(in); i += 320 {
		pkts = append(pkts, c.Encode(nil, in[i:i+320]))
	}
	var out []int16
	for i, p := range pkts {
		switch i {
		case 20: // lost, recovered from packet 21's FEC
			out = c.DecodeFEC(out, pkts[21], 320)
		case 30: // lost, concealed
			out = c.Conceal(out, 320)
		default:
			out = c.Decode(out, p)
		}
		if len(out) != 320*(i+1) {
			t.Fatalf("after packet %d: %d samples", i, len(out))
		}
	}
	for _, k := range []int{20, 30} {
		if l := level(out[320*k:320*(k+1)], 1000); l < 8000*0.4 {
			t.Errorf("frame %d (lost): 1 kHz at %.0f", k, l)
		}
	}
	if got := c.Decode(nil, []byte{0xff, 0xff, 0xff}); len(got) != 0 {
		t.Errorf("garbage decoded to %d samples", len(got))
	}
	if got := c.Encode(nil, make([]int16, 317)); len(got) != 0 {
		t.Errorf("317 samples encoded to %d octets", len(got))
	}
}

func TestCodecFacts(t *testing.T) {
	c, err := New(Params{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "opus" || c.ClockRate() != 48000 || c.SampleRate() != 16000 || c.Channels() != 2 {
		t.Errorf("%s/%d/%d at %d Hz", c.Name(), c.ClockRate(), c.Channels(), c.SampleRate())
	}
	if !Available {
		t.Error("Available is false in an opus build")
	}
}

// FuzzDecode: any payload decodes to at most 120 ms, never a crash.
func FuzzDecode(f *testing.F) {
	c, err := New(Params{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Encode(nil, tone(1000, 8000, 320)))
	f.Add([]byte{0xfc})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := len(c.Decode(nil, b)); n > frameMax {
			t.Fatalf("%d samples", n)
		}
		_ = c.DecodeFEC(nil, b, 320)
	})
}

func BenchmarkEncode(b *testing.B) {
	c, err := New(Params{})
	if err != nil {
		b.Fatal(err)
	}
	in := tone(1000, 8000, 320)
	buf := make([]byte, 0, maxPacket)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Encode(buf[:0], in)
	}
}

func BenchmarkDecode(b *testing.B) {
	c, err := New(Params{})
	if err != nil {
		b.Fatal(err)
	}
	p := c.Encode(nil, tone(1000, 8000, 320))
	out := make([]int16, 0, frameMax)
	b.ReportAllocs()
	for b.Loop() {
		out = c.Decode(out[:0], p)
	}
}
