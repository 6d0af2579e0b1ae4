package jitter

import "math"

// plc is a packet loss concealer in the spirit of ITU-T G.711 Appendix I:
// pitch-period repetition with a linear fade and an overlap-add back into
// real audio. It keeps the recent history of good (or concealed) output.
type plc struct {
	hist     []int16 // the last len(hist) output samples, oldest first
	histN    int     // how many of hist are valid (from the end)
	pitchMin int     // shortest pitch lag searched (5 ms)
	pitchMax int     // longest pitch lag searched (15 ms)
	fadeFrom int     // concealed samples played at full level (10 ms)
	fadeEnd  int     // concealed samples after which output is silence (60 ms)
	olaLen   int     // cross-fade length when audio resumes (4 ms)

	concealing bool
	lost       int     // samples concealed in the current loss
	period     int     // pitch period in use
	pos        int     // read position inside pitchBuf
	pitchBuf   []int16 // the last period of history, repeated
}

func newPLC(rate int) plc {
	p := plc{
		pitchMin: rate / 200,
		pitchMax: rate * 15 / 1000,
		fadeFrom: rate / 100,
		fadeEnd:  rate * 60 / 1000,
		olaLen:   rate / 250,
	}
	p.hist = make([]int16, rate*39/800) // 48.75 ms, as in G.711 Appendix I
	p.pitchBuf = make([]int16, p.pitchMax)
	return p
}

// reset forgets the history (a new stream).
func (p *plc) reset() {
	p.histN = 0
	p.concealing = false
	p.lost = 0
}

// gain is the attenuation after k concealed samples: 1 for the first
// 10 ms, then falling by 20 % per 10 ms to 0 at 60 ms.
func (p *plc) gain(k int) float64 {
	if k < p.fadeFrom {
		return 1
	}
	if k >= p.fadeEnd {
		return 0
	}
	return 1 - float64(k-p.fadeFrom)/float64(p.fadeEnd-p.fadeFrom)
}

// synth returns the next concealment sample and advances the state.
func (p *plc) synth() int16 {
	var v int16
	if p.period > 0 {
		if g := p.gain(p.lost); g > 0 {
			v = int16(math.Round(float64(p.pitchBuf[p.pos]) * g))
		}
		p.pos++
		if p.pos == p.period {
			p.pos = 0
		}
	}
	p.lost++
	return v
}

// conceal fills out with synthetic audio continuing the history. It
// reports how many of the samples were not plain silence.
func (p *plc) conceal(out []int16) (synthetic int) {
	if p.histN == 0 {
		clear(out) // nothing heard yet: plain silence
		return 0
	}
	if !p.concealing {
		p.start()
	}
	for i := range out {
		if p.period > 0 && p.lost < p.fadeEnd {
			synthetic++
		}
		out[i] = p.synth()
	}
	p.remember(out)
	return synthetic
}

// start begins a loss: pick the pitch period and copy the last period.
func (p *plc) start() {
	p.concealing = true
	p.lost = 0
	p.pos = 0
	p.period = 0
	if p.histN == 0 {
		return
	}
	p.period = p.findPitch()
	copy(p.pitchBuf[:p.period], p.hist[len(p.hist)-p.period:])
}

// findPitch picks the lag in [pitchMin, pitchMax] with the highest
// normalised autocorrelation over the most recent pitchMax samples.
func (p *plc) findPitch() int {
	h := p.hist
	n := len(h)
	win := p.pitchMax
	if p.histN < win+p.pitchMax {
		// Too little history for a search: repeat what there is.
		return max(1, min(p.histN, p.pitchMin))
	}
	best, bestLag := math.Inf(-1), p.pitchMin
	for lag := p.pitchMin; lag <= p.pitchMax; lag++ {
		var c, e float64
		for i := n - win; i < n; i++ {
			a, b := float64(h[i]), float64(h[i-lag])
			c += a * b
			e += b * b
		}
		score := c / math.Sqrt(e+1)
		if score > best {
			best, bestLag = score, lag
		}
	}
	return bestLag
}

// good records real audio already written to out; after a loss it first
// cross-fades the synthetic signal into it (overlap-add).
func (p *plc) good(out []int16) {
	if p.concealing {
		k := min(p.olaLen, len(out))
		for i := 0; i < k; i++ {
			w := float64(i+1) / float64(k+1)
			s := float64(p.synth())
			out[i] = int16(math.Round(s*(1-w) + float64(out[i])*w))
		}
		p.concealing = false
	}
	p.remember(out)
}

// remember appends samples to the history.
func (p *plc) remember(s []int16) {
	n := len(p.hist)
	if len(s) >= n {
		copy(p.hist, s[len(s)-n:])
		p.histN = n
		return
	}
	copy(p.hist, p.hist[len(s):])
	copy(p.hist[n-len(s):], s)
	p.histN = min(n, p.histN+len(s))
}
