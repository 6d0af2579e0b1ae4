package alsa

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/deskphone/phone/hal"
)

// counter is a FrameSource whose samples count up from 1.
type counter struct{ n int16 }

func (c *counter) NextFrame(dst []int16) {
	for i := range dst {
		c.n++
		dst[i] = c.n
	}
}

func TestFrameReaderSplitsFrames(t *testing.T) {
	r := newFrameReader(hal.Narrowband) // 160 samples, 320 bytes a frame
	b := make([]byte, 100)
	if n, err := r.Read(b); n != 100 || err != nil || b[0] != 0 {
		t.Fatalf("no source: %d %v %v", n, err, b[:4])
	}
	r.setSource(&counter{})
	// The rest of the silent frame comes first (220 bytes), then the counter.
	all := make([]byte, 0, 2000)
	for _, size := range []int{7, 220, 1, 333, 640} {
		p := make([]byte, size)
		n, err := r.Read(p)
		if n != size || err != nil {
			t.Fatalf("Read(%d) = %d, %v", size, n, err)
		}
		all = append(all, p...)
	}
	for i := 0; i < 220; i++ {
		if all[i] != 0 {
			t.Fatalf("byte %d of the silent frame is %d", i, all[i])
		}
	}
	rest := all[220:]
	for i := 0; i+1 < len(rest); i += 2 {
		if s := int16(binary.LittleEndian.Uint16(rest[i:])); s != int16(i/2+1) {
			t.Fatalf("sample %d = %d", i/2, s)
		}
	}
	if r.read != 5 { // one silent frame and four counter frames (981 bytes)
		t.Errorf("%d frames pulled, want 5", r.read)
	}
}

func TestOpts(t *testing.T) {
	for _, o := range []*Opts{
		{Format: hal.Format{SampleRate: 44100, Channels: 1, Frame: 20 * time.Millisecond}},
		{Format: hal.Format{SampleRate: 8000, Channels: 2, Frame: 20 * time.Millisecond}},
		{Periods: 1},
		{Periods: 100},
	} {
		if _, err := NewIn(o); !errors.Is(err, ErrFormat) {
			t.Errorf("NewIn(%+v) = %v, want ErrFormat", o, err)
		}
		if _, err := NewOut(o); !errors.Is(err, ErrFormat) {
			t.Errorf("NewOut(%+v) = %v, want ErrFormat", o, err)
		}
	}
	op, err := fill(nil)
	if err != nil || op.Device != "default" || op.Format != hal.Narrowband || op.Periods != 2 {
		t.Errorf("fill(nil) = %+v, %v", op, err)
	}
}

// BenchmarkFramePath is the playback frame path: the device pulls one
// 20 ms frame of bytes, the reader asks the source for a frame and
// converts it. It must not allocate.
func BenchmarkFramePath(b *testing.B) {
	r := newFrameReader(hal.Narrowband)
	r.setSource(&counter{})
	p := make([]byte, 320)
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		r.Read(p)
		bytesToPCM(dst, p) // the capture side's conversion
	}
}
