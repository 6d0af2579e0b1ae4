//go:build cgo && opus

package codec

import "github.com/deskphone/phone/voip/codec/opus"

// newOpus makes one call's Opus codec (see package opus).
func newOpus() (Codec, bool) {
	c, err := opus.New(opus.Params{})
	if err != nil {
		return nil, false
	}
	return c, true
}
