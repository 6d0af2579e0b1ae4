//go:build !(linux && cgo && alsa)

package alsa

import (
	"context"

	"github.com/deskphone/phone/hal"
)

// Out is playback; in this build (no ALSA) it cannot be opened.
type Out struct{}

// In is capture; in this build (no ALSA) it cannot be opened.
type In struct{}

// NewOut returns ErrNoCgo: this binary was built without ALSA.
func NewOut(o *Opts) (*Out, error) {
	if _, err := fill(o); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}

// NewIn returns ErrNoCgo: this binary was built without ALSA.
func NewIn(o *Opts) (*In, error) {
	if _, err := fill(o); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}

// Format reports the zero format.
func (*Out) Format() hal.Format { return hal.Format{} }

// Start returns ErrNoCgo.
func (*Out) Start(hal.FrameSource) error { return ErrNoCgo }

// Close does nothing.
func (*Out) Close() error { return nil }

// Format reports the zero format.
func (*In) Format() hal.Format { return hal.Format{} }

// ReadFrame returns ErrNoCgo.
func (*In) ReadFrame(context.Context, []int16) error { return ErrNoCgo }

// Close does nothing.
func (*In) Close() error { return nil }

var (
	_ hal.AudioOut = (*Out)(nil)
	_ hal.AudioIn  = (*In)(nil)
)
