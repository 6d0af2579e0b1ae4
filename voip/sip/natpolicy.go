package sip

import (
	"errors"

	"github.com/deskphone/phone/portmgr"
)

// HandlePortEvent applies the NAT-change policy for one of the port
// manager's events: when this UA's SIP mapping changed address or lost its
// binding, re-REGISTER and re-INVITE every live call (so the registrar and
// the far ends reach the new Contact); when one of its calls' media
// mapping changed, re-INVITE that call with the new c=/m= (the RFC 3665
// §3.7 flow); a SIP ALG report on its SIP mapping is logged at WARN.
// Events for mappings this UA does not own are ignored, so the daemon can
// hand every event to every line's UA. It does not block on the network.
func (u *UA) HandlePortEvent(ev portmgr.Event) {
	if ev.Mapping == nil {
		return
	}
	own := ev.Mapping == u.mapping()
	switch ev.Kind {
	case portmgr.EventExternalChanged, portmgr.EventFlowFailed:
		if own {
			u.log.Info("external address changed: re-registering", "kind", ev.Kind, "old", ev.Old, "new", ev.New)
			u.Reregister()
			for _, c := range u.Calls() {
				u.refreshCall(c)
			}
			// The notifiers send to the Contact our SUBSCRIBEs gave:
			// refresh them so NOTIFYs (MWI, BLF) follow the new address.
			u.ResubscribeAll()
			return
		}
		if ev.Mapping.Kind != portmgr.KindMedia {
			return
		}
		for _, c := range u.Calls() {
			if c.UsesMapping(ev.Mapping) {
				c.log.Info("media address changed: re-INVITE", "old", ev.Old, "new", ev.New)
				u.refreshCall(c)
			}
		}
	case portmgr.EventALG:
		if own {
			u.log.Warn("a SIP ALG rewrote our signalling", "sent", ev.Old, "seen", ev.New)
		}
	}
}

// refreshCall re-INVITEs a live call; calls not yet answered, ended, or
// with a re-INVITE already open are left alone.
func (u *UA) refreshCall(c *Call) {
	if err := c.refreshICE(); err != nil && !errors.Is(err, ErrCallState) { // call_ice.go: Refresh, restarting ICE
		c.log.Warn("re-INVITE after address change", "err", err)
	}
}
