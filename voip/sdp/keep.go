package sdp

// KeepCodec narrows ours (a UA's formats in preference order) for a
// later offer or answer in a session that already runs cur, the codec a
// negotiation chose: cur alone, with the payload type the session uses
// and our own parameters, then our extras (telephone-event, CN). The
// media session cannot change its codec mid-call, so a re-INVITE we
// send (hold, a NAT change, the move to a relay) must not invite the
// far end to pick another one (baresip answered a relay re-INVITE that
// listed G.722 first by switching from PCMU to G.722, and no audio
// played), and a re-offer from the far end that lacks cur gets 488 and
// leaves the call as it was (RFC 3264 §8: the old session stays when an
// offer is refused). ours comes back unchanged when it has no such
// codec.
func KeepCodec(ours []Format, cur Format) []Format {
	cur = normalize(cur)
	if cur.Name == "" || isExtra(cur) {
		return ours
	}
	out := make([]Format, 0, len(ours))
	for _, o := range ours {
		if n := normalize(o); !isExtra(n) && sameCodec(n, cur) {
			o.PT = cur.PT
			out = append(out, o)
			break
		}
	}
	if len(out) == 0 {
		return ours
	}
	for _, o := range ours {
		if isExtra(normalize(o)) && o.PT != cur.PT {
			out = append(out, o)
		}
	}
	return out
}
