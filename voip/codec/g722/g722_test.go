package g722

import (
	"math"
	"testing"
)

// tone returns n samples of a sine of f Hz at 16 kHz and amplitude amp.
func tone(f float64, amp float64, n int) []int16 {
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

func TestFrame(t *testing.T) {
	e, d := NewEncoder(), NewDecoder(Mode1)
	payload := e.Encode(nil, make([]int16, 320))
	if len(payload) != 160 {
		t.Fatalf("20 ms of audio became %d octets, want 160", len(payload))
	}
	if pcm := d.Decode(nil, payload); len(pcm) != 320 {
		t.Fatalf("160 octets became %d samples, want 320", len(pcm))
	}
	if got := e.Encode(nil, make([]int16, 321)); len(got) != 160 {
		t.Errorf("an odd final sample made %d octets, want 160", len(got))
	}
}

// TestTones sends tones through encoder and decoder: each arrives at its
// level, with little else. The 6 kHz tone cannot pass G.711 (its band
// ends at 4 kHz): it proves the higher band and both QMFs work, not only
// the lower band.
func TestTones(t *testing.T) {
	for _, f := range []float64{400, 1000, 3000, 5000, 6000, 7000} {
		e, d := NewEncoder(), NewDecoder(Mode1)
		in := tone(f, 8000, 16000) // one second
		out := d.Decode(nil, e.Encode(nil, in))
		// Skip the first 100 ms while the ADPCM adapts.
		got := level(out[1600:], f)
		var resid float64
		n := 0
		// What differs from the input, delayed by the 22 samples of the
		// QMF pair, is noise and distortion.
		for i := 1600; i < len(out); i++ {
			diff := float64(out[i]) - float64(in[i-22])
			resid += diff * diff
			n++
		}
		snr := 10 * math.Log10((8000*8000/2)/(resid/float64(n)))
		t.Logf("%4.0f Hz: level %.0f of 8000, SNR %.1f dB", f, got, snr)
		if got < 8000*0.8 || got > 8000*1.2 {
			t.Errorf("%v Hz arrives at %.0f, sent at 8000", f, got)
		}
		if f <= 6000 && snr < 20 {
			t.Errorf("%v Hz: SNR %.1f dB, want at least 20", f, snr)
		}
	}
}

// TestModes: a 56 and 48 kbit/s decoder still decodes a 64 kbit/s stream
// to the same tone, a little noisier.
func TestModes(t *testing.T) {
	in := tone(1000, 8000, 8000)
	payload := NewEncoder().Encode(nil, in)
	for _, m := range []Mode{Mode1, Mode2, Mode3, 0, 7} {
		out := NewDecoder(m).Decode(nil, payload)
		if got := level(out[1600:], 1000); got < 8000*0.8 || got > 8000*1.2 {
			t.Errorf("mode %d: 1 kHz arrives at %.0f, sent at 8000", m, got)
		}
	}
}

// TestExtremes: full-scale square waves and noise do not overflow (the
// output stays a bounded, periodic signal) and silence stays near silent.
func TestExtremes(t *testing.T) {
	e, d := NewEncoder(), NewDecoder(Mode1)
	sq := make([]int16, 3200)
	for i := range sq {
		sq[i] = 32767
		if i/8%2 == 0 {
			sq[i] = -32768
		}
	}
	_ = d.Decode(nil, e.Encode(nil, sq))
	e.Reset()
	d.Reset()
	out := d.Decode(nil, e.Encode(nil, make([]int16, 3200)))
	for i, x := range out {
		if x > 4 || x < -4 {
			t.Fatalf("silence decoded to %d at %d", x, i)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	e, d := NewEncoder(), NewDecoder(Mode1)
	pcm := tone(1000, 8000, 320)
	payload := make([]byte, 0, 160)
	out := make([]int16, 0, 320)
	if n := testing.AllocsPerRun(100, func() {
		payload = e.Encode(payload[:0], pcm)
		out = d.Decode(out[:0], payload)
	}); n != 0 {
		t.Errorf("%v allocations per 20 ms frame, want 0", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x00, 0xff, 0x3f, 0xc0})
	f.Add(NewEncoder().Encode(nil, tone(6000, 30000, 320)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(Mode1)
		out := d.Decode(nil, b)
		if len(out) != 2*len(b) {
			t.Fatalf("%d octets gave %d samples", len(b), len(out))
		}
		// Re-encoding whatever came out never fails either.
		_ = NewEncoder().Encode(nil, out)
	})
}

func BenchmarkEncode20ms(b *testing.B) {
	e := NewEncoder()
	pcm := tone(1000, 8000, 320)
	dst := make([]byte, 0, 160)
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Encode(dst[:0], pcm)
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	payload := NewEncoder().Encode(nil, tone(1000, 8000, 320))
	d := NewDecoder(Mode1)
	dst := make([]int16, 0, 320)
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Decode(dst[:0], payload)
	}
}
