package media

// The session keeps RTP time in clock ticks and audio in samples. Their
// ratio is an integer either way: G.711 one sample a tick, G.722 two
// samples a tick (16 kHz audio, 8000 Hz clock), Opus three ticks a sample
// (16 kHz audio, 48000 Hz clock, RFC 7587 §4.1).

// rateRatioOK reports whether a codec sampling at srate on a rate Hz
// clock fits the model: one rate an integer multiple of the other.
func rateRatioOK(srate, rate int) bool {
	if srate <= 0 || rate <= 0 {
		return false
	}
	if srate >= rate {
		return srate%rate == 0
	}
	return rate%srate == 0
}

// ticksOf is the number of clock ticks n audio samples span.
func (s *Session) ticksOf(n int) int { return int(int64(n) * int64(s.rate) / int64(s.srate)) }

// samplesOf is the number of audio samples n clock ticks span.
func (s *Session) samplesOf(n int) int { return int(int64(n) * int64(s.srate) / int64(s.rate)) }

// tsAnchor maps received RTP timestamps to the jitter buffer's sample
// clock where the clock is faster than the audio (Opus): a product is
// exact mod 2^32, a quotient is not, so timestamps are converted as
// differences from the last exactly converted one.
type tsAnchor struct {
	ok     bool
	ts     uint32 // an RTP timestamp
	sample uint32 // its position on the sample clock
}

// rxSampleLocked converts the RTP timestamp of a received packet to the
// jitter buffer's sample clock; newStream starts a new mapping (a new
// SSRC).
func (s *Session) rxSampleLocked(ts uint32, newStream bool) uint32 {
	if s.srate >= s.rate {
		return ts * uint32(s.srate/s.rate) // differences stay exact mod 2^32
	}
	div := int64(s.rate / s.srate)
	if newStream || !s.rxAnchor.ok {
		s.rxAnchor = tsAnchor{ok: true, ts: ts, sample: ts / uint32(div)}
		return s.rxAnchor.sample
	}
	d := int64(int32(ts - s.rxAnchor.ts)) // ticks from the anchor, signed
	sample := s.rxAnchor.sample + uint32(d/div)
	if d%div == 0 || d > 1<<30 || d < -(1<<30) {
		s.rxAnchor = tsAnchor{ok: true, ts: ts, sample: sample}
	}
	return sample
}
