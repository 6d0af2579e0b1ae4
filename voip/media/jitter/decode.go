package jitter

import "time"

// Decoding in sequence. G.722's ADPCM and Opus keep state from packet to
// packet, so each must be decoded after the one before it. Packets
// arrive reordered, though; the buffer decodes a packet on arrival only
// when it is the next after the last one decoded (or the first), and
// holds one that arrives ahead of a gap as its payload. A held packet is
// decoded as soon as the gap fills (the missing packet arrives and is
// decoded, then every held packet that follows it in sequence), or when
// playout reaches it with the gap still open: the missing packets are
// then lost to the decoder, as they are to the listener.
//
// In order, nothing is copied and nothing allocates; a held payload is
// copied into its slot's own buffer, which is kept for the next one.

// holdsLocked reports whether a packet with sequence number seq arrives
// ahead of a gap: packets between the last one decoded and it are
// missing. A packet far off (a new sequence) or behind (already
// overtaken) is decoded at once.
func (b *Buffer) holdsLocked(seq uint16) bool {
	d := seq - b.decSeq
	return b.decOK && d >= 2 && d < nSlots
}

// InOrder reports whether a packet with sequence number seq would be
// decoded at once by Push: nothing is held back waiting for packets
// before it. A caller that decodes frames itself for lost packets (in-band
// FEC) pushes them with PushFrame only then, so the decoder's state stays
// in order.
func (b *Buffer) InOrder(seq uint16) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.holdsLocked(seq)
}

// PushFrame is Push for a lost packet's frame that decode makes now,
// under the buffer's lock: audio recovered from the next packet's
// in-band FEC, or the codec's own concealment. decode appends to dst
// and returns the extended slice. The frame takes seq's place in the
// decoding sequence.
func (b *Buffer) PushFrame(seq uint16, ts uint32, arrival time.Time, decode func(dst []int16) []int16) Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pushLocked(seq, ts, false, nil, decode, arrival)
}

// decodeHeldLocked decodes a held packet into its slot. A payload that
// decodes to nothing or too much is dropped (counted invalid) and false
// is returned.
func (b *Buffer) decodeHeldLocked(s *slot) bool {
	pcm := b.decode(s.pcm[:0], s.enc)
	b.decSeq, b.decOK = s.seq, true
	s.held = false
	if len(pcm) == 0 || len(pcm) > b.maxPkt {
		s.used, s.played = false, true
		b.st.Invalid++
		return false
	}
	s.pcm, s.n = pcm, len(pcm)
	b.pkt = s.n
	if end := s.ts + uint32(s.n); int32(end-b.newest) > 0 {
		b.newest = end
	}
	return true
}

// chainLocked decodes the held packets that follow the last one decoded
// in unbroken sequence from next.
func (b *Buffer) chainLocked(next uint16) {
	for {
		s := &b.slots[next%nSlots]
		if !s.used || !s.held || s.seq != next {
			return
		}
		b.decodeHeldLocked(s)
		next++
	}
}
