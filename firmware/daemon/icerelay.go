package daemon

import (
	"net/netip"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// ICE's relayed candidate (voip/sip call_ice.go) is the port manager's
// warm standby TURN allocation: the line's mapper passes the calls on,
// as it does Relay (relay.go); without them the wrapper hid the
// allocation and phoned offered no relayed candidate.

// StandbyRelay implements sip.ICERelayer.
func (m *lineMapper) StandbyRelay(mp *portmgr.Mapping) (rtp, rtcp netip.AddrPort) {
	return m.pm.StandbyRelay(mp)
}

// SendRelayed implements sip.ICERelayer.
func (m *lineMapper) SendRelayed(mp *portmgr.Mapping, rtcp bool, b []byte, to netip.AddrPort) error {
	return m.pm.SendRelayed(mp, rtcp, b, to)
}

// PermitRelay implements sip.ICERelayer.
func (m *lineMapper) PermitRelay(mp *portmgr.Mapping, peers ...netip.Addr) error {
	return m.pm.PermitRelay(mp, peers...)
}

var _ sip.ICERelayer = (*lineMapper)(nil)

// StandbyExpected implements the optional wait of sip's ICE for the
// standby allocation.
func (m *lineMapper) StandbyExpected(mp *portmgr.Mapping) bool { return m.pm.StandbyExpected(mp) }
