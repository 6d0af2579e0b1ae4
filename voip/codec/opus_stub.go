//go:build !(cgo && opus)

package codec

// newOpus finds no Opus: this build has no libopus.
func newOpus() (Codec, bool) { return nil, false }
