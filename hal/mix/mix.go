package mix

import (
	"math"
	"sync"

	"github.com/deskphone/phone/hal"
)

// Gain scales an input: a fixed-point factor with Unity as 1.0.
type Gain int32

// gainShift is the fixed-point position of Gain: Unity is 1<<gainShift.
const gainShift = 14

// Unity leaves an input as it is; Mute silences it.
const (
	Unity Gain = 1 << gainShift
	Mute  Gain = 0
)

// maxGain caps a gain at 4.0 (+12 dB), so that any number of inputs a
// phone mixes (a handful) sums without overflowing the accumulator.
const maxGain = 4 << gainShift

// Linear returns the gain of factor f (1.0 is Unity), clamped to 0..4.
func Linear(f float64) Gain {
	if math.IsNaN(f) || f <= 0 {
		return Mute
	}
	return Gain(min(math.Round(f*float64(Unity)), maxGain))
}

// DB returns the gain of db decibels (0 is Unity, -6 about half),
// clamped to at most +12 dB.
func DB(db float64) Gain { return Linear(math.Pow(10, db/20)) }

// Acc accumulates one frame: Reset, Add each input, then Out. Its zero
// value is ready; it allocates only when a frame is longer than any
// before.
type Acc struct {
	s []int32
}

// Reset starts a frame of n samples, all zero.
func (a *Acc) Reset(n int) {
	if cap(a.s) < n {
		a.s = make([]int32, n)
	}
	a.s = a.s[:n]
	clear(a.s)
}

// Add adds src scaled by g. Samples beyond the frame are ignored; a
// short src adds to the start only.
func (a *Acc) Add(src []int16, g Gain) {
	if g == Mute {
		return
	}
	g = min(g, maxGain)
	s := a.s
	n := min(len(s), len(src))
	if g == Unity {
		for i := range n {
			s[i] += int32(src[i])
		}
		return
	}
	for i := range n {
		s[i] += (int32(src[i]) * int32(g)) >> gainShift
	}
}

// Out writes the sum to dst, saturated to the int16 range. Samples of
// dst beyond the frame are set to zero.
func (a *Acc) Out(dst []int16) {
	n := min(len(dst), len(a.s))
	for i := range n {
		dst[i] = Saturate(a.s[i])
	}
	clear(dst[n:])
}

// Saturate clamps v to the int16 range.
func Saturate(v int32) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// Mixer is a hal.FrameSource that plays the sum of its inputs, each
// pulled once per frame and scaled by its gain.
type Mixer struct {
	srcs []hal.FrameSource

	mu      sync.Mutex // guards following
	gains   []Gain
	acc     Acc
	scratch []int16
}

// Input is one source of a Mixer and its gain.
type Input struct {
	Src  hal.FrameSource
	Gain Gain
}

// New returns a Mixer of the given inputs. A nil Src is silence.
func New(inputs ...Input) *Mixer {
	m := &Mixer{srcs: make([]hal.FrameSource, len(inputs)), gains: make([]Gain, len(inputs))}
	for i, in := range inputs {
		m.srcs[i], m.gains[i] = in.Src, in.Gain
	}
	return m
}

// Len returns the number of inputs.
func (m *Mixer) Len() int { return len(m.srcs) }

// SetGain changes the gain of input i; an i out of range is ignored.
func (m *Mixer) SetGain(i int, g Gain) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i >= 0 && i < len(m.gains) {
		m.gains[i] = g
	}
}

// NextFrame fills dst with the sum of one frame of every input. Every
// input is pulled, even a muted one, so that each stays in step (a jitter
// buffer keeps draining, a tone keeps its cadence).
func (m *Mixer) NextFrame(dst []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(dst)
	if cap(m.scratch) < n {
		m.scratch = make([]int16, n)
	}
	buf := m.scratch[:n]
	m.acc.Reset(n)
	for i, src := range m.srcs {
		if src == nil {
			continue
		}
		src.NextFrame(buf)
		m.acc.Add(buf, m.gains[i])
	}
	m.acc.Out(dst)
}

var _ hal.FrameSource = (*Mixer)(nil)
