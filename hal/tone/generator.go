package tone

import (
	"math"
	"time"
)

// amDepth is the modulation depth used for Spec.AM.
const amDepth = 0.9

// Generator plays a Spec. It implements hal.FrameSource. It is not safe
// for concurrent use.
type Generator struct {
	rate            int
	amp             float64   // peak amplitude of each component
	step            []float64 // phase increment per sample, radians
	phase           []float64
	amStep, amPhase float64
	// segs is the cadence in samples; nil means continuous.
	segs   []int
	period int
	pos    int // sample position within the period
	ramp   int // samples of fade in/out at each burst edge
}

// NewGenerator returns a generator of s at sampleRate samples per second
// (8000 if sampleRate is not positive). Frequencies at or above the
// Nyquist frequency, or not positive, are left out.
func NewGenerator(s Spec, sampleRate int) *Generator {
	if sampleRate <= 0 {
		sampleRate = 8000
	}
	// Level is the RMS of a component relative to a full-scale sine,
	// whose RMS is 32767/√2; so the component's peak is 32767·10^(L/20).
	g := &Generator{
		rate: sampleRate,
		amp:  32767 * math.Pow(10, s.Level/20),
		ramp: sampleRate / 1000,
	}
	if g.amp > 32767 || math.IsNaN(g.amp) {
		g.amp = 32767
	}
	nyq := float64(sampleRate) / 2
	for _, f := range s.Freqs {
		if f > 0 && f < nyq {
			g.step = append(g.step, 2*math.Pi*f/float64(sampleRate))
		}
	}
	g.phase = make([]float64, len(g.step))
	if s.AM > 0 && s.AM < nyq {
		g.amStep = 2 * math.Pi * s.AM / float64(sampleRate)
	}
	if len(s.Cadence) > 0 {
		for _, d := range s.Cadence {
			n := max(0, int((int64(d)*int64(sampleRate)+int64(time.Second)/2)/int64(time.Second)))
			g.segs = append(g.segs, n)
			g.period += n
		}
		if len(g.segs)%2 == 1 {
			g.segs = append(g.segs, 0)
		}
		if g.period == 0 {
			g.segs = nil // a cadence of zero length: treat as continuous
		}
	}
	return g
}

// Sine returns a generator of one continuous tone of freq Hz at level
// dBFS.
func Sine(freq float64, sampleRate int, level float64) *Generator {
	return NewGenerator(Spec{Freqs: []float64{freq}, Level: level}, sampleRate)
}

// SampleRate returns the generator's sample rate.
func (g *Generator) SampleRate() int { return g.rate }

// Reset restarts the cadence and the phase from the beginning.
func (g *Generator) Reset() {
	g.pos = 0
	g.amPhase = 0
	for i := range g.phase {
		g.phase[i] = 0
	}
}

// gain returns the envelope at the current position: 0 in an off period,
// 1 in an on period, with a linear ramp over the first and last g.ramp
// samples of each burst.
func (g *Generator) gain() float64 {
	if g.segs == nil {
		return 1
	}
	p := g.pos
	for i, n := range g.segs {
		if p < n {
			if i%2 == 1 {
				return 0
			}
			r := g.ramp
			if 2*r > n {
				r = n / 2
			}
			if r == 0 {
				return 1
			}
			switch {
			case p < r:
				return float64(p+1) / float64(r+1)
			case p >= n-r:
				return float64(n-p) / float64(r+1)
			}
			return 1
		}
		p -= n
	}
	return 0
}

// NextFrame fills dst with the next len(dst) samples of the tone. The
// phase of every component runs on through off periods and across calls,
// so frames join without discontinuity whatever their size.
func (g *Generator) NextFrame(dst []int16) {
	for i := range dst {
		var v float64
		if k := g.gain(); k > 0 {
			for _, ph := range g.phase {
				v += math.Sin(ph)
			}
			v *= g.amp * k
			if g.amStep != 0 {
				v *= (1 + amDepth*math.Sin(g.amPhase)) / (1 + amDepth)
			}
		}
		for j := range g.phase {
			g.phase[j] += g.step[j]
			if g.phase[j] >= 2*math.Pi {
				g.phase[j] -= 2 * math.Pi
			}
		}
		if g.amStep != 0 {
			g.amPhase += g.amStep
			if g.amPhase >= 2*math.Pi {
				g.amPhase -= 2 * math.Pi
			}
		}
		if g.segs != nil {
			g.pos++
			if g.pos >= g.period {
				g.pos = 0
			}
		}
		dst[i] = clamp16(math.Round(v))
	}
}

func clamp16(v float64) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
