//go:build linux && !386

package portmgr

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// rawRouteSource finds what a UDP dial finds: the same source address,
// or a failure where the dial fails (no route), for each family.
func TestRawRouteSource(t *testing.T) {
	for _, target := range []string{"127.0.0.1:9", "127.0.0.2:5060", "192.0.2.1:9", "[::1]:9", "[2001:db8::1]:9", "[::ffff:127.0.0.1]:9"} {
		ap := netip.MustParseAddrPort(target)
		got, err := rawRouteSource(ap)
		network := "udp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "udp6"
		}
		c, derr := net.Dial(network, target)
		if derr != nil {
			if err == nil {
				t.Errorf("%s: raw lookup gives %v, the dial fails: %v", target, got, derr)
			} else {
				t.Logf("%s: both fail: %v / %v", target, err, derr)
			}
			continue
		}
		want := netip.MustParseAddrPort(c.LocalAddr().String()).Addr().Unmap()
		c.Close()
		if err != nil || got != want {
			t.Errorf("%s: raw lookup %v, %v; the dial's source %v", target, got, err, want)
		}
	}
	// A zone needs an interface lookup: the dial does it.
	if _, err := rawRouteSource(netip.MustParseAddrPort("[fe80::1%lo]:9")); !errors.Is(err, errRawRoute) {
		t.Errorf("zoned address: %v, want errRawRoute", err)
	}
}
