//go:build linux && cgo && alsa

package alsa

import (
	"fmt"
	"sync"
	"time"

	"github.com/hajimehoshi/oto/v2"

	"github.com/deskphone/phone/hal"
)

// oto allows one context per process, with one format for its life.
var (
	otoMu     sync.Mutex // guards following
	otoCtx    *oto.Context
	otoFormat hal.Format
	otoErr    error // a context that failed cannot be made again
	otoInUse  bool
)

// Out plays through oto/v2 on ALSA's default PCM. It implements
// hal.AudioOut.
type Out struct {
	f       hal.Format
	r       *frameReader
	p       oto.Player
	latency time.Duration

	mu     sync.Mutex // guards following
	closed bool
}

var _ hal.AudioOut = (*Out)(nil)

// NewOut opens playback and starts playing silence. Only one Out may be
// open at a time, and every Out of a process has the format of the first.
func NewOut(o *Opts) (*Out, error) {
	op, err := fill(o)
	if err != nil {
		return nil, err
	}
	f := op.Format
	otoMu.Lock()
	defer otoMu.Unlock()
	if otoInUse {
		return nil, ErrBusy
	}
	if otoErr != nil {
		return nil, otoErr
	}
	device := time.Duration(op.Periods) * f.Frame
	if otoCtx == nil {
		ctx, ready, err := oto.NewContextWithOptions(&oto.NewContextOptions{
			SampleRate:   f.SampleRate,
			ChannelCount: 1,
			Format:       oto.FormatSignedInt16LE,
			BufferSize:   device, // ALSA buffer: Periods frames
		})
		if err != nil {
			otoErr = fmt.Errorf("alsa: playback: %w", err)
			return nil, otoErr
		}
		<-ready
		if err := ctx.Err(); err != nil {
			otoErr = fmt.Errorf("alsa: playback: %w", err)
			return nil, otoErr
		}
		otoCtx, otoFormat = ctx, f
	} else if otoFormat != f {
		return nil, fmt.Errorf("%w: format %+v, the process already plays %+v", ErrBusy, f, otoFormat)
	}
	r := newFrameReader(f)
	p := otoCtx.NewPlayer(r)
	// oto's own queue in front of the device: one frame.
	p.(oto.BufferSizeSetter).SetBufferSize(2 * f.FrameSamples())
	p.Play()
	otoInUse = true
	return &Out{f: f, r: r, p: p, latency: device + f.Frame}, nil
}

// Format reports the stream format.
func (o *Out) Format() hal.Format { return o.f }

// Start makes src the source of the next frame the device pulls; nil
// plays silence.
func (o *Out) Start(src hal.FrameSource) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if err := o.p.Err(); err != nil {
		return fmt.Errorf("alsa: playback: %w", err)
	}
	o.r.setSource(src)
	return nil
}

// Latency is the nominal delay from a frame leaving the source to the
// card's output: the ALSA buffer plus oto's one-frame queue.
func (o *Out) Latency() time.Duration { return o.latency }

// Close stops the player. The oto context (one per process) stays open
// for the next NewOut. Close is idempotent.
func (o *Out) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	err := o.p.Close()
	otoMu.Lock()
	otoInUse = false
	otoMu.Unlock()
	return err
}
