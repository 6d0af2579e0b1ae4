package media

import (
	"net/netip"
	"time"
)

// Symmetric RTP latching (see the package documentation).
const (
	// LatchQuiet is how long the latched source must have sent nothing
	// before another source may take its place.
	LatchQuiet = 300 * time.Millisecond
	// LatchProbation is how long a source other than the signalled one
	// must stream, alone, before the first latch goes to it.
	LatchProbation = 200 * time.Millisecond
	// RelatchInterval is the least time between two moves of the latch,
	// except moves to the signalled address.
	RelatchInterval = time.Second

	probationRun = 3 // consecutive sequence numbers for a first latch onto an unknown source
	relatchRun   = 2 // consecutive sequence numbers for a move to a continuing source
)

// latch chooses the far end's RTP source: the one whose packets are
// played and to which RTP is sent. It does no I/O; the session calls
// offer under its lock for every valid RTP packet.
type latch struct {
	remote netip.AddrPort // the SDP address, zero when unusable (hold, unknown)

	cur   netip.AddrPort // the latched source, zero before the first latch
	ssrc  uint32         // its last SSRC
	seq   uint16         // and sequence number
	heard time.Time      // its last packet
	moved time.Time      // the last latch or move

	probe probe

	// Counters; they survive reset (a re-INVITE).
	moves     int
	from, to  netip.AddrPort // the last move
	strangers uint64         // packets refused as not from the latched source
}

// probe is the one source on trial to become the latch: an unknown
// source before the first latch, or a source continuing the latched
// stream after it.
type probe struct {
	addr     netip.AddrPort
	ssrc     uint32
	seq      uint16
	run      int // consecutive sequence numbers so far
	first    time.Time
	last     time.Time
	conflict time.Time // another source was on trial at the same time
}

// reset forgets the latch (new SDP); the counters stay.
func (l *latch) reset(remote netip.AddrPort) {
	if !usable(remote) {
		remote = netip.AddrPort{}
	}
	*l = latch{remote: remote, moves: l.moves, from: l.from, to: l.to, strangers: l.strangers}
}

// sdpIP reports whether src has the signalled address's IP.
func (l *latch) sdpIP(src netip.AddrPort) bool {
	return l.remote.IsValid() && src.Addr() == l.remote.Addr()
}

// offer decides about one valid RTP packet from src: it reports whether
// the packet is from the latched source (after any move it causes).
func (l *latch) offer(src netip.AddrPort, ssrc uint32, seq uint16, now time.Time) bool {
	switch {
	case src == l.cur:
		l.ssrc, l.seq, l.heard = ssrc, seq, now
		return true
	case l.remote.IsValid() && src == l.remote:
		// The signalled address wins at once, always.
		l.move(src, ssrc, seq, now)
		return true
	case !l.cur.IsValid() && l.sdpIP(src):
		// The signalled IP from another port: a NAT that translates
		// ports, in front of a far end that learnt its IP by STUN.
		l.move(src, ssrc, seq, now)
		return true
	case l.cur.IsValid() && !l.continues(src, ssrc, seq):
		l.strangers++
		return false
	}
	if !l.trial(src, ssrc, seq, now) {
		l.strangers++
		return false
	}
	l.move(src, ssrc, seq, now)
	return true
}

// continues reports whether a packet from src, not the latched source,
// may carry on the latched stream: it has the signalled address's IP, or
// the latched SSRC with a sequence number a little ahead of the last one
// (RFC 3550 A.1's dropout bound).
func (l *latch) continues(src netip.AddrPort, ssrc uint32, seq uint16) bool {
	if l.sdpIP(src) {
		return true
	}
	d := seq - l.seq
	return ssrc == l.ssrc && d >= 1 && d < maxDropout
}

// trial puts src on trial and reports whether it has now proved itself.
// Two sources on trial at once (within LatchQuiet of each other) are
// ambiguous: neither wins until one of them stops.
func (l *latch) trial(src netip.AddrPort, ssrc uint32, seq uint16, now time.Time) bool {
	p := &l.probe
	switch {
	case p.addr != src:
		if p.addr.IsValid() && now.Sub(p.last) < LatchQuiet {
			p.conflict = now
			return false
		}
		*p = probe{addr: src, ssrc: ssrc, seq: seq, run: 1, first: now, last: now}
	case ssrc != p.ssrc:
		*p = probe{addr: src, ssrc: ssrc, seq: seq, run: 1, first: now, last: now, conflict: p.conflict}
	default:
		if seq == p.seq+1 {
			p.run++
		} else {
			p.run = 1
		}
		p.seq, p.last = seq, now
	}
	if !p.conflict.IsZero() && now.Sub(p.conflict) < LatchQuiet {
		return false
	}
	if !l.cur.IsValid() {
		return p.run >= probationRun && now.Sub(p.first) >= LatchProbation
	}
	return p.run >= relatchRun && now.Sub(l.heard) >= LatchQuiet && now.Sub(l.moved) >= RelatchInterval
}

// move latches onto src.
func (l *latch) move(src netip.AddrPort, ssrc uint32, seq uint16, now time.Time) {
	if l.cur.IsValid() {
		l.moves++
		l.from, l.to = l.cur, src
	}
	l.cur, l.ssrc, l.seq, l.heard, l.moved = src, ssrc, seq, now, now
	l.probe = probe{}
}
