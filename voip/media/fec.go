package media

import (
	"sync"
	"time"

	"github.com/deskphone/phone/voip/codec"
)

// In-band FEC on receive (Opus, RFC 7587 §3.3): when exactly one audio
// packet is missing before the one that arrived, the lost frame is
// recovered from the redundant copy the arrived packet carries and put
// into the jitter buffer in its place, before the arrived packet itself is
// decoded (so the decoder sees the frames in order). Other losses are
// concealed by the jitter buffer.

// fecDecoder is implemented by codecs with in-band FEC (Opus).
type fecDecoder interface {
	// DecodeFEC appends n samples recovered for the packet before next.
	DecodeFEC(dst []int16, next []byte, n int) []int16
}

// maxFEC is the longest frame recovered: 120 ms at 48 kHz, in samples.
const maxFEC = 5760

// rxDecoder is the jitter buffer's Decode: the codec's, or its FEC decoder
// while a recovered frame is pushed.
type rxDecoder struct {
	mu       sync.Mutex // held across a push; guards following
	codec    codec.Codec
	fec      fecDecoder // nil: the codec has no FEC
	n        int        // > 0 while a recovery is pushed: FEC for n samples
	ok       bool       // the fields below are set
	lastSeq  uint16     // of the last accepted RTP packet (audio or not)
	audioSeq uint16     // of the last audio packet pushed
	audioTS  uint32     // its sample timestamp
	recov    uint64     // frames recovered
}

func newRxDecoder(c codec.Codec) *rxDecoder {
	d := &rxDecoder{codec: c}
	d.fec, _ = c.(fecDecoder)
	return d
}

// decode is called by the jitter buffer inside Push, under d.mu.
func (d *rxDecoder) decode(dst []int16, payload []byte) []int16 {
	if d.n > 0 {
		return d.fec.DecodeFEC(dst, payload, d.n)
	}
	return d.codec.Decode(dst, payload)
}

// pushAudio puts one received audio packet into the jitter buffer, after
// the frame recovered for its predecessor when that alone was lost.
func (s *Session) pushAudio(seq uint16, sampleTS uint32, marker bool, payload []byte, newStream bool, now time.Time) {
	d := s.rxd
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fec != nil && d.ok && !newStream && !marker && seq == d.lastSeq+2 && d.audioSeq == d.lastSeq {
		// One packet missing between two audio packets: recover it, as
		// long as the gap is two equal frames.
		gap := int(int32(sampleTS - d.audioTS))
		if n := gap / 2; gap > 0 && gap%2 == 0 && n <= maxFEC {
			d.n = n
			s.jb.Push(seq-1, d.audioTS+uint32(n), false, payload, now)
			d.n = 0
			d.recov++
		}
	}
	s.jb.Push(seq, sampleTS, marker, payload, now)
	d.audioSeq, d.audioTS = seq, sampleTS
	d.lastSeq, d.ok = seq, true
}

// sawPacket records a received packet that is not audio (DTMF, comfort
// noise), so a gap it fills is not taken for a loss.
func (s *Session) sawPacket(seq uint16) {
	s.rxd.mu.Lock()
	s.rxd.lastSeq, s.rxd.ok = seq, true
	s.rxd.mu.Unlock()
}

// fecRecovered is the number of lost frames recovered from in-band FEC.
func (s *Session) fecRecovered() uint64 {
	s.rxd.mu.Lock()
	defer s.rxd.mu.Unlock()
	return s.rxd.recov
}
