package tone

import "math"

// Detection thresholds used by Contains.
const (
	// minFraction is the share of the block's power (DC removed) that
	// must lie at the frequency. A pure tone gives about 1, each half of
	// a dual tone about 0.5, a tone under equal-power noise about 0.5.
	minFraction = 0.25
	// minRMS is the floor below which a block counts as silence: about
	// -50 dBFS, well under the quietest preset (-27 dBFS) and well above
	// G.711 idle noise (A-law decodes silence to ±8, -72 dBFS).
	minRMS = 100.0
	// minDuration is the shortest block Contains decides on, in seconds.
	minDuration = 0.010
)

// Goertzel returns the normalised power of freq in samples: the share of
// the block's signal power (after removing its mean) that lies at freq,
// from 0 to 1. A pure sine at freq gives about 1, silence or an empty
// block 0. freq need not fall on a DFT bin; the frequency resolution is
// about sampleRate/len(samples) Hz.
//
// The Goertzel recurrence s[n] = x[n] + 2cos(ω)s[n-1] - s[n-2] gives
// |X(ω)|² = s1² + s2² - 2cos(ω)s1·s2; for a sine of amplitude A over N
// samples |X|² ≈ (AN/2)² while Σx² ≈ NA²/2, so the ratio
// 2|X|²/(N·Σx²) is 1.
func Goertzel(samples []int16, freq float64, sampleRate int) float64 {
	n := len(samples)
	if n == 0 || sampleRate <= 0 || !(freq >= 0) || freq > float64(sampleRate)/2 {
		return 0
	}
	var mean float64
	for _, s := range samples {
		mean += float64(s)
	}
	mean /= float64(n)
	w := 2 * math.Pi * freq / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, s := range samples {
		x := float64(s) - mean
		energy += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	r := 2 * p / (float64(n) * energy)
	switch {
	case r < 0 || math.IsNaN(r):
		return 0
	case r > 1:
		return 1
	}
	return r
}

// Contains reports whether freq is clearly present in samples: the block
// is louder than silence (about -50 dBFS RMS), at least 10 ms long, and
// at least a quarter of its power lies at freq. A different tone, or
// noise, leaves only a small share at freq, so 440 Hz and 1000 Hz are
// told apart in a 20 ms block, and 425 Hz and 440 Hz in a 200 ms block.
// Each component of a dual tone counts as present.
func Contains(samples []int16, freq float64, sampleRate int) bool {
	if sampleRate <= 0 || float64(len(samples)) < minDuration*float64(sampleRate) {
		return false
	}
	var sum, sumSq float64
	for _, s := range samples {
		sum += float64(s)
		sumSq += float64(s) * float64(s)
	}
	n := float64(len(samples))
	mean := sum / n
	if sumSq/n-mean*mean < minRMS*minRMS {
		return false
	}
	return Goertzel(samples, freq, sampleRate) >= minFraction
}
