package tone

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/voip/codec"
)

var _ hal.FrameSource = (*Generator)(nil)

// render plays n samples of g in frames of the given sizes, cycled.
func render(g *Generator, n int, frames ...int) []int16 {
	if len(frames) == 0 {
		frames = []int{160}
	}
	out := make([]int16, 0, n)
	for i := 0; len(out) < n; i++ {
		f := min(frames[i%len(frames)], n-len(out))
		buf := make([]int16, f)
		g.NextFrame(buf)
		out = append(out, buf...)
	}
	return out
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

// segments splits x into on/off runs by the RMS of 1 ms blocks and
// returns their lengths in ms, starting with an on run.
func segments(x []int16, rate int) []int {
	blk := rate / 1000
	var segs []int
	on, run := true, 0
	for i := 0; i+blk <= len(x); i += blk {
		b := rms(x[i:i+blk]) > 30
		if b != on {
			segs = append(segs, run)
			on, run = b, 0
		}
		run++
	}
	return append(segs, run)
}

func allPresets(t *testing.T) []Preset {
	t.Helper()
	var out []Preset
	for _, c := range Countries() {
		p, err := PresetFor(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func specs(p Preset) map[string]Spec {
	return map[string]Spec{"dial": p.Dial, "ringback": p.Ringback, "busy": p.Busy,
		"congestion": p.Congestion, "callwaiting": p.CallWaiting}
}

func TestPresetFor(t *testing.T) {
	for _, c := range []string{"us", "uk", "de", "fr", "eu", "au", "jp"} {
		if _, err := PresetFor(c); err != nil {
			t.Errorf("PresetFor(%q): %v", c, err)
		}
	}
	for in, want := range map[string]string{"US": "us", " gb ": "uk", "ITU": "eu", "ca": "us", "De": "de"} {
		p, err := PresetFor(in)
		if err != nil || p.Country != want {
			t.Errorf("PresetFor(%q) = %q, %v; want %q", in, p.Country, err, want)
		}
	}
	for _, c := range []string{"", "xx", "usa", "u"} {
		if _, err := PresetFor(c); !errors.Is(err, ErrUnknownCountry) {
			t.Errorf("PresetFor(%q) error %v, want ErrUnknownCountry", c, err)
		}
	}
	// The result is a copy.
	p, _ := PresetFor("us")
	p.Dial.Freqs[0] = 1
	p.Busy.Cadence[0] = 1
	q, _ := PresetFor("us")
	if q.Dial.Freqs[0] != 350 || q.Busy.Cadence[0] != 500*time.Millisecond {
		t.Errorf("PresetFor shares its tables: %v %v", q.Dial.Freqs, q.Busy.Cadence)
	}
}

// TestPresetValues pins the defining values of each national plan.
func TestPresetValues(t *testing.T) {
	type want struct {
		freqs   []float64
		cadence []int // ms
	}
	check := func(country, name string, s Spec, w want) {
		t.Helper()
		if fmt.Sprint(s.Freqs) != fmt.Sprint(w.freqs) {
			t.Errorf("%s %s freqs %v, want %v", country, name, s.Freqs, w.freqs)
		}
		var got []int
		for _, d := range s.Cadence {
			got = append(got, int(d/time.Millisecond))
		}
		if fmt.Sprint(got) != fmt.Sprint(w.cadence) {
			t.Errorf("%s %s cadence %v, want %v", country, name, got, w.cadence)
		}
	}
	for c, ws := range map[string][5]want{
		"us": {{[]float64{350, 440}, nil}, {[]float64{440, 480}, []int{2000, 4000}}, {[]float64{480, 620}, []int{500, 500}}, {[]float64{480, 620}, []int{250, 250}}, {[]float64{440}, []int{300, 9700}}},
		"uk": {{[]float64{350, 440}, nil}, {[]float64{400, 450}, []int{400, 200, 400, 2000}}, {[]float64{400}, []int{375, 375}}, {[]float64{400}, []int{400, 350, 225, 525}}, {[]float64{400}, []int{100, 4000}}},
		"de": {{[]float64{425}, nil}, {[]float64{425}, []int{1000, 4000}}, {[]float64{425}, []int{480, 480}}, {[]float64{425}, []int{240, 240}}, {[]float64{425}, []int{200, 200, 200, 5000}}},
		"fr": {{[]float64{440}, nil}, {[]float64{440}, []int{1500, 3500}}, {[]float64{440}, []int{500, 500}}, {[]float64{440}, []int{250, 250}}, {[]float64{440}, []int{300, 10000}}},
		"eu": {{[]float64{425}, nil}, {[]float64{425}, []int{1000, 4000}}, {[]float64{425}, []int{500, 500}}, {[]float64{425}, []int{250, 250}}, {[]float64{425}, []int{200, 200, 200, 4400}}},
		"au": {{[]float64{413, 438}, nil}, {[]float64{413, 438}, []int{400, 200, 400, 2000}}, {[]float64{425}, []int{375, 375}}, {[]float64{425}, []int{375, 375}}, {[]float64{425}, []int{200, 200, 200, 4400}}},
		"jp": {{[]float64{400}, nil}, {[]float64{400}, []int{1000, 2000}}, {[]float64{400}, []int{500, 500}}, {[]float64{400}, []int{500, 500}}, {[]float64{400}, []int{500, 8000}}},
	} {
		p, err := PresetFor(c)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range []Spec{p.Dial, p.Ringback, p.Busy, p.Congestion, p.CallWaiting} {
			check(c, []string{"dial", "ringback", "busy", "congestion", "callwaiting"}[i], s, ws[i])
		}
	}
	if p, _ := PresetFor("jp"); p.Ringback.AM != 16 {
		t.Errorf("jp ringback AM %v, want 16", p.Ringback.AM)
	}
}

// TestCadence plays two cycles of every preset tone and measures the
// on/off runs (1 ms resolution) against the Spec.
func TestCadence(t *testing.T) {
	for _, p := range allPresets(t) {
		for name, s := range specs(p) {
			t.Run(p.Country+"/"+name, func(t *testing.T) {
				rate := 8000
				g := NewGenerator(s, rate)
				if s.Continuous() {
					x := render(g, rate, 160)
					if segs := segments(x, rate); len(segs) != 1 || segs[0] != 1000 {
						t.Fatalf("continuous tone has gaps: %v", segs)
					}
					return
				}
				period := s.Period()
				n := int(2 * period / time.Millisecond * time.Duration(rate/1000))
				x := render(g, n, 160, 80, 37)
				got := segments(x, rate)
				var want []int
				for range 2 {
					for _, d := range s.Cadence {
						want = append(want, int(d/time.Millisecond))
					}
				}
				if len(got) != len(want) {
					t.Fatalf("runs %v, want %v", got, want)
				}
				for i := range want {
					if d := got[i] - want[i]; d < -1 || d > 1 {
						t.Fatalf("runs %v, want %v (±1 ms)", got, want)
					}
				}
				for _, f := range s.Freqs {
					if !Contains(x[:rate*int(s.Cadence[0])/int(time.Second)], f, rate) {
						t.Errorf("first burst lacks %v Hz", f)
					}
				}
			})
		}
	}
}

// TestCadenceExactSamples checks that off periods are exact silence,
// sample for sample, at 16 kHz too.
func TestCadenceExactSamples(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		s := Spec{Freqs: []float64{400}, Cadence: []time.Duration{375 * time.Millisecond, 375 * time.Millisecond}, Level: -10}
		x := render(NewGenerator(s, rate), rate*15/2, 160) // ten periods: drift accumulates
		on := rate * 375 / 1000
		for i, v := range x {
			inOff := (i % (2 * on)) >= on
			if inOff && v != 0 {
				t.Fatalf("rate %d: sample %d = %d in an off period", rate, i, v)
			}
		}
		for c := 0; c < len(x); c += 2 * on {
			if r := rms(x[c+rate/500 : c+on-rate/500]); r < 1000 {
				t.Fatalf("rate %d: burst at %d has RMS %v", rate, c, r)
			}
		}
	}
}

// TestPhaseContinuous checks that the output does not depend on how it
// is cut into frames, and that a continuous tone has no jumps.
func TestPhaseContinuous(t *testing.T) {
	p, _ := PresetFor("uk")
	for _, s := range []Spec{p.Dial, p.Ringback, {Freqs: []float64{400}, AM: 16, Level: -10}} {
		a := render(NewGenerator(s, 8000), 24000, 24000)
		b := render(NewGenerator(s, 8000), 24000, 160, 1, 7, 333, 80)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%v: sample %d differs by framing: %d vs %d", s.Freqs, i, a[i], b[i])
			}
		}
	}
	// A 1 kHz sine at -6 dBFS: consecutive samples differ by at most
	// A·2sin(π·1000/8000) ≈ 0.765·A.
	x := render(Sine(1000, 8000, -6), 8000, 160, 13)
	a := 32767 * math.Pow(10, -6.0/20)
	for i := 1; i < len(x); i++ {
		if d := math.Abs(float64(x[i]) - float64(x[i-1])); d > 0.77*a+2 {
			t.Fatalf("jump of %v at sample %d", d, i)
		}
	}
}

func TestLevel(t *testing.T) {
	for _, level := range []float64{-3, -13, -27} {
		x := render(Sine(1000, 8000, level), 8000)
		want := 32767 / math.Sqrt2 * math.Pow(10, level/20)
		if got := rms(x); math.Abs(got-want) > want*0.01+1 {
			t.Errorf("level %v dBFS: RMS %v, want %v", level, got, want)
		}
	}
	// Components add: two tones at full scale clip instead of wrapping.
	x := render(NewGenerator(Spec{Freqs: []float64{350, 440}, Level: 0}, 8000), 8000)
	var hi, lo int16
	for _, v := range x {
		hi, lo = max(hi, v), min(lo, v)
	}
	if hi != 32767 || lo != -32768 {
		t.Errorf("full-scale dual tone peaks %d..%d, want clipping", lo, hi)
	}
}

func TestGeneratorEdgeCases(t *testing.T) {
	// Silence, above-Nyquist and zero-length cadences must not panic
	// and must fill the frame.
	for _, s := range []Spec{
		{},
		{Freqs: []float64{5000}, Level: -10},
		{Freqs: []float64{-1, math.NaN()}, Level: -10},
		{Freqs: []float64{440}, Cadence: []time.Duration{0, 0}, Level: -10},
		{Freqs: []float64{440}, Cadence: []time.Duration{100 * time.Millisecond}, Level: -10},
		{Freqs: []float64{440}, Level: 20},
	} {
		g := NewGenerator(s, 0)
		buf := make([]int16, 160)
		for i := range buf {
			buf[i] = 1234
		}
		g.NextFrame(buf)
		g.NextFrame(nil)
		if len(s.Freqs) == 0 || s.Freqs[0] != 440 {
			for _, v := range buf {
				if v != 0 {
					t.Fatalf("%+v: want silence, got %d", s, v)
				}
			}
		}
	}
	g := Sine(440, 8000, -10)
	a := render(g, 100)
	g.Reset()
	if b := render(g, 100); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("Reset did not restart the tone")
	}
}

func TestGoertzel(t *testing.T) {
	x := render(Sine(1000, 8000, -10), 160)
	if p := Goertzel(x, 1000, 8000); p < 0.98 || p > 1 {
		t.Errorf("Goertzel(1 kHz tone, 1000) = %v, want ≈1", p)
	}
	if p := Goertzel(x, 440, 8000); p > 0.01 {
		t.Errorf("Goertzel(1 kHz tone, 440) = %v, want ≈0", p)
	}
	// Off-bin frequency (437 Hz over 160 samples is 8.74 cycles).
	y := render(Sine(437, 8000, -10), 160)
	if p := Goertzel(y, 437, 8000); p < 0.95 {
		t.Errorf("Goertzel(437 Hz tone, 437) = %v", p)
	}
	dual := render(NewGenerator(Spec{Freqs: []float64{350, 440}, Level: -13}, 8000), 800)
	for _, f := range []float64{350, 440} {
		if p := Goertzel(dual, f, 8000); math.Abs(p-0.5) > 0.05 {
			t.Errorf("dual tone: Goertzel(%v) = %v, want ≈0.5", f, p)
		}
	}
	for _, c := range []struct {
		x    []int16
		f    float64
		rate int
	}{{nil, 440, 8000}, {make([]int16, 160), 440, 8000}, {x, 440, 0}, {x, -5, 8000}, {x, 5000, 8000}, {x, math.NaN(), 8000}} {
		if p := Goertzel(c.x, c.f, c.rate); p != 0 {
			t.Errorf("Goertzel(len %d, %v, %d) = %v, want 0", len(c.x), c.f, c.rate, p)
		}
	}
	// A constant (DC) block has no tone.
	dc := make([]int16, 160)
	for i := range dc {
		dc[i] = 5000
	}
	if p := Goertzel(dc, 440, 8000); p != 0 {
		t.Errorf("Goertzel(DC) = %v", p)
	}
}

type law struct {
	name string
	c    codec.Codec
}

var laws = []law{{"linear", nil}, {"PCMU", codec.PCMU}, {"PCMA", codec.PCMA}}

// through passes x through a G.711 encode/decode when c is set.
func through(c codec.Codec, x []int16) []int16 {
	if c == nil {
		return x
	}
	return c.Decode(nil, c.Encode(nil, x))
}

// addNoise adds deterministic white noise at the given RMS.
func addNoise(x []int16, level float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = clamp16(float64(v) + r.NormFloat64()*level)
	}
	return out
}

// TestContainsMatrix checks every tone against every probe frequency,
// clean and with noise 20 dB under the tone, linear and through G.711.
func TestContainsMatrix(t *testing.T) {
	freqs := []float64{350, 400, 440, 480, 620, 1000, 1400, 2000, 3000}
	for _, l := range laws {
		for _, n := range []int{160, 1600} { // 20 ms and 200 ms blocks
			for _, noisy := range []bool{false, true} {
				for _, tf := range freqs {
					for _, level := range []float64{-10, -27} {
						x := render(Sine(tf, 8000, level), n)
						if noisy {
							x = addNoise(x, 32767/math.Sqrt2*math.Pow(10, (level-20)/20), uint64(tf))
						}
						x = through(l.c, x)
						for _, pf := range freqs {
							want := pf == tf
							if got := Contains(x, pf, 8000); got != want {
								t.Errorf("%s n=%d noisy=%v tone %v Hz @%v dBFS: Contains(%v) = %v",
									l.name, n, noisy, tf, level, pf, got)
							}
						}
					}
				}
			}
		}
	}
}

// TestContainsClose tells 425 Hz from 440 Hz (and 400 from 425) in 200 ms
// blocks after G.711.
func TestContainsClose(t *testing.T) {
	for _, l := range laws {
		for _, pair := range [][2]float64{{425, 440}, {400, 425}, {413, 438}} {
			a := through(l.c, render(Sine(pair[0], 8000, -13), 1600))
			b := through(l.c, render(Sine(pair[1], 8000, -13), 1600))
			if !Contains(a, pair[0], 8000) || Contains(a, pair[1], 8000) ||
				!Contains(b, pair[1], 8000) || Contains(b, pair[0], 8000) {
				t.Errorf("%s: %v vs %v Hz not told apart", l.name, pair[0], pair[1])
			}
		}
	}
}

func TestContainsNegative(t *testing.T) {
	for _, l := range laws {
		// Silence, and G.711 idle codes.
		if Contains(through(l.c, make([]int16, 1600)), 440, 8000) {
			t.Errorf("%s: silence contains 440 Hz", l.name)
		}
		// A very quiet tone (-60 dBFS) counts as silence.
		if Contains(through(l.c, render(Sine(440, 8000, -60), 1600)), 440, 8000) {
			t.Errorf("%s: -60 dBFS tone detected", l.name)
		}
		// Loud white noise alone.
		for seed := range uint64(20) {
			x := through(l.c, addNoise(make([]int16, 160), 3000, seed))
			for _, f := range []float64{400, 425, 440, 1000} {
				if Contains(x, f, 8000) {
					t.Errorf("%s: noise (seed %d) contains %v Hz", l.name, seed, f)
				}
			}
		}
		// A strong 1 kHz tone with a weak 440 Hz tone 20 dB under it.
		strong := render(Sine(1000, 8000, -10), 1600)
		weak := render(Sine(440, 8000, -30), 1600)
		mix := make([]int16, len(strong))
		for i := range mix {
			mix[i] = strong[i] + weak[i]
		}
		mix = through(l.c, mix)
		if Contains(mix, 440, 8000) || !Contains(mix, 1000, 8000) {
			t.Errorf("%s: 440 Hz 20 dB under 1 kHz: got 440=%v 1000=%v", l.name,
				Contains(mix, 440, 8000), Contains(mix, 1000, 8000))
		}
	}
	// Blocks shorter than 10 ms and bad rates are not judged.
	x := render(Sine(1000, 8000, -10), 79)
	if Contains(x, 1000, 8000) || Contains(x, 1000, 0) {
		t.Error("short block or zero rate judged")
	}
}

// TestPresetsDetectable checks that each preset's first burst is detected
// at its own frequencies after G.711, and a foreign preset's is not
// (us dial 350+440 vs de dial 425).
func TestPresetsDetectable(t *testing.T) {
	for _, l := range laws[1:] {
		for _, p := range allPresets(t) {
			for name, s := range specs(p) {
				x := through(l.c, render(NewGenerator(s, 8000), 1600))
				for _, f := range s.Freqs {
					if !Contains(x, f, 8000) {
						t.Errorf("%s %s %s: %v Hz not detected", l.name, p.Country, name, f)
					}
				}
				if Contains(x, 1000, 8000) {
					t.Errorf("%s %s %s: 1000 Hz detected", l.name, p.Country, name)
				}
			}
		}
	}
	us, _ := PresetFor("us")
	x := through(codec.PCMA, render(NewGenerator(us.Dial, 8000), 1600))
	if Contains(x, 425, 8000) {
		t.Error("US dial tone taken for 425 Hz")
	}
}

func BenchmarkGenerator(b *testing.B) {
	us, _ := PresetFor("us")
	g := NewGenerator(us.Dial, 8000)
	buf := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		g.NextFrame(buf)
	}
}

func BenchmarkContains(b *testing.B) {
	x := render(Sine(440, 8000, -13), 160)
	b.ReportAllocs()
	for b.Loop() {
		Contains(x, 440, 8000)
	}
}

// TestCallWaitingIsABeep: every preset's call-waiting tone is short
// bursts (at most 500 ms each) followed by a pause of at least 4 s, so
// that the phone can lay it over a call's audio as a beep every few
// seconds (firmware/phone mixes it continuously).
func TestCallWaitingIsABeep(t *testing.T) {
	for _, p := range allPresets(t) {
		s := p.CallWaiting
		if s.Continuous() || len(s.Cadence)%2 != 0 {
			t.Errorf("%s: call waiting cadence %v, want bursts and pauses", p.Country, s.Cadence)
			continue
		}
		for i, d := range s.Cadence {
			if i%2 == 0 && d > 500*time.Millisecond {
				t.Errorf("%s: call waiting burst %v longer than 500 ms", p.Country, d)
			}
		}
		if last := s.Cadence[len(s.Cadence)-1]; last < 4*time.Second {
			t.Errorf("%s: call waiting pause %v shorter than 4 s", p.Country, last)
		}
	}
}
