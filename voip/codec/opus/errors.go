package opus

import "errors"

var (
	// ErrUnavailable is returned by New in builds without libopus (no
	// cgo, or no "opus" build tag).
	ErrUnavailable = errors.New("opus: not in this build (needs cgo and -tags opus)")
	// ErrFmtp wraps a malformed a=fmtp parameter.
	ErrFmtp = errors.New("opus: bad fmtp")
	// ErrLibopus wraps an error code from libopus.
	ErrLibopus = errors.New("opus: libopus")
)
