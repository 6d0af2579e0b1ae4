// Package alsa plays and captures telephone audio through ALSA on Linux.
//
// Playback goes through github.com/hajimehoshi/oto/v2, which drives
// ALSA's "default" PCM (configure /etc/asound.conf or ALSA_CARD to pick
// the card). Oto has no capture, so capture binds ALSA's C library
// directly (snd_pcm_readi on a non-blocking PCM). Both need cgo and
// libasound's headers, so the real implementation is behind
// `//go:build linux && cgo && alsa`: build with `-tags alsa` (as
// `make cross-rpi` and `make test-alsa` do) to get it. Without the tag,
// or without cgo, NewOut and NewIn return ErrNoCgo, so every other
// package, `go test -race ./...` (which needs cgo for the race detector
// but must not need libasound2-dev), the sim and QEMU boards and
// `make cross` build anywhere. docs/hardware.md says why capture is cgo rather than
// pure Go over /dev/snd ioctls, and what latency each direction adds.
//
// Streams are 16-bit mono at 8 or 16 kHz in 20 ms frames (hal.Format),
// paced by the sound card's clock: ReadFrame blocks until the card has
// captured a frame, and playback pulls a frame from the current
// hal.FrameSource whenever the card's buffer has room for one. Every
// buffer on the way is bounded (Opts.Periods periods of one frame).
package alsa
