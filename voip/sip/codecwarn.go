package sip

import (
	"log/slog"
	"strings"

	"github.com/deskphone/phone/voip/codec"
)

// warnMissingCodecs logs one WARN for each codec of the line's list that
// this build cannot run, so an administrator who listed it learns why it
// is never offered or accepted: OPUS in a build without libopus (cgo and
// the build tag "opus", docs/wideband.md), or a name no codec has. It is
// called once per UA, when the line is built.
func warnMissingCodecs(log *slog.Logger, names []string) {
	for _, n := range names {
		switch {
		case strings.EqualFold(n, "opus"):
			if !codec.OpusAvailable {
				log.Warn("codecs lists OPUS but this build has no Opus (no libopus): it is neither offered nor accepted", "codec", n)
			}
		default:
			if _, ok := codec.ByName(n); !ok {
				log.Warn("codecs lists a codec this build does not have: it is neither offered nor accepted", "codec", n)
			}
		}
	}
}
