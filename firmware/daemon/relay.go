package daemon

import (
	"context"
	"net/netip"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// The media-liveness rule (voip/sip call_relay.go) moves a call to the
// TURN relay through its Mapper when that can relay: the line's mapper
// passes it on to the port manager, as it does the warm allocation's
// release. Without these the lines' wrapper hid the manager's Relay and
// the rule never fired in phoned.

// Relay implements sip.Relayer.
func (m *lineMapper) Relay(ctx context.Context, mp *portmgr.Mapping, peers ...netip.Addr) error {
	return m.pm.Relay(ctx, mp, peers...)
}

// DropStandby implements sip.StandbyDropper.
func (m *lineMapper) DropStandby(mp *portmgr.Mapping) { m.pm.DropStandby(mp) }

var (
	_ sip.Relayer        = (*lineMapper)(nil)
	_ sip.StandbyDropper = (*lineMapper)(nil)
)
