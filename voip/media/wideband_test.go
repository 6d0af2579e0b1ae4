package media

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/voip/codec"
)

var wideband = hal.Format{SampleRate: 16000, Channels: 1, Frame: 20 * time.Millisecond}

// tone is a phase-continuous sine source at a sample rate.
type tone struct {
	freq, rate, phase float64
}

func (g *tone) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = int16(8000 * math.Sin(g.phase))
		g.phase += 2 * math.Pi * g.freq / g.rate
	}
}

// amplitude returns the amplitude of the freq component of s sampled at
// rate (Goertzel).
func amplitude(s []int16, freq, rate float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, v := range s {
		s1, s2 = float64(v)+k*s1-s2, s1
	}
	return 2 * math.Sqrt(s1*s1+s2*s2-k*s1*s2) / float64(len(s))
}

// call runs a and b for d, a's microphone playing fa and b's fb, each
// at its format, and returns what each speaker played.
func call(t *testing.T, a, b *Session, inA, inB hal.Format, outA, outB hal.Format, fa, fb float64, d time.Duration) ([]int16, []int16) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	micA := haltest.NewAudioIn(inA, &tone{freq: fa, rate: float64(inA.SampleRate)})
	micB := haltest.NewAudioIn(inB, &tone{freq: fb, rate: float64(inB.SampleRate)})
	spkA, spkB := haltest.NewAudioOut(outA), haltest.NewAudioOut(outB)
	spkA.Start(a)
	spkB.Start(b)
	done := make(chan struct{}, 2)
	go func() { a.Run(ctx, micA); done <- struct{}{} }()
	go func() { b.Run(ctx, micB); done <- struct{}{} }()
	time.Sleep(d + 7*time.Millisecond)
	cancel()
	<-done
	<-done
	spkA.Close()
	spkB.Close()
	return spkA.Samples(0), spkB.Samples(0)
}

// heard checks that the last second of s carries freq at about the level
// sent (8000) and that other does not come through.
func heard(t *testing.T, who string, s []int16, rate int, freq, other float64) {
	t.Helper()
	if len(s) < rate {
		t.Fatalf("%s: %d samples", who, len(s))
	}
	s = s[len(s)-rate:]
	got, stray := amplitude(s, freq, float64(rate)), amplitude(s, other, float64(rate))
	t.Logf("%s: %v Hz at %.0f, %v Hz at %.0f", who, freq, got, other, stray)
	if got < 6000 || got > 10000 {
		t.Errorf("%s: %v Hz arrives at %.0f, sent at 8000", who, freq, got)
	}
	if stray > 400 {
		t.Errorf("%s: %v Hz at %.0f where there should be none", who, other, stray)
	}
}

// TestWidebandCall: a G.722 session carries a 6 kHz tone, which G.711
// cannot (its band ends at 4 kHz); the RTP clock is 8000 Hz (160 ticks
// and 160 octets per 20 ms packet) while the audio is 16 kHz.
func TestWidebandCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = codec.NewG722(), codec.NewG722()
		})
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, wideband, wideband, wideband, wideband, 6000, 1000, 2*time.Second)
		heard(t, "b", outB, 16000, 6000, 2000)
		heard(t, "a", outA, 16000, 1000, 6000)
		ps := rtpSent(t, ca)
		if len(ps) < 50 {
			t.Fatalf("%d packets sent", len(ps))
		}
		for i := 1; i < len(ps); i++ {
			if p := ps[i]; p.PayloadType != 9 || len(p.Payload) != 160 || p.Timestamp-ps[i-1].Timestamp != 160 {
				t.Fatalf("packet %d: PT %d, %d octets, timestamp step %d; want 9, 160, 160",
					i, p.PayloadType, len(p.Payload), p.Timestamp-ps[i-1].Timestamp)
			}
		}
	})
}

// TestWidebandCallNarrowbandDevices: a G.722 call on 8 kHz devices (the
// microphone converted up, the speaker's frames down) still carries a 1
// kHz tone both ways, and a 6 kHz tone sent from a wideband phone is
// filtered out before the narrowband speaker, not folded to 2 kHz.
func TestWidebandCallNarrowbandDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = codec.NewG722(), codec.NewG722()
			a.DeviceRate = 8000
		})
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, hal.Narrowband, wideband, hal.Narrowband, wideband, 1000, 6000, 2*time.Second)
		heard(t, "b (wideband)", outB, 16000, 1000, 6000)
		last := outA[len(outA)-8000:]
		if got := amplitude(last, 2000, 8000); got > 400 {
			t.Errorf("a (narrowband): 6 kHz folded to 2 kHz at %.0f", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = codec.NewG722(), codec.NewG722()
			a.DeviceRate = 8000
		})
		defer a.Close()
		defer b.Close()
		outA, _ := call(t, a, b, hal.Narrowband, wideband, hal.Narrowband, wideband, 1000, 1500, 2*time.Second)
		heard(t, "a (narrowband)", outA, 8000, 1500, 1000)
	})
}

// TestNarrowbandCallWidebandDevices: a G.711 call on 16 kHz devices.
func TestNarrowbandCallWidebandDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.DeviceRate, b.DeviceRate = 16000, 16000
		})
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, wideband, wideband, wideband, wideband, 1000, 3000, 2*time.Second)
		heard(t, "b", outB, 16000, 1000, 3000)
		heard(t, "a", outA, 16000, 3000, 1000)
		ps := rtpSent(t, ca)
		for i := 1; i < len(ps); i++ {
			if p := ps[i]; p.PayloadType != 0 || len(p.Payload) != 160 || p.Timestamp-ps[i-1].Timestamp != 160 {
				t.Fatalf("packet %d: PT %d, %d octets, step %d", i, p.PayloadType, len(p.Payload), p.Timestamp-ps[i-1].Timestamp)
			}
		}
	})
}

func TestNewRejectsRates(t *testing.T) {
	n := newMemNet()
	c := n.listen("10.0.0.9:4000")
	for _, r := range []int{11025, 48000, 4000} {
		if _, err := New(Config{Conn: c, Codec: codec.PCMU, DeviceRate: r}); err == nil {
			t.Errorf("a %d Hz device for PCMU was accepted", r)
		}
	}
}

// TestResampler: halving keeps what fits the lower rate and removes the
// rest (a 6 kHz tone at 16 kHz would fold to 2 kHz); doubling keeps the
// tone without its image.
func TestResampler(t *testing.T) {
	var down, up resampler
	in := make([]int16, 320)
	out := make([]int16, 160)
	g, h := &tone{freq: 1000, rate: 16000}, &tone{freq: 6000, rate: 16000}
	var got1k, got6k []int16
	six := make([]int16, 320)
	var d2 resampler
	out2 := make([]int16, 160)
	for range 50 {
		g.NextFrame(in)
		down.down(out, in)
		got1k = append(got1k, out...)
		h.NextFrame(six)
		d2.down(out2, six)
		got6k = append(got6k, out2...)
	}
	if a := amplitude(got1k[4000:], 1000, 8000); a < 7600 || a > 8400 {
		t.Errorf("1 kHz halved: amplitude %.0f, want 8000", a)
	}
	if a := amplitude(got6k[4000:], 2000, 8000); a > 200 {
		t.Errorf("6 kHz halved folds to 2 kHz at %.0f", a)
	}
	n8 := make([]int16, 160)
	n16 := make([]int16, 320)
	var got []int16
	g8 := &tone{freq: 1000, rate: 8000}
	for range 50 {
		g8.NextFrame(n8)
		up.up(n16, n8)
		got = append(got, n16...)
	}
	if a := amplitude(got[8000:], 1000, 16000); a < 7600 || a > 8400 {
		t.Errorf("1 kHz doubled: amplitude %.0f, want 8000", a)
	}
	if a := amplitude(got[8000:], 7000, 16000); a > 200 {
		t.Errorf("1 kHz doubled has its 7 kHz image at %.0f", a)
	}
}

func BenchmarkResample(b *testing.B) {
	var r resampler
	in, out := make([]int16, 320), make([]int16, 160)
	(&tone{freq: 1000, rate: 16000}).NextFrame(in)
	b.ReportAllocs()
	for b.Loop() {
		r.down(out, in)
		r.up(in, out)
	}
}
