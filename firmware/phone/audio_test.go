package phone

import (
	"testing"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/mix"
)

// TestAudioPathNoAllocPerFrame: the conference's per-frame work (the
// speaker pulling through the taps and the mixer, the router building
// each party's frame) allocates nothing once running.
func TestAudioPathNoAllocPerFrame(t *testing.T) {
	n := hal.Narrowband.FrameSamples()
	a, b := &tap{src: level(1000)}, &tap{src: level(2000)}
	spk := mix.New(mix.Input{Src: a, Gain: mix.Unity}, mix.Input{Src: b, Gain: mix.Unity})
	va := &vin{ready: make(chan struct{}, 1), hearMic: true, peers: []*tap{b}}
	mic, scratch, out, dst := make([]int16, n), make([]int16, n), make([]int16, n), make([]int16, n)
	var acc mix.Acc
	frame := func() {
		spk.NextFrame(out)
		va.feed(mic, false, &acc, scratch)
		<-va.ready
		va.mu.Lock()
		copy(dst, va.buf)
		va.fresh = false
		va.mu.Unlock()
	}
	for range 4 {
		frame()
	}
	if allocs := testing.AllocsPerRun(100, frame); allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
	if out[0] != 3000 || dst[0] != 2000 {
		t.Fatalf("speaker %d (want 3000), party a hears %d (want b's 2000)", out[0], dst[0])
	}
}

// TestTapQueue: the tap waits for two frames before the router takes
// any, passes each frame once, drops the oldest when the speaker runs
// ahead, and primes again when it runs dry.
func TestTapQueue(t *testing.T) {
	var n int16
	tp := &tap{src: hal.FrameSourceFunc(func(dst []int16) { n++; dst[0] = n })}
	buf := make([]int16, 1)
	took := func() int16 {
		if !tp.take(buf) {
			return 0
		}
		return buf[0]
	}
	tp.NextFrame(buf)
	if v := took(); v != 0 {
		t.Fatalf("took %d before priming", v)
	}
	tp.NextFrame(buf)
	if v, w := took(), took(); v != 1 || w != 2 {
		t.Fatalf("took %d, %d; want 1, 2", v, w)
	}
	if v := took(); v != 0 {
		t.Fatalf("took %d from an empty queue", v)
	}
	for range 6 { // frames 3..8; the queue keeps the newest four
		tp.NextFrame(buf)
	}
	if v := took(); v != 5 {
		t.Fatalf("took %d, want 5 (3 and 4 dropped)", v)
	}
}
