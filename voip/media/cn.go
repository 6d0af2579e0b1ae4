package media

import (
	"fmt"
	"math"
	"time"

	"github.com/deskphone/phone/voip/media/jitter"
)

// CNPayload is an RFC 3389 comfort-noise payload (a SID frame, §3):
//
//	 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7       0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-   -+-+-+-+-+-+-+-+-+
//	|0|    level    |      N1       | ... |      NM       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-   -+-+-+-+-+-+-+-+-+
//
// The level is the noise level in -dBov (§3.1: 0 is the overload point,
// 127 the quietest); N1..NM are the optional quantised reflection
// coefficients of an all-pole model of the noise, ki = (Ni-127)/128
// (§3.2), the model order M being the payload length less one.
type CNPayload struct {
	Level  uint8   // noise level, 0..127 -dBov
	Coeffs []uint8 // quantised reflection coefficients N1..NM; may be empty
}

// cnFullScale is 0 dBov in 16-bit samples: RFC 3389 §3.1 refers the
// level to a square wave at the overload point, ±8031 in µ-law's 14-bit
// range, which is ±32124 in 16 bits (its RMS is the same value).
const cnFullScale = 32124

// ParseCN decodes a comfort-noise payload. It is an error for the
// payload to be empty, for the level byte's reserved top bit to be set,
// or for it to carry more coefficients than jitter.MaxNoiseOrder. The
// returned Coeffs alias b.
func ParseCN(b []byte) (CNPayload, error) {
	switch {
	case len(b) == 0:
		return CNPayload{}, fmt.Errorf("%w: empty", ErrBadCN)
	case b[0]&0x80 != 0:
		return CNPayload{}, fmt.Errorf("%w: level byte %#02x has the reserved bit set", ErrBadCN, b[0])
	case len(b)-1 > jitter.MaxNoiseOrder:
		return CNPayload{}, fmt.Errorf("%w: model order %d above %d", ErrBadCN, len(b)-1, jitter.MaxNoiseOrder)
	}
	return CNPayload{Level: b[0], Coeffs: b[1:]}, nil
}

// AppendTo appends the wire form of p to b (the level capped at 127).
func (p CNPayload) AppendTo(b []byte) []byte {
	return append(append(b, min(p.Level, 127)), p.Coeffs...)
}

// RMS is the noise level as the RMS of 16-bit samples.
func (p CNPayload) RMS() float64 {
	return cnFullScale * math.Pow(10, -float64(p.Level&0x7F)/20)
}

// noise converts p for the jitter buffer's generator, writing the
// reflection coefficients into k (at least jitter.MaxNoiseOrder long).
func (p CNPayload) noise(k []float64) jitter.Noise {
	n := min(len(p.Coeffs), len(k))
	for i, c := range p.Coeffs[:n] {
		k[i] = (float64(c) - 127) / 128
	}
	return jitter.Noise{RMS: p.RMS(), K: k[:n]}
}

// CNLevel is the RFC 3389 level byte (-dBov, 0..127) of a noise whose
// samples have the given RMS.
func CNLevel(rms float64) uint8 {
	if rms <= 0 {
		return 127
	}
	db := -20 * math.Log10(rms/cnFullScale)
	return uint8(max(0, min(127, math.Round(db))))
}

// cnInterval is how often a silent sender repeats its comfort-noise
// packet (a SID update) while VAD holds the voice back.
const cnInterval = 200 // ms

// handleCN plays a received comfort-noise packet, whose payload ParseCN
// accepted: gaps in playout from its timestamp on are filled with noise
// at its level until voice resumes (or the next CN updates the level).
// Called on the receive path, outside s.mu.
func (s *Session) handleCN(payload []byte, sampleTS uint32) {
	p, err := ParseCN(payload)
	if err != nil {
		return
	}
	var k [jitter.MaxNoiseOrder]float64
	s.jb.SetNoise(sampleTS, p.noise(k[:]))
}

// cnSender is the sending side of silence suppression: the VAD decides,
// silence goes out as a CN packet at its start and every cnInterval
// after, and the first voice packet after it carries the marker bit
// (RFC 3551 §4.1, a new talkspurt). Guarded by Session.mu.
type cnSender struct {
	on     bool
	vad    vad
	silent bool   // in silence: a CN packet was sent since the last voice
	lastTS uint32 // timestamp of the last CN packet
	every  uint32 // RTP clock ticks between CN packets
	sent   uint64
	acf    [cnOrder + 1]float64 // autocorrelation of the silence since the last CN
	buf    [1 + cnOrder]byte
}

func newCNSender(on bool, sampleRate, clockRate int) cnSender {
	return cnSender{on: on, vad: newVAD(sampleRate), every: uint32(clockRate * cnInterval / 1000)}
}

// silenceLocked runs the VAD on one frame about to be sent at timestamp
// ts. It reports whether the frame goes out as voice; when not, it may
// have sent a CN packet in its place.
func (s *Session) silenceLocked(pcm []int16, ts uint32, now time.Time) (bool, error) {
	c := &s.cnTx
	if c.vad.active(pcm) {
		if c.silent {
			s.marker = true
			c.silent = false
		}
		c.acf = [cnOrder + 1]float64{}
		return true, nil
	}
	autocorrelate(&c.acf, pcm)
	if c.silent && ts-c.lastTS < c.every {
		return false, nil
	}
	c.silent, c.lastTS = true, ts
	c.sent++
	p := CNPayload{Level: c.vad.noiseLevel()}
	var q [cnOrder]byte
	if k, ok := reflection(&c.acf); ok {
		for i, ki := range k {
			q[i] = byte(max(0, min(255, math.Round(ki*128+127))))
		}
		p.Coeffs = q[:]
	}
	c.acf = [cnOrder + 1]float64{}
	b := p.AppendTo(c.buf[:0])
	return false, s.sendRTPLocked(s.cnPT, false, ts, b, now)
}

// cnOrder is the order of the noise spectrum we send, as in G.711
// Appendix II (RFC 3389 §3.2).
const cnOrder = 10

// autocorrelate adds the autocorrelation of pcm at lags 0..cnOrder to r.
func autocorrelate(r *[cnOrder + 1]float64, pcm []int16) {
	for lag := range r {
		var sum float64
		for i := lag; i < len(pcm); i++ {
			sum += float64(pcm[i]) * float64(pcm[i-lag])
		}
		r[lag] += sum
	}
}

// reflection runs the Levinson-Durbin recursion on the autocorrelation
// r and returns the reflection coefficients of the all-pole model in the
// convention of RFC 3389 (and of the generator in package jitter): the
// prediction error filter A(z) = 1 + a1 z^-1 + ..., built by the step-up
// recursion, has a_i = k_i at order i, so positively correlated (low
// frequency) noise gives a negative k1. It reports false for silence or
// a model that is not stable.
func reflection(r *[cnOrder + 1]float64) ([cnOrder]float64, bool) {
	var k [cnOrder]float64
	e := r[0] * 1.0001 // a -40 dB noise floor keeps the recursion well conditioned
	if e <= 0 {
		return k, false
	}
	var a, prev [cnOrder + 1]float64
	a[0] = 1
	for i := 1; i <= cnOrder; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		ki := -acc / e
		if math.Abs(ki) >= 1 || math.IsNaN(ki) {
			return k, false
		}
		prev = a
		for j := 1; j < i; j++ {
			a[j] = prev[j] + ki*prev[i-j]
		}
		a[i] = ki
		k[i-1] = ki
		e *= 1 - ki*ki
	}
	return k, true
}
