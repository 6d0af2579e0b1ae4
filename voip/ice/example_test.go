package ice_test

import (
	"fmt"
	"net/netip"

	"github.com/deskphone/phone/voip/ice"
	"github.com/deskphone/phone/voip/sdp"
)

// Two agents wired back to back in memory: the controlling one checks
// the other's host candidate, nominates it, and both report the pair.
// In the phone, Write sends on the media socket and the port manager's
// demultiplexer calls HandleSTUN (portmgr.Mapping.SetSTUNHook).
func ExampleNew() {
	a, b := netip.MustParseAddrPort("192.0.2.1:4000"), netip.MustParseAddrPort("192.0.2.2:5000")
	au, ap := ice.NewCredentials()
	bu, bp := ice.NewCredentials()
	host := func(addr netip.AddrPort) []sdp.Candidate {
		return []sdp.Candidate{{Foundation: "1", Component: 1, Transport: "UDP",
			Priority: ice.LocalPriority(sdp.CandHost, 1), Addr: addr, Type: sdp.CandHost}}
	}
	var agentA, agentB *ice.Agent
	ready := make(chan struct{})
	selA, selB := make(chan netip.AddrPort, 1), make(chan netip.AddrPort, 1)
	agentA, _ = ice.New(ice.Config{
		LocalUfrag: au, LocalPwd: ap, Controlling: true,
		Remote: sdp.ICE{Ufrag: bu, Pwd: bp, Candidates: host(b)}, Default: b,
		Write:    func(p []byte, to netip.AddrPort) error { <-ready; agentB.HandleSTUN(p, a); return nil },
		OnSelect: func(s ice.Selection) { selA <- s.Remote },
	})
	agentB, _ = ice.New(ice.Config{
		LocalUfrag: bu, LocalPwd: bp,
		Remote: sdp.ICE{Ufrag: au, Pwd: ap, Candidates: host(a)}, Default: a,
		Write:    func(p []byte, to netip.AddrPort) error { <-ready; agentA.HandleSTUN(p, b); return nil },
		OnSelect: func(s ice.Selection) { selB <- s.Remote },
	})
	close(ready)
	fmt.Println("A sends media to", <-selA)
	fmt.Println("B sends media to", <-selB)
	agentA.Close()
	agentB.Close()
	// Output:
	// A sends media to 192.0.2.2:5000
	// B sends media to 192.0.2.1:4000
}
