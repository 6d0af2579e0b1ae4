package media

import (
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"
)

// l16x3 is linear 16-bit PCM at 16 kHz on a 48 kHz RTP clock: Opus's rate
// model (RFC 7587 §4.1) without libopus, so the session's handling of a
// clock three times faster than the audio is tested in every build.
type l16x3 struct{}

func (l16x3) Name() string       { return "L16X3" }
func (l16x3) PayloadType() uint8 { return 112 }
func (l16x3) ClockRate() int     { return 48000 }
func (l16x3) SampleRate() int    { return 16000 }
func (l16x3) Encode(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = binary.BigEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}
func (l16x3) Decode(dst []int16, p []byte) []int16 {
	for i := 0; i+1 < len(p); i += 2 {
		dst = append(dst, int16(binary.BigEndian.Uint16(p[i:])))
	}
	return dst
}

// TestClockFasterThanAudio: 960 ticks a 20 ms packet, 320 samples, and a
// 6 kHz tone arrives.
func TestClockFasterThanAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) { a.Codec, b.Codec = l16x3{}, l16x3{} })
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, wideband, wideband, wideband, wideband, 6000, 1000, 2*time.Second)
		heard(t, "b", outB, 16000, 6000, 2000)
		heard(t, "a", outA, 16000, 1000, 6000)
		ps := rtpSent(t, ca)
		for i := 1; i < len(ps); i++ {
			if p := ps[i]; len(p.Payload) != 640 || p.Timestamp-ps[i-1].Timestamp != 960 {
				t.Fatalf("packet %d: %d octets, step %d; want 640, 960", i, len(p.Payload), p.Timestamp-ps[i-1].Timestamp)
			}
		}
	})
}

// TestRxSampleWraps: received 48 kHz timestamps map to the 16 kHz sample
// clock in steps of 320 across the 2^32 wrap, backwards for a late packet,
// and anew for a new stream.
func TestRxSampleWraps(t *testing.T) {
	s := &Session{rate: 48000, srate: 16000}
	ts := uint32(1<<32 - 3*960)
	prev := s.rxSampleLocked(ts, true)
	for i := range 6 {
		ts += 960
		got := s.rxSampleLocked(ts, false)
		if got-prev != 320 {
			t.Fatalf("step %d (ts %d): sample %d after %d", i, ts, got, prev)
		}
		prev = got
	}
	if late := s.rxSampleLocked(ts-960, false); prev-late != 320 {
		t.Errorf("a late packet maps to %d, %d before the last", late, prev-late)
	}
	if got := s.rxSampleLocked(ts+960, false); got-prev != 320 {
		t.Errorf("after the late packet: step %d", got-prev)
	}
	if got := s.rxSampleLocked(300, true); got != 100 {
		t.Errorf("a new stream at 300 maps to %d", got)
	}
	g := &Session{rate: 8000, srate: 16000}
	if got := g.rxSampleLocked(1<<32-160, false); got != 1<<32-320 {
		t.Errorf("G.722: %d", got)
	}
}
