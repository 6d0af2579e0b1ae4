package natlab

import (
	"fmt"
	"testing"
)

// privateSDPCells are issue 14's item 2: baresip doing no NAT work at all
// (no medianat: its SDP and Contact hold its private address, as a cheap
// ATA's do) behind each classic NAT, calling phoned behind each, and
// phoned calling it. phoned sees the private SDP address, takes the far
// end's public IP from its Contact (kamailio-nathelper rewrites it) or
// its Via's received= (any registrar), sends its RTP there at the SDP's
// port (Linux masquerading keeps the port), latches onto what arrives
// and, where nothing does within 1 s, moves the call to its relay
// (permission for that IP). kamailio-plain cannot reach baresip's
// private Contact, so phoned calling baresip runs on nathelper only.
func privateSDPCells(run func(string, func(*testing.T)), e *env) {
	for _, a := range matrixKinds { // phoned's NAT
		for _, b := range matrixKinds { // baresip's NAT
			for _, reg := range []string{KamailioPlain, KamailioNAT} {
				run(fmt.Sprintf("private-sdp/baresip-%s-to-phoned-%s/%s", b, a, kamName(reg)), func(t *testing.T) {
					e.call(t, "private sdp far end", b, a, reg, baresipSpec(""), phonedSpec)
				})
			}
			run(fmt.Sprintf("private-sdp/phoned-%s-to-baresip-%s/%s", a, b, kamName(KamailioNAT)), func(t *testing.T) {
				e.call(t, "private sdp far end", a, b, KamailioNAT, phonedSpec, baresipSpec(""))
			})
		}
	}
}
