package mix

import (
	"math"
	"testing"

	"github.com/deskphone/phone/hal"
)

// level plays a constant sample value.
type level int16

func (l level) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = int16(l)
	}
}

// ramp plays 0, 1, 2, ... so a test can see that each input is pulled
// once per frame.
type ramp struct{ n int16 }

func (r *ramp) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = r.n
		r.n++
	}
}

func TestMixerSumsWithGain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs []Input
		want   int16
	}{
		{"one", []Input{{level(1000), Unity}}, 1000},
		{"two", []Input{{level(1000), Unity}, {level(-300), Unity}}, 700},
		{"half", []Input{{level(1000), Unity}, {level(2000), Linear(0.5)}}, 2000},
		{"muted", []Input{{level(1000), Mute}, {level(5), Unity}}, 5},
		{"nil source", []Input{{nil, Unity}, {level(7), Unity}}, 7},
		{"saturate up", []Input{{level(30000), Unity}, {level(30000), Unity}}, math.MaxInt16},
		{"saturate down", []Input{{level(-30000), Unity}, {level(-30000), Unity}, {level(-30000), Unity}}, math.MinInt16},
		{"gain clamp", []Input{{level(10000), Linear(100)}}, math.MaxInt16},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(tc.inputs...)
			dst := make([]int16, 160)
			for i := range dst {
				dst[i] = 99 // Out must overwrite everything
			}
			m.NextFrame(dst)
			for i, v := range dst {
				if v != tc.want {
					t.Fatalf("sample %d = %d, want %d", i, v, tc.want)
				}
			}
		})
	}
}

func TestMixerPullsEachInputOncePerFrame(t *testing.T) {
	a, b := &ramp{}, &ramp{n: 1000}
	m := New(Input{a, Unity}, Input{b, Mute})
	dst := make([]int16, 4)
	m.NextFrame(dst)
	m.NextFrame(dst)
	if want := []int16{4, 5, 6, 7}; !equal(dst, want) {
		t.Fatalf("second frame = %v, want %v", dst, want)
	}
	if b.n != 1008 {
		t.Fatalf("muted input pulled to %d, want 1008 (kept in step)", b.n)
	}
	m.SetGain(1, Unity)
	m.SetGain(7, Unity) // out of range: ignored
	m.NextFrame(dst)
	if want := []int16{8 + 1008, 9 + 1009, 10 + 1010, 11 + 1011}; !equal(dst, want) {
		t.Fatalf("third frame = %v, want %v", dst, want)
	}
}

func TestAccShortInputsAndOutput(t *testing.T) {
	var a Acc
	a.Reset(4)
	a.Add([]int16{1, 2}, Unity)               // short: adds to the start
	a.Add([]int16{10, 10, 10, 10, 10}, DB(0)) // long: the rest ignored
	out := []int16{9, 9, 9, 9, 9, 9}
	a.Out(out)
	if want := []int16{11, 12, 10, 10, 0, 0}; !equal(out, want) {
		t.Fatalf("out = %v, want %v", out, want)
	}
}

func TestGains(t *testing.T) {
	for _, tc := range []struct {
		got, want Gain
	}{
		{Linear(1), Unity}, {DB(0), Unity}, {Linear(-1), Mute}, {Linear(math.NaN()), Mute},
		{Linear(0.5), Unity / 2}, {DB(-6.0206), Unity / 2}, {DB(40), maxGain},
	} {
		if tc.got != tc.want {
			t.Errorf("gain %d, want %d", tc.got, tc.want)
		}
	}
}

// TestNoAllocPerFrame: a Mixer and an Acc in steady state allocate
// nothing per frame.
func TestNoAllocPerFrame(t *testing.T) {
	m := New(Input{level(1), Unity}, Input{&ramp{}, Linear(0.25)}, Input{level(3), DB(-6)})
	dst := make([]int16, hal.Narrowband.FrameSamples())
	m.NextFrame(dst) // first frame sizes the scratch buffer
	if n := testing.AllocsPerRun(200, func() { m.NextFrame(dst) }); n != 0 {
		t.Fatalf("Mixer.NextFrame allocates %v times per frame", n)
	}
	var a Acc
	src := make([]int16, len(dst))
	a.Reset(len(dst))
	if n := testing.AllocsPerRun(200, func() {
		a.Reset(len(dst))
		a.Add(src, Unity)
		a.Add(src, Linear(0.5))
		a.Out(dst)
	}); n != 0 {
		t.Fatalf("Acc allocates %v times per frame", n)
	}
}

func BenchmarkMixer3x20ms(b *testing.B) {
	m := New(Input{level(1), Unity}, Input{&ramp{}, Linear(0.25)}, Input{level(3), Unity})
	dst := make([]int16, hal.Narrowband.FrameSamples())
	b.ReportAllocs()
	for b.Loop() {
		m.NextFrame(dst)
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
