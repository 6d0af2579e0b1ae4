package pbx

import "github.com/emiago/sipgo/sip"

// sipgo refuses to send a UDP message over sip.UDPMTUSize-200 bytes
// (1300 by default), so an INVITE that grew past that as it went through
// (our Via and Record-Route on a phone's offer with ICE candidates, a
// DTLS fingerprint and Opus: 1300 bytes and more) failed with 503 here,
// where Kamailio forwards it as IP fragments (udp_mtu unset). The test
// PBX does what Kamailio does; voip/sip sets the same limit for phones.
func init() {
	if sip.UDPMTUSize < 65507+200 {
		sip.UDPMTUSize = 65507 + 200
	}
}
