package media

import (
	"sync"
	"time"

	"github.com/deskphone/phone/voip/codec"
)

// In-band FEC on receive (Opus, RFC 7587 §3.3): when audio packets are
// missing before the one that arrived, the last lost frame is recovered
// from the redundant copy the arrived packet carries, and any before it
// (up to maxConceal) are concealed by the codec itself; these frames go
// into the jitter buffer in the lost packets' places before the arrived
// packet is decoded, so the decoder sees the frames in order. Longer gaps
// are concealed by the jitter buffer.

// fecDecoder is implemented by codecs with in-band FEC and their own
// loss concealment (Opus).
type fecDecoder interface {
	// DecodeFEC appends n samples recovered for the packet before next.
	DecodeFEC(dst []int16, next []byte, n int) []int16
	// Conceal appends n samples of concealment for a lost packet.
	Conceal(dst []int16, n int) []int16
}

// maxConceal is the most lost packets before the FEC-recovered one that
// the codec conceals on arrival; after a longer gap the jitter buffer's
// concealment has played (or will play) the gap anyway.
const maxConceal = 4

// maxFEC is the longest frame recovered: 120 ms at 48 kHz, in samples.
const maxFEC = 5760

// rxDecoder is the jitter buffer's Decode (the codec's), and the FEC
// decoder of the frames recovered for lost packets (PushFrame). The
// buffer calls both under its own lock, in sequence order, so the codec
// is never used by two goroutines at once.
type rxDecoder struct {
	mu       sync.Mutex // held across a push; guards following
	codec    codec.Codec
	fec      fecDecoder            // nil: the codec has no FEC
	frameFn  func([]int16) []int16 // d.frame, made once (no allocation per loss)
	n        int                   // while a recovery is pushed: FEC for n samples
	conceal  bool                  // with n: the codec's concealment instead of FEC
	next     []byte                // with n: the arrived packet, which carries the FEC
	ok       bool                  // the fields below are set
	lastSeq  uint16                // of the last accepted RTP packet (audio or not)
	audioSeq uint16                // of the last audio packet pushed
	audioTS  uint32                // its sample timestamp
	recov    uint64                // frames recovered from FEC
	conc     uint64                // frames concealed by the codec
}

func newRxDecoder(c codec.Codec) *rxDecoder {
	d := &rxDecoder{codec: c}
	d.fec, _ = c.(fecDecoder)
	d.frameFn = d.frame
	return d
}

// decode is the jitter buffer's Decode: the codec's, called under the
// buffer's lock in sequence order, on arrival or at playout.
func (d *rxDecoder) decode(dst []int16, payload []byte) []int16 {
	return d.codec.Decode(dst, payload)
}

// frame is PushFrame's decode while pushAudio recovers a lost frame
// (under d.mu, called at once inside PushFrame).
func (d *rxDecoder) frame(dst []int16) []int16 {
	if d.conceal {
		return d.fec.Conceal(dst, d.n)
	}
	return d.fec.DecodeFEC(dst, d.next, d.n)
}

// pushAudio puts one received audio packet into the jitter buffer, after
// the frame recovered for its predecessor when that alone was lost.
func (s *Session) pushAudio(seq uint16, sampleTS uint32, marker bool, payload []byte, newStream bool, now time.Time) {
	d := s.rxd
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := int(seq - d.lastSeq); d.fec != nil && d.ok && !newStream && !marker &&
		k >= 2 && k <= maxConceal+2 && d.audioSeq == d.lastSeq && s.jb.InOrder(d.lastSeq+1) {
		// k-1 packets missing between two audio packets: conceal all but
		// the last, recover that one, as long as the gap is k equal
		// frames, and the decoder has had every packet before the gap.
		gap := int(int32(sampleTS - d.audioTS))
		if n := gap / k; gap > 0 && gap%k == 0 && n <= maxFEC {
			for i := 1; i < k; i++ {
				d.n, d.conceal, d.next = n, i < k-1, payload
				if d.conceal {
					d.conc++
				}
				s.jb.PushFrame(d.lastSeq+uint16(i), d.audioTS+uint32(i*n), now, d.frameFn)
			}
			d.n, d.conceal, d.next = 0, false, nil
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

// lossStats are the lost frames recovered from in-band FEC and those
// the codec concealed.
func (s *Session) lossStats() (recovered, concealed uint64) {
	s.rxd.mu.Lock()
	defer s.rxd.mu.Unlock()
	return s.rxd.recov, s.rxd.conc
}
