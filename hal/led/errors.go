package led

import "errors"

var (
	// ErrPattern is returned for an unknown hal.Pattern.
	ErrPattern = errors.New("led: unknown pattern")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("led: closed")
	// ErrPin is returned when a pin cannot be driven.
	ErrPin = errors.New("led: pin")
)
