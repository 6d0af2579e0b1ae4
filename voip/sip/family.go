package sip

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip/resolve"
)

// IPv6 and IPv4 (dual stack). The UA has one SIP socket, of one family:
// the family of the server target in use. The resolver asks AAAA and A
// records and orders a name's addresses IPv6 first, alternating (RFC
// 8305 §4); a target of a family the phone has no source address for
// (the Mapper's Reachable) is passed over, so on an IPv4-only network
// the IPv4 target is used at once. When failover moves to a target of
// the other family, the SIP socket is released and the transport's
// watchdog maps a new one toward the new target (and registers again).
// Media sockets take the family of the far end's SDP address, or, before
// it is known, the SIP socket's.

// reacher is implemented by a Mapper that can tell whether the phone has
// a source address toward an address (*portmgr.Manager).
type reacher interface {
	Reachable(ip netip.Addr) bool
}

// reachable reports whether the phone can send to ip: true when the
// Mapper cannot tell.
func (u *UA) reachable(ip netip.Addr) bool {
	if r, ok := u.cfg.Mapper.(reacher); ok {
		return r.Reachable(ip)
	}
	return true
}

// mediaHint is the address whose route picks a new media socket's family
// and local address before the far end's SDP is known: the SIP socket's
// local address, with port 0 (a hint, not a destination: see
// portmgr.Mapper).
func (u *UA) mediaHint() netip.AddrPort {
	mp := u.mapping()
	if mp == nil {
		return netip.AddrPort{}
	}
	ip := mp.Local().Addr()
	if !ip.IsValid() || ip.IsUnspecified() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, 0)
}

// switchFamily releases the UDP SIP mapping when target is of the other
// family (a socket sends to one family only); the watchdog (serveUDP)
// sees the socket closed and maps a new one toward the server in use.
// It reports whether it released mp.
func (u *UA) switchFamily(mp *portmgr.Mapping, target netip.AddrPort) bool {
	if mp == nil || u.tr != portmgr.UDP || !target.IsValid() {
		return false
	}
	local := mp.Local().Addr()
	if !local.IsValid() || local.Unmap().Is4() == target.Addr().Unmap().Is4() {
		return false
	}
	u.log.Info("server target is of the other IP family: new SIP socket", "laddr", mp.Local(), "target", target)
	u.mu.Lock()
	if u.sipMap == mp {
		u.sipMap = nil // no socket until the watchdog maps one (regTarget waits)
	}
	u.mu.Unlock()
	if err := u.cfg.Mapper.Release(mp); err != nil {
		u.log.Debug("release SIP mapping", "err", err)
	}
	return true
}

// uriHost is h as the host of a SIP URI: a bare IPv6 literal (a domain
// configured as fd00::1) in brackets (RFC 3261 §25.1 IPv6reference),
// anything else as it is.
func uriHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil && ip.Is6() {
		return "[" + h + "]"
	}
	return h
}

// FamilyFallback is how long a REGISTER to an IPv6 target that has not
// answered before waits for an answer when the server also has an IPv4
// target: then the IPv6 target counts as failed and the IPv4 one is
// used (RFC 8305's preference for IPv6 with a quick fallback, for UDP
// where no connection attempt can fail fast). 2 s lets the request go
// out four times at the default T1 (0, 0.5, 1.5 s).
const FamilyFallback = 2 * time.Second

// familyCtx bounds one REGISTER to tg by FamilyFallback when tg is an
// IPv6 target that never answered and the server has an IPv4 target not
// being avoided; otherwise it returns ctx. done turns the bound's expiry
// into a timeout (a failover cause) and releases the bound.
func (u *UA) familyCtx(ctx context.Context, tg resolve.Target) (context.Context, func(error) error) {
	none := func(err error) error { return err }
	t := u.getTargets()
	if t == nil || t.set == nil || !tg.Addr.Addr().Unmap().Is6() {
		return ctx, none
	}
	t.mu.Lock()
	heard := t.answered[tg.Addr]
	t.mu.Unlock()
	if heard {
		return ctx, none
	}
	has4 := false
	for _, ts := range t.set.State().Targets {
		if ts.Addr.Addr().Unmap().Is4() && ts.AvoidUntil.IsZero() {
			has4 = true
			break
		}
	}
	if !has4 {
		return ctx, none
	}
	rctx, cancel := context.WithTimeout(ctx, FamilyFallback)
	return rctx, func(err error) error {
		expired := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && expired {
			return fmt.Errorf("%w: no answer over IPv6 within %s: trying IPv4", ErrTimeout, FamilyFallback)
		}
		return err
	}
}
