package portmgr_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// Example shows a phone behind a port-restricted NAT learning the
// addresses to advertise for its SIP flow and for a call's media.
func Example() {
	t := &testing.T{}
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		m, err := portmgr.New(portmgr.Config{
			Net:         site.Net,
			STUNServers: []string{w.STUNServer().String()},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer m.Close()
		_ = m.Ready(context.Background())
		sip, _ := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.MustParseAddrPort("198.51.100.50:5060"))
		media, _ := m.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		// The NAT's public IP; its ports depend on the order of discovery.
		fmt.Println("SIP:", sip.Local(), "advertised as", sip.External().Addr(), "via", sip.Via())
		fmt.Println("RTP:", media.Local(), "advertised as", media.External().Addr(), "via", media.Via())
		fmt.Println("NAT:", m.Report().Type)
	})
	// Output:
	// SIP: 10.0.1.2:5060 advertised as 203.0.113.1 via stun
	// RTP: 10.0.1.2:16384 advertised as 203.0.113.1 via stun
	// NAT: port-restricted-cone
}
