package sdp

import "strings"

// Comfort noise (RFC 3389 §4): CN is offered like telephone-event, as an
// extra format beside the codecs, at the clock rate of the codec it goes
// with (static payload type 13 is CN/8000, RFC 3551 §6, which serves
// G.711 and G.722 alike since G.722's RTP clock is 8000 Hz). It is never
// chosen as the call's codec; it is used when both sides list it at the
// chosen codec's rate.

const comfortNoise = "CN"

func isCN(f Format) bool { return strings.EqualFold(f.Name, comfortNoise) }

// isExtra reports whether f is a format that rides along with a codec
// (telephone-event, CN) rather than one.
func isExtra(f Format) bool { return isDTMF(f) || isCN(f) }

// matchCN returns the format of theirs that is CN at rate, if ours has
// CN at that rate too.
func matchCN(theirs, ours []Format, rate int) (Format, bool) {
	have := false
	for _, o := range ours {
		if isCN(normalize(o)) && normalize(o).Rate == rate {
			have = true
		}
	}
	if !have {
		return Format{}, false
	}
	for _, t := range theirs {
		if t = normalize(t); isCN(t) && t.Rate == rate {
			return t, true
		}
	}
	return Format{}, false
}
