//go:build !linux || 386

package portmgr

import "net/netip"

// rawRouteSource: the net package's dial is the only way here.
func rawRouteSource(netip.AddrPort) (netip.Addr, error) { return netip.Addr{}, errRawRoute }
