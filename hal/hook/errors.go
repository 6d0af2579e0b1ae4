package hook

import "errors"

// ErrPin is returned when the pin cannot be set up as an input.
var ErrPin = errors.New("hook: pin")
