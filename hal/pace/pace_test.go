package pace

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

type ramp struct{ next int16 }

func (r *ramp) NextFrame(pcm []int16) {
	for i := range pcm {
		pcm[i] = r.next
		r.next++
	}
}

// TestPlay: one frame per frame period, samples in order and encoded
// little-endian, silence while there is no source, and Play returns when
// stop closes.
func TestPlay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hal.Format{SampleRate: 8000, Channels: 1, Frame: 20 * time.Millisecond}
		var src atomic.Pointer[ramp]
		stop := make(chan struct{})
		done := make(chan struct{})
		var frames [][]int16
		go func() {
			defer close(done)
			Play(stop, f, func() hal.FrameSource {
				if r := src.Load(); r != nil {
					return r
				}
				return nil
			}, func(le []byte, pcm []int16) {
				for i, s := range pcm {
					if got := int16(binary.LittleEndian.Uint16(le[2*i:])); got != s {
						t.Errorf("byte encoding of sample %d: %d, want %d", i, got, s)
					}
				}
				frames = append(frames, append([]int16(nil), pcm...))
			})
		}()
		time.Sleep(50 * time.Millisecond) // frames at 20 and 40 ms: silence
		src.Store(&ramp{next: 1})
		time.Sleep(40 * time.Millisecond) // frames at 60 and 80 ms: the ramp
		close(stop)
		<-done
		if len(frames) != 4 {
			t.Fatalf("%d frames in 90 ms, want 4", len(frames))
		}
		for _, fr := range frames[:2] {
			if fr[0] != 0 || fr[len(fr)-1] != 0 {
				t.Fatalf("frame without a source is not silence: %v", fr[:4])
			}
		}
		if frames[2][0] != 1 || frames[3][0] != 161 || len(frames[3]) != 160 {
			t.Fatalf("ramp frames start %d, %d (len %d), want 1, 161 (160)", frames[2][0], frames[3][0], len(frames[3]))
		}
	})
}
