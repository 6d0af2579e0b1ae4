package keypad

import "errors"

var (
	// ErrLayout is returned when the key map does not match the pins.
	ErrLayout = errors.New("keypad: key map does not match the pins")
	// ErrPin is returned when a pin cannot be set up or driven.
	ErrPin = errors.New("keypad: pin")
)
