package media

import (
	"errors"
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

// Errors from ParseCN.
var (
	// ErrBadCN is wrapped by ParseCN for a payload that is not RFC 3389.
	ErrBadCN = errors.New("media: bad comfort-noise payload")
)

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
func (s *Session) handleCN(payload []byte, ts uint32) {
	p, err := ParseCN(payload)
	if err != nil {
		return
	}
	var k [jitter.MaxNoiseOrder]float64
	s.jb.SetNoise(ts*uint32(s.spt), p.noise(k[:]))
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
	buf    [1]byte
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
		return true, nil
	}
	if c.silent && ts-c.lastTS < c.every {
		return false, nil
	}
	c.silent, c.lastTS = true, ts
	c.sent++
	b := CNPayload{Level: c.vad.noiseLevel()}.AppendTo(c.buf[:0])
	return false, s.sendRTPLocked(s.cnPT, false, ts, b, now)
}
