//go:build !linux

package portmgr

import (
	"net"
	"net/netip"
)

// rawUDP is the Linux raw system call path (rawudp_linux.go); elsewhere
// every socket takes the net package's.
type rawUDP struct{}

func newRawUDP(net.PacketConn) *rawUDP { return nil }

func (*rawUDP) readFrom([]byte) (int, netip.AddrPort, error) { panic("portmgr: no raw UDP path") }

func (*rawUDP) writeTo([]byte, netip.AddrPort) (int, error) { panic("portmgr: no raw UDP path") }
