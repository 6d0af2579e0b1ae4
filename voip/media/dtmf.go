package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// DTMFPayload is one RFC 4733 §2.3 named-event payload (Figure 1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type DTMFPayload struct {
	Event    uint8  // §3.2: 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D'
	End      bool   // E bit (§2.3.2): this packet ends the event
	Volume   uint8  // 0..63, -dBm0 (§2.3.4); larger is quieter
	Duration uint16 // timestamp units since the event's timestamp (§2.3.5)
}

// DTMFPayloadLen is the size of one named-event payload.
const DTMFPayloadLen = 4

// AppendTo appends the 4-byte wire form of p to b. The R bit is sent as
// zero (§2.3.3) and the volume is masked to 6 bits.
func (p DTMFPayload) AppendTo(b []byte) []byte {
	flags := p.Volume & 0x3F
	if p.End {
		flags |= 0x80
	}
	return append(b, p.Event, flags, byte(p.Duration>>8), byte(p.Duration))
}

// ParseDTMFPayload decodes a named-event payload. Only the first event
// block is read; the R bit is ignored (§2.3.3). A payload shorter than 4
// bytes is an error.
func ParseDTMFPayload(b []byte) (DTMFPayload, error) {
	if len(b) < DTMFPayloadLen {
		return DTMFPayload{}, fmt.Errorf("%w: %d bytes", ErrShortDTMF, len(b))
	}
	return DTMFPayload{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

const dtmfDigits = "0123456789*#ABCD"

// DigitEvent maps a DTMF digit (0-9, *, #, A-D, case-insensitive) to its
// RFC 4733 §3.2 event code.
func DigitEvent(d rune) (uint8, bool) {
	if d >= 'a' && d <= 'd' {
		d -= 'a' - 'A'
	}
	for i, c := range dtmfDigits {
		if c == d {
			return uint8(i), true
		}
	}
	return 0, false
}

// EventDigit maps an RFC 4733 §3.2 event code 0-15 to its digit.
func EventDigit(e uint8) (rune, bool) {
	if int(e) < len(dtmfDigits) {
		return rune(dtmfDigits[e]), true
	}
	return 0, false
}

// DTMFEvent is one digit received by RFC 4733.
type DTMFEvent struct {
	Digit     rune          // '0'-'9', '*', '#', 'A'-'D'
	Duration  time.Duration // as last reported by the sender
	Volume    int           // -dBm0 (0..63)
	Timestamp uint32        // RTP timestamp of the event's start
	At        time.Time     // when the event was reported complete
}

// dtmfReceiver turns a stream of event packets into one DTMFEvent per
// digit. Events are keyed by RTP timestamp (§2.2.1: every packet of an
// event carries its start timestamp), so it copes with lost start
// packets, with only end packets, and with the three retransmitted end
// packets (§2.5.1.4).
type dtmfReceiver struct {
	active   bool   // an event is in progress (not yet reported)
	ts       uint32 // its timestamp
	last     DTMFPayload
	reported [4]uint32 // timestamps of recently reported events
	nrep     int
}

func (r *dtmfReceiver) wasReported(ts uint32) bool {
	for i := range min(r.nrep, len(r.reported)) {
		if r.reported[i] == ts {
			return true
		}
	}
	return false
}

func (r *dtmfReceiver) markReported(ts uint32) {
	r.reported[r.nrep%len(r.reported)] = ts
	r.nrep++
}

// event makes the DTMFEvent for payload p with timestamp ts.
func dtmfEvent(p DTMFPayload, ts uint32, rate int, now time.Time) DTMFEvent {
	d, _ := EventDigit(p.Event)
	return DTMFEvent{
		Digit:     d,
		Duration:  time.Duration(int64(p.Duration) * int64(time.Second) / int64(rate)),
		Volume:    int(p.Volume),
		Timestamp: ts,
		At:        now,
	}
}

// packet handles one event packet and returns the events it completes
// (at most two: an unfinished earlier event and this one).
func (r *dtmfReceiver) packet(p DTMFPayload, ts uint32, rate int, now time.Time, emit func(DTMFEvent)) {
	if _, ok := EventDigit(p.Event); !ok || p.Duration == 0 {
		// Not a DTMF digit (flash, tones...), or a zero duration, which
		// a receiver should ignore for non-state events (§2.3.5).
		return
	}
	if r.wasReported(ts) {
		return // end retransmission, or a late packet of a finished event
	}
	if r.active && r.ts != ts {
		// A new event while the previous one never showed its end.
		if int32(ts-r.ts) < 0 {
			return // a stray packet older than the event in progress
		}
		r.flush(rate, now, emit)
	}
	if p.End {
		r.active = false
		r.markReported(ts)
		emit(dtmfEvent(p, ts, rate, now))
		return
	}
	if !r.active || p.Duration >= r.last.Duration {
		r.last = p
	}
	r.active, r.ts = true, ts
}

// flush reports an event in progress whose end packets were all lost.
func (r *dtmfReceiver) flush(rate int, now time.Time, emit func(DTMFEvent)) {
	if !r.active {
		return
	}
	r.active = false
	r.markReported(r.ts)
	emit(dtmfEvent(r.last, r.ts, rate, now))
}

// audio is called for each audio packet: audio whose timestamp is past
// the end of the event in progress means its end packets were lost.
func (r *dtmfReceiver) audio(ts uint32, rate int, now time.Time, emit func(DTMFEvent)) {
	if r.active && int32(ts-(r.ts+uint32(r.last.Duration))) > int32(rate/20) {
		r.flush(rate, now, emit)
	}
}
