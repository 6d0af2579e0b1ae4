package wm8960

import "errors"

var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("wm8960: closed")
	// ErrRange is returned for a volume, gain, rate or route outside what
	// the chip supports.
	ErrRange = errors.New("wm8960: value out of range")
	// ErrClock is returned when no PLL setting gives SYSCLK from MCLK.
	ErrClock = errors.New("wm8960: unsupported MCLK")
)
