package alsa

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"

	"github.com/deskphone/phone/hal"
)

// Opts configures a stream.
type Opts struct {
	// Device is the ALSA PCM name used for capture, e.g. "default" or
	// "plughw:CARD=wm8960soundcard". Playback always uses oto's choice,
	// ALSA's "default".
	Device string
	// Format is the stream format; zero means hal.Narrowband.
	Format hal.Format
	// Periods is the depth of each buffer, in frames (default 2, so
	// 40 ms at 20 ms frames; at least 2).
	Periods int
	// Logger; nil discards.
	Logger *slog.Logger
}

// DefaultOpts: the default PCM, narrowband, two-frame buffers.
var DefaultOpts = Opts{Device: "default", Format: hal.Narrowband, Periods: 2}

func fill(o *Opts) (Opts, error) {
	op := DefaultOpts
	if o != nil {
		op = *o
	}
	if op.Device == "" {
		op.Device = DefaultOpts.Device
	}
	if op.Format == (hal.Format{}) {
		op.Format = hal.Narrowband
	}
	if op.Periods == 0 {
		op.Periods = DefaultOpts.Periods
	}
	if op.Logger == nil {
		op.Logger = slog.New(slog.DiscardHandler)
	}
	f := op.Format
	if (f.SampleRate != 8000 && f.SampleRate != 16000) || f.Channels != 1 || f.FrameSamples() == 0 {
		return op, fmt.Errorf("%w: %+v (want 8000 or 16000 Hz mono)", ErrFormat, f)
	}
	if op.Periods < 2 || op.Periods > 16 {
		return op, fmt.Errorf("%w: %d periods (want 2..16)", ErrFormat, op.Periods)
	}
	return op, nil
}

// frameReader is the io.Reader oto pulls playback bytes from: it asks
// the current source for whole frames and hands them out as s16le bytes,
// keeping the rest of a frame for the next Read. It allocates nothing
// after construction.
type frameReader struct {
	mu   sync.Mutex // guards following
	src  hal.FrameSource
	pcm  []int16
	buf  []byte // one frame of bytes
	off  int    // bytes of buf already handed out
	read int    // frames pulled, for tests and statistics
}

func newFrameReader(f hal.Format) *frameReader {
	n := f.FrameSamples()
	return &frameReader{pcm: make([]int16, n), buf: make([]byte, 2*n), off: 2 * n}
}

func (r *frameReader) setSource(src hal.FrameSource) {
	r.mu.Lock()
	r.src = src
	r.mu.Unlock()
}

// Read fills p; it never fails and never blocks: the device's pull rate
// is the pace.
func (r *frameReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if r.off == len(r.buf) {
			if r.src == nil {
				clear(r.pcm)
			} else {
				r.src.NextFrame(r.pcm)
			}
			for i, s := range r.pcm {
				binary.LittleEndian.PutUint16(r.buf[2*i:], uint16(s))
			}
			r.off = 0
			r.read++
		}
		c := copy(p[n:], r.buf[r.off:])
		r.off += c
		n += c
	}
	return n, nil
}

// bytesToPCM converts s16le bytes into dst.
func bytesToPCM(dst []int16, b []byte) {
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
}
