package jitter

import (
	"errors"
	"sync"
	"time"
)

// nSlots is the number of packets the buffer can hold; slots are indexed
// by sequence number modulo nSlots. At 20 ms per packet that is 1.28 s.
const nSlots = 64

// stableWindows is how many one-second windows without a late packet pass
// before the target delay starts to shrink.
const stableWindows = 3

// maxLateRun is how many packets in a row may be late before the buffer
// re-anchors on the stream instead of dropping them.
const maxLateRun = 5

// ErrNoDecoder is returned by New when Config.Decode is nil.
var ErrNoDecoder = errors.New("jitter: Config.Decode is required")

// Config configures a Buffer. Zero fields take the documented defaults.
type Config struct {
	// ClockRate is the RTP clock rate and output sample rate; default 8000.
	ClockRate int
	// MinDelay and MaxDelay bound the target delay; defaults 20 ms and 200 ms.
	MinDelay, MaxDelay time.Duration
	// Decode appends the samples decoded from one RTP payload to dst,
	// e.g. codec.PCMU.Decode. Required.
	Decode func(dst []int16, payload []byte) []int16
	// MaxPacketSamples is the largest packet accepted, in samples;
	// default 240 ms worth.
	MaxPacketSamples int
}

// Result says what Push did with a packet.
type Result int

const (
	Accepted  Result = iota // stored for playout
	Late                    // all its samples were due before the playout point: dropped
	Duplicate               // the same sequence number is still buffered: dropped
	Invalid                 // empty or oversized payload: dropped
)

func (r Result) String() string {
	switch r {
	case Accepted:
		return "accepted"
	case Late:
		return "late"
	case Duplicate:
		return "duplicate"
	case Invalid:
		return "invalid"
	}
	return "result?"
}

// Stats are the buffer's counters and current state.
type Stats struct {
	Pushed     uint64        // packets accepted
	Late       uint64        // packets dropped because they arrived after their playout time
	Duplicates uint64        // packets dropped as duplicates
	Invalid    uint64        // packets dropped as empty or oversized
	Overflow   uint64        // buffered packets discarded by a resync or a slot collision
	Resyncs    uint64        // times the playout point was re-anchored on a jump
	Concealed  uint64        // samples synthesised by loss concealment
	Silence    uint64        // samples of plain silence played (nothing to conceal from)
	Noise      uint64        // samples of comfort noise played (RFC 3389, SetNoise)
	Played     uint64        // samples played from received packets
	Skipped    uint64        // samples dropped to shrink the delay
	Stretched  uint64        // samples inserted to grow the delay
	Delay      time.Duration // buffered audio ahead of the playout point
	Target     time.Duration // current target delay
	Jitter     time.Duration // interarrival jitter estimate (RFC 3550 §6.4.1)
}

type slot struct {
	used   bool
	played bool // freed after playout; seq and ts still name it (duplicate check)
	// held: enc is the packet's payload, not decoded yet, because it
	// arrived ahead of a gap in the sequence (decode.go).
	held bool
	seq  uint16
	ts   uint32
	n    int // samples: len(pcm), or the estimate (the last packet's) while held
	pcm  []int16
	enc  []byte // the held payload; its buffer is reused
}

// Buffer is an adaptive jitter buffer; see the package documentation.
type Buffer struct {
	mu sync.Mutex // guards everything below
	// configuration, in samples
	rate, minT, maxT, maxPkt int
	decode                   func(dst []int16, payload []byte) []int16

	slots   [nSlots]slot
	order   [nSlots]int // scratch for NextFrame
	started bool
	playTS  uint32 // RTP timestamp of the next sample to play
	newest  uint32 // end timestamp of the newest packet
	target  int    // target delay in samples
	pkt     int    // samples in the last packet
	stretch int    // samples of delay still to insert
	skip    int    // samples of delay still to remove
	skipAge int    // samples played since skip became pending
	decSeq  uint16 // sequence number of the last packet decoded (decode.go)
	decOK   bool   // decSeq is set

	// RFC 3550 A.8 jitter, in samples
	epoch       time.Time
	jitter      float64
	lastTransit uint32
	haveTransit bool

	// adaptation window
	winPulled int
	winMin    int
	winLate   bool
	stable    int // consecutive windows without a late packet
	lateRun   int // consecutive late packets

	plc   plc
	noise noiseGen // comfort noise (noise.go)
	st    Stats
}

// New returns an empty buffer.
func New(cfg Config) (*Buffer, error) {
	if cfg.Decode == nil {
		return nil, ErrNoDecoder
	}
	if cfg.ClockRate <= 0 {
		cfg.ClockRate = 8000
	}
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = 20 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 200 * time.Millisecond
	}
	if cfg.MaxDelay < cfg.MinDelay {
		cfg.MaxDelay = cfg.MinDelay
	}
	b := &Buffer{rate: cfg.ClockRate, decode: cfg.Decode}
	b.minT = b.samples(cfg.MinDelay)
	b.maxT = b.samples(cfg.MaxDelay)
	b.maxPkt = cfg.MaxPacketSamples
	if b.maxPkt <= 0 {
		b.maxPkt = b.samples(240 * time.Millisecond)
	}
	// Each slot's buffer is made by its first decode, the size of the
	// packets that arrive (320 bytes for 20 ms at 8 kHz), and reused from
	// then on: allocating every slot for the largest packet allowed up
	// front was 240 KB a call for 64 slots of 240 ms.
	b.target = b.minT
	b.plc = newPLC(b.rate)
	return b, nil
}

func (b *Buffer) samples(d time.Duration) int {
	return int(int64(d) * int64(b.rate) / int64(time.Second))
}

func (b *Buffer) dur(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(b.rate))
}

// Reset empties the buffer and forgets the stream (e.g. a new SSRC).
// Counters are kept.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clearLocked()
	b.started = false
	b.haveTransit = false
	b.jitter = 0
	b.target = b.minT
	b.plc.reset()
	b.noise.on = false
	b.decOK = false
}

func (b *Buffer) clearLocked() {
	for i := range b.slots {
		b.slots[i].used, b.slots[i].played = false, false
	}
}

// anchorLocked places the playout point target samples before ts.
func (b *Buffer) anchorLocked(ts uint32) {
	b.started = true
	b.playTS = ts - uint32(b.target)
	b.newest = b.playTS
	b.stretch, b.skip, b.skipAge = 0, 0, 0
	b.winPulled, b.winLate = 0, false
}

// desiredLocked is the jitter-derived target: one and a half packets
// plus four times the interarrival jitter, within [MinDelay, MaxDelay].
func (b *Buffer) desiredLocked() int {
	n := b.pkt
	if n == 0 {
		n = b.minT
	}
	return min(b.maxT, max(b.minT, n+n/2+int(4*b.jitter)))
}

// growLocked raises the target by up to n samples and schedules the
// extra delay for the next frame.
func (b *Buffer) growLocked(n int) {
	n = min(n, b.maxT-b.target)
	if n <= 0 {
		return
	}
	b.target += n
	b.stretch += n
	b.skip = 0
}

// emptyLocked reports whether nothing is buffered at or after playTS.
func (b *Buffer) emptyLocked() bool {
	for i := range b.slots {
		s := &b.slots[i]
		if s.used && int32(s.ts-b.playTS)+int32(s.n) > 0 {
			return false
		}
	}
	return true
}

// Push offers one received RTP packet: its sequence number, timestamp,
// marker bit and payload, and its arrival time (used only for the jitter
// estimate). The payload is decoded at once when it is the next packet in
// sequence after the last one decoded (then any held packets that follow
// it are decoded too); a packet that arrives ahead of a gap is held,
// encoded (a copy), and decoded when the gap fills or when it is due for
// playout, so a stateful decoder (G.722, Opus) always sees its packets in
// order (decode.go). Push does not retain payload.
func (b *Buffer) Push(seq uint16, ts uint32, marker bool, payload []byte, arrival time.Time) Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(payload) == 0 || len(payload) > 2*b.maxPkt {
		b.st.Invalid++
		return Invalid
	}
	return b.pushLocked(seq, ts, marker, payload, nil, arrival)
}

// pushLocked is Push, or PushFrame when frame is not nil.
func (b *Buffer) pushLocked(seq uint16, ts uint32, marker bool, payload []byte, frame func([]int16) []int16, arrival time.Time) Result {
	idx := int(seq % nSlots)
	s := &b.slots[idx]
	if (s.used || s.played) && s.seq == seq && s.ts == ts {
		b.st.Duplicates++
		return Duplicate
	}

	// RFC 3550 A.8: J += (|D(i-1,i)| - J) / 16, in timestamp units.
	if b.epoch.IsZero() {
		b.epoch = arrival
	}
	el := arrival.Sub(b.epoch)
	arr := uint32(int64(el/time.Microsecond) * int64(b.rate) / 1e6)
	transit := arr - ts
	if b.haveTransit {
		d := float64(int32(transit - b.lastTransit))
		if d < 0 {
			d = -d
		}
		b.jitter += (d - b.jitter) / 16
	}
	b.lastTransit, b.haveTransit = transit, true

	var victim bool
	if s.used {
		// A different packet sits in the slot: keep the newer one.
		if int32(ts-s.ts) < 0 {
			b.st.Late++
			return Late
		}
		victim = true
	}
	// Decode into the slot's buffer (it is reused), or hold the payload
	// when packets before it are missing: then its length is taken to be
	// the last packet's until it is decoded.
	hold := frame == nil && b.holdsLocked(seq)
	n := b.pkt
	if n == 0 {
		n = b.minT
	}
	if !hold {
		var pcm []int16
		if frame != nil {
			pcm = frame(s.pcm[:0])
		} else {
			pcm = b.decode(s.pcm[:0], payload)
		}
		b.decSeq, b.decOK = seq, true
		defer b.chainLocked(seq + 1)
		n = len(pcm)
		if n == 0 || n > b.maxPkt {
			b.st.Invalid++
			return Invalid
		}
		s.pcm = pcm
		b.pkt = n
	}
	if victim {
		b.st.Overflow++
		s.used, s.held = false, false
	}
	s.played = false

	resyncWin := max(2*b.maxT, 2*b.rate) // two seconds, or twice the maximum delay
	switch {
	case !b.started:
		b.target = b.desiredLocked()
		b.anchorLocked(ts)
	case marker && b.emptyLocked():
		// A new talkspurt (RFC 3550 §5.1, RFC 3551 §4.1): re-anchor, which
		// also applies any change of target delay during the silence.
		b.target = min(b.target, max(b.desiredLocked(), b.minT))
		b.anchorLocked(ts)
	default:
		d := int(int32(ts - b.playTS))
		switch {
		case d < -resyncWin || d > resyncWin,
			// Packet after packet late: the sender's clock stalled or
			// jumped back; growing cannot help.
			d+n <= 0 && b.lateRun >= maxLateRun,
			// Far ahead of an empty buffer: the sender's timestamps
			// jumped forward while it was quiet.
			d > b.target+b.maxT && b.emptyLocked():
			b.clearLocked()
			b.st.Resyncs++
			b.anchorLocked(ts)
		}
	}
	d := int(int32(ts - b.playTS))
	if d+n <= 0 {
		// All of it was due already: drop it and grow the delay by as
		// much as it was late.
		b.st.Late++
		b.winLate = true
		b.lateRun++
		b.growLocked(-d + n/2)
		return Late
	}
	b.lateRun = 0
	// A higher jitter estimate raises the target at once; the delay itself
	// follows at the next talkspurt, or now if a packet turns out late.
	b.target = max(b.target, b.desiredLocked())
	s.used, s.seq, s.ts, s.n, s.held = true, seq, ts, n, hold
	if hold {
		s.enc = append(s.enc[:0], payload...)
	}
	if end := ts + uint32(n); int32(end-b.newest) > 0 {
		b.newest = end
	}
	b.st.Pushed++
	return Accepted
}

// NextFrame fills dst with the next len(dst) samples of playout:
// received audio, concealment, or silence. It implements hal.FrameSource.
func (b *Buffer) NextFrame(dst []int16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		if b.noise.on {
			b.noiseLocked(dst)
			return
		}
		clear(dst)
		b.st.Silence += uint64(len(dst))
		return
	}
	pos := 0
	if b.stretch > 0 {
		k := min(b.stretch, len(dst))
		b.concealLocked(b.playTS, dst[:k])
		b.stretch -= k
		b.st.Stretched += uint64(k)
		pos = k
	}
	if b.skip > 0 {
		b.skipAge += len(dst)
		if b.skipAge >= 5*b.rate || b.quietLocked(b.playTS, b.skip) {
			b.playTS += uint32(b.skip)
			b.st.Skipped += uint64(b.skip)
			b.skip, b.skipAge = 0, 0
		}
	}
	b.fillLocked(dst[pos:])
	b.adaptLocked(len(dst))
}

// quietLocked reports whether the n samples from ts are silent or absent.
func (b *Buffer) quietLocked(ts uint32, n int) bool {
	const quiet = 512 // about -36 dBFS
	for i := range b.slots {
		s := &b.slots[i]
		if !s.used {
			continue
		}
		rel := int(int32(s.ts - ts))
		lo, hi := max(0, -rel), min(s.n, n-rel)
		if s.held && lo < hi {
			return false // not decoded yet: not known to be quiet
		}
		for j := lo; j < hi; j++ {
			if v := s.pcm[j]; v > quiet || v < -quiet {
				return false
			}
		}
	}
	return true
}

// fillLocked plays out from playTS into out and advances playTS.
func (b *Buffer) fillLocked(out []int16) {
	start, L := b.playTS, len(out)
	m := 0
	for i := range b.slots {
		s := &b.slots[i]
		if !s.used {
			continue
		}
		rel := int(int32(s.ts - start))
		if rel+s.n <= 0 {
			s.used, s.played, s.held = false, true, false // played, or overtaken by a skip
			continue
		}
		if rel < L {
			// insertion into timestamp order
			j := m
			for j > 0 && int32(b.slots[b.order[j-1]].ts-start) > int32(rel) {
				b.order[j] = b.order[j-1]
				j--
			}
			b.order[j] = i
			m++
		}
	}
	p := 0
	for _, i := range b.order[:m] {
		s := &b.slots[i]
		if s.held {
			// Due for playout with packets before it still missing:
			// they are lost to the decoder.
			if !b.decodeHeldLocked(s) {
				continue
			}
			b.chainLocked(s.seq + 1)
		}
		rel := int(int32(s.ts - start))
		if rel > p {
			b.concealLocked(start+uint32(p), out[p:rel])
			p = rel
		}
		off := p - rel
		k := min(L-p, len(s.pcm)-off)
		if k <= 0 {
			continue
		}
		copy(out[p:p+k], s.pcm[off:off+k])
		b.voiceLocked(s.ts)
		b.plc.good(out[p : p+k])
		b.st.Played += uint64(k)
		p += k
	}
	if p < L {
		b.concealLocked(start+uint32(p), out[p:])
	}
	b.playTS += uint32(L)
	for _, i := range b.order[:m] {
		s := &b.slots[i]
		if s.used && int32(s.ts-b.playTS)+int32(s.n) <= 0 {
			s.used, s.played = false, true
		}
	}
}

// concealLocked fills out, the gap starting at sample timestamp ts:
// loss concealment, or comfort noise where it is due (noise.go).
func (b *Buffer) concealLocked(ts uint32, out []int16) {
	k := b.noiseFromLocked(ts, len(out))
	if k > 0 {
		syn := b.plc.conceal(out[:k])
		b.st.Concealed += uint64(syn)
		b.st.Silence += uint64(k - syn)
	}
	b.noiseLocked(out[k:])
}

// adaptLocked tracks the smallest cushion over one-second windows and,
// when a window had no late packet, lowers the target and schedules the
// removal of excess delay (at most one frame per window).
func (b *Buffer) adaptLocked(frame int) {
	cushion := int(int32(b.newest - b.playTS))
	if b.winPulled == 0 || cushion < b.winMin {
		b.winMin = cushion
	}
	b.winPulled += frame
	if b.winPulled < b.rate {
		return
	}
	if b.winLate || b.stretch > 0 {
		b.stable = 0
	} else {
		b.stable++
		if want := b.desiredLocked(); b.target > want && b.stable >= stableWindows {
			b.target -= (b.target - want + 3) / 4
		}
		n := max(b.pkt, 1)
		if excess := b.winMin - b.target; excess >= n/4 && b.skip == 0 {
			b.skip = min(excess, frame)
			b.skipAge = 0
		}
	}
	b.winPulled, b.winLate = 0, false
}

// Stats returns the counters and the current delay, target and jitter.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	if b.started {
		st.Delay = b.dur(max(0, int(int32(b.newest-b.playTS))))
	}
	st.Target = b.dur(b.target)
	st.Jitter = b.dur(int(b.jitter))
	return st
}
