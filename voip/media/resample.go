package media

import "math"

// Halving and doubling the sample rate, for a wideband call (G.722, 16
// kHz) on an 8 kHz audio device, or a narrowband call on a 16 kHz one.
// Both use one half-band low-pass FIR (31 taps, cut at a quarter of the
// higher rate, Blackman window): it removes what the lower rate cannot
// carry before halving, and the images after doubling. Integer
// arithmetic (coefficients in Q15), no allocation after the first frame.

const (
	hbTaps   = 31
	hbCentre = hbTaps / 2
)

// hb holds the filter's coefficients in Q15.
var hb = func() (h [hbTaps]int32) {
	for n := range h {
		k := float64(n - hbCentre)
		sinc := 0.5
		if k != 0 {
			sinc = math.Sin(math.Pi*k/2) / (math.Pi * k)
		}
		w := 0.42 - 0.5*math.Cos(2*math.Pi*float64(n)/(hbTaps-1)) + 0.08*math.Cos(4*math.Pi*float64(n)/(hbTaps-1))
		h[n] = int32(math.Round(sinc * w * 32768))
	}
	return h
}()

func clamp16(x int32) int16 {
	return int16(min(max(x, -32768), 32767))
}

// resampler converts frames by a factor of two, keeping the filter's
// history between frames. The zero value is ready.
type resampler struct {
	hist [hbTaps - 1]int32 // the last input samples, oldest first
	buf  []int32           // history and the current frame
}

// load puts the history and in into r.buf and keeps in's tail as the
// next history; it returns r.buf.
func (r *resampler) load(in []int16) []int32 {
	n := len(r.hist) + len(in)
	if cap(r.buf) < n {
		r.buf = make([]int32, n)
	}
	b := r.buf[:n]
	copy(b, r.hist[:])
	for i, x := range in {
		b[len(r.hist)+i] = int32(x)
	}
	copy(r.hist[:], b[n-len(r.hist):])
	return b
}

// down writes to dst (len(in)/2 samples) the low half of in's band at
// half the rate.
func (r *resampler) down(dst, in []int16) {
	b := r.load(in)
	h := len(r.hist)
	for m := range dst {
		i := h + 2*m + 1 // the newest input sample of output m
		var acc int32
		for k := 0; k < hbTaps; k++ {
			acc += hb[k] * b[i-k]
		}
		dst[m] = clamp16((acc + 1<<14) >> 15)
	}
}

// up writes to dst (2*len(in) samples) in at twice the rate.
func (r *resampler) up(dst, in []int16) {
	b := r.load(in)
	h := len(r.hist)
	for j := range in {
		i := h + j
		var even, odd int32
		for k := 0; k < hbTaps; k += 2 {
			even += hb[k] * b[i-k/2]
		}
		for k := 1; k < hbTaps; k += 2 {
			odd += hb[k] * b[i-(k-1)/2]
		}
		// Doubling with zeros between the samples halves the level:
		// the gain of two puts it back (Q15 -> >> 14).
		dst[2*j] = clamp16((even + 1<<13) >> 14)
		dst[2*j+1] = clamp16((odd + 1<<13) >> 14)
	}
}
