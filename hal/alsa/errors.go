package alsa

import "errors"

var (
	// ErrNoCgo is returned by NewOut and NewIn in a binary built without
	// ALSA support: without cgo, for a system other than Linux, or
	// without the build tag "alsa".
	ErrNoCgo = errors.New("alsa: this binary has no ALSA support (build for linux with CGO_ENABLED=1 and -tags alsa)")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("alsa: closed")
	// ErrFormat is returned for a format other than 8/16 kHz mono.
	ErrFormat = errors.New("alsa: unsupported format")
	// ErrBusy is returned by a second NewOut: oto allows one output per
	// process.
	ErrBusy = errors.New("alsa: playback already open in this process")
)
