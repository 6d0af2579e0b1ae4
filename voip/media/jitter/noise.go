package jitter

import "math"

// MaxNoiseOrder is the highest order of the all-pole noise model the
// comfort noise generator synthesises (RFC 3389 §3.2 leaves the order
// open; G.711 Appendix II uses 10).
const MaxNoiseOrder = 32

// Noise describes comfort noise (RFC 3389): its level and the spectral
// envelope of an all-pole model given by reflection coefficients.
type Noise struct {
	// RMS is the level as the root mean square of the 16-bit samples.
	RMS float64
	// K are the reflection coefficients k1..kM, each in (-1, 1); empty
	// means white noise. Values are clamped to ±0.99 (stability).
	K []float64
}

// noiseGen synthesises comfort noise: white excitation from a xorshift
// generator through an all-pole lattice filter, scaled so that the output
// has the requested RMS level. It keeps its filter state across updates
// so a new level or spectrum does not click.
type noiseGen struct {
	on    bool
	from  uint32 // sample timestamp from which gaps are filled with noise
	gain  float64
	order int
	k     [MaxNoiseOrder]float64
	b     [MaxNoiseOrder + 1]float64 // lattice backward state b_0..b_M at n-1
	rng   uint32
}

// set installs a level and spectrum. The gain makes the output RMS
// equal n.RMS: an all-pole filter with reflection coefficients k_i
// raises the power of unit white noise by 1/prod(1-k_i^2), and the
// excitation is uniform on [-1, 1) (variance 1/3).
func (g *noiseGen) set(n Noise) {
	if g.rng == 0 {
		g.rng = 0x9E3779B9
	}
	g.order = min(len(n.K), MaxNoiseOrder)
	pred := 1.0
	for i := range g.order {
		k := max(-0.99, min(0.99, n.K[i]))
		if math.IsNaN(k) {
			k = 0
		}
		g.k[i] = k
		pred *= 1 - k*k
	}
	rms := n.RMS
	if math.IsNaN(rms) || rms < 0 {
		rms = 0
	}
	g.gain = math.Min(rms, 32767) * math.Sqrt(3*pred)
}

// fill writes comfort noise into out.
func (g *noiseGen) fill(out []int16) {
	for i := range out {
		g.rng ^= g.rng << 13
		g.rng ^= g.rng >> 17
		g.rng ^= g.rng << 5
		e := (float64(g.rng)/(1<<31) - 1) * g.gain
		// All-pole lattice: f_M = e; f_{i-1} = f_i - k_i b_{i-1}(n-1);
		// b_i(n) = k_i f_{i-1} + b_{i-1}(n-1); the output is f_0 = b_0(n).
		f := e
		for j := g.order; j >= 1; j-- {
			f -= g.k[j-1] * g.b[j-1]
			g.b[j] = g.k[j-1]*f + g.b[j-1]
		}
		g.b[0] = f
		out[i] = int16(max(-32768, min(32767, math.Round(f))))
	}
}

// SetNoise has every gap from sample timestamp ts on (what would be loss
// concealment or silence) filled with comfort noise n, until audio from
// after ts is played, Reset, or StopNoise. A call while noise plays only
// updates the level and spectrum (an RFC 3389 SID update). Before the
// first packet, NextFrame plays the noise too.
func (b *Buffer) SetNoise(ts uint32, n Noise) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.noise.on {
		b.noise.from = ts
	}
	b.noise.on = true
	b.noise.set(n)
}

// StopNoise ends comfort noise: gaps are concealed again.
func (b *Buffer) StopNoise() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.noise.on = false
}

// noiseFromLocked is how many of the n samples of a gap starting at
// sample timestamp ts come before the comfort noise (n when there is
// none).
func (b *Buffer) noiseFromLocked(ts uint32, n int) int {
	if !b.noise.on {
		return n
	}
	if d := int(int32(b.noise.from - ts)); b.started && d > 0 {
		return min(d, n)
	}
	return 0
}

// noiseLocked fills out with comfort noise.
func (b *Buffer) noiseLocked(out []int16) {
	if len(out) == 0 {
		return
	}
	b.noise.fill(out)
	// Noise replaces concealment: the concealer starts afresh from the
	// noise when the next loss comes, and does not cross-fade its stale
	// pitch period into the next talkspurt.
	b.plc.concealing = false
	b.plc.remember(out)
	b.st.Noise += uint64(len(out))
}

// voiceLocked notes that audio with sample timestamp ts is played: audio
// after the start of the noise ends it.
func (b *Buffer) voiceLocked(ts uint32) {
	if b.noise.on && int32(ts-b.noise.from) > 0 {
		b.noise.on = false
	}
}
