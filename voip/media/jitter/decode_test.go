package jitter

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/deskphone/phone/voip/codec"
)

// g722Packets encodes count 20 ms packets (320 samples at 16 kHz) of a
// two-tone signal with G.722: a stateful ADPCM codec whose decoder goes
// wrong when it meets a packet before the one that precedes it.
func g722Packets(count int) [][]byte {
	enc := codec.NewG722()
	pcm := make([]int16, 320)
	var out [][]byte
	for k := range count {
		for i := range pcm {
			t := float64(k*320+i) / 16000
			pcm[i] = int16(6000*math.Sin(2*math.Pi*440*t) + 4000*math.Sin(2*math.Pi*5200*t))
		}
		out = append(out, enc.Encode(nil, pcm))
	}
	return out
}

// playG722 pushes the packets of each 40 ms tick in the order given
// (packet indexes; -1 is a lost packet), each with the arrival time of
// its own slot so every order sees the same jitter, and pulls two 20 ms
// frames per tick. The decoder is a fresh G.722's.
func playG722(t *testing.T, pkts [][]byte, ticks [][]int) []int16 {
	t.Helper()
	dec := codec.NewG722()
	b, err := New(Config{ClockRate: 16000, Decode: dec.Decode})
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	frame := make([]int16, 320)
	for _, tick := range ticks {
		for _, k := range tick {
			if k < 0 {
				continue
			}
			at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
			if r := b.Push(uint16(1000+k), uint32(5000+k*320), k == 0, pkts[k], at); r != Accepted {
				t.Fatalf("packet %d: %v", k, r)
			}
		}
		for range 2 {
			b.NextFrame(frame)
			out = append(out, frame...)
		}
	}
	for range 4 {
		b.NextFrame(frame)
		out = append(out, frame...)
	}
	return out
}

// TestReorderedG722DecodesInOrder: G.722 packets that arrive with each
// pair swapped play out bit-identical to the same packets in order (the
// buffer holds the early one and decodes it after its predecessor), and
// the in-order playout is the plain decoding of the packets. With a
// packet lost as well, the reordered and the in-order arrivals still play
// the same samples.
func TestReorderedG722DecodesInOrder(t *testing.T) {
	const count = 40
	pkts := g722Packets(count)
	// The first packet anchors the stream; after it every pair is
	// swapped.
	inOrder, swapped := [][]int{{0, 1}}, [][]int{{0, 1}}
	for k := 2; k < count; k += 2 {
		inOrder = append(inOrder, []int{k, k + 1})
		swapped = append(swapped, []int{k + 1, k})
	}
	want := playG722(t, pkts, inOrder)
	got := playG722(t, pkts, swapped)
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("reordered playout differs from in-order at sample %d of %d: %d, want %d", i, len(want), got[i], want[i])
	}
	// The in-order playout is the plain decoding, after the delay.
	dec := codec.NewG722()
	var direct []int16
	for _, p := range pkts {
		direct = dec.Decode(direct, p)
	}
	if !containsRun(want, direct[320:count*320-320]) {
		t.Fatal("in-order playout does not hold the decoded packets")
	}

	// Packet 11 lost: 12 and 13 (which arrives before it) wait until
	// playout reaches them; both orders play the same.
	lost := func(ticks [][]int) [][]int {
		o := make([][]int, len(ticks))
		for i, tk := range ticks {
			o[i] = slices.Clone(tk)
			if j := slices.Index(o[i], 11); j >= 0 {
				o[i][j] = -1
			}
		}
		return o
	}
	want = playG722(t, pkts, lost(inOrder))
	got = playG722(t, pkts, lost(swapped))
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("with a loss, reordered playout differs at sample %d: %d, want %d", i, got[i], want[i])
	}
}

func firstDiff(a, b []int16) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// containsRun reports whether run appears in s as a contiguous run.
func containsRun(s, run []int16) bool {
	for i := 0; i+len(run) <= len(s); i++ {
		if slices.Equal(s[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// TestDecodeOrder: whatever the arrival order, with losses, duplicates
// and packets held until playout, the decoder sees sequence numbers only
// increasing, and every packet that is not late is decoded once.
func TestDecodeOrder(t *testing.T) {
	var seen []uint16
	dec := func(dst []int16, p []byte) []int16 {
		seen = append(seen, uint16(p[0])<<8|uint16(p[1]))
		for range 160 {
			dst = append(dst, 1000)
		}
		return dst
	}
	b, err := New(Config{Decode: dec, MinDelay: 60 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Arrival order per 20 ms tick: reordered by up to three places,
	// packet 9 lost, 14 twice.
	arrivals := [][]int{{0}, {1}, {3}, {2}, {6, 5}, {4}, {7}, {8}, {10}, {12, 11}, {14}, {13, 14}, {15}, {16}, {}, {}, {}, {}}
	payload := make([]byte, 160)
	frame := make([]int16, 160)
	for tick, ks := range arrivals {
		for _, k := range ks {
			seq := uint16(65530 + k) // across the wrap
			payload[0], payload[1] = byte(seq>>8), byte(seq)
			b.Push(seq, uint32(k*160), k == 0, payload, t0.Add(time.Duration(tick)*20*time.Millisecond))
		}
		b.NextFrame(frame)
	}
	for i := 1; i < len(seen); i++ {
		if int16(seen[i]-seen[i-1]) <= 0 {
			t.Fatalf("decoder saw %d after %d (order %v)", seen[i], seen[i-1], seen)
		}
	}
	if len(seen) != 16 {
		t.Fatalf("decoded %d packets (%v), want 16 (17 sent, 9 lost)", len(seen), seen)
	}
	if st := b.Stats(); st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
}
