package portmgr

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun/v3"
)

// startEarly is RTC's EnableEarlyUDPPackets: as soon as the far end's
// media address is known, send small packets from the media sockets to
// it, every EarlyUDPInterval, until something arrives from it (or any
// media arrives) or EarlyUDPDuration passes. Each packet opens our own
// NAT's filter toward the far end, so its early media and first words
// get in.
//
// The packet is a STUN Binding request with FINGERPRINT (RFC 6263 §4.4
// discusses STUN as an RTP keepalive): an RFC 7983 demultiplexer hands it
// to STUN, an ICE agent answers or ignores it, and a plain RTP stack
// drops it (version bits 00 are not RTP version 2). A zero-length UDP
// datagram (§4.1) was rejected: some stacks treat it as an error.
func (m *Manager) startEarly(mp *Mapping, remote netip.AddrPort) {
	if m.cfg.DisableEarlyUDP || mp.rtp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.EarlyUDPDuration)
	m.mu.Lock()
	if mp.early != nil {
		mp.early()
	}
	mp.early = cancel
	m.mu.Unlock()
	mp.rxAny.Store(false)
	mp.rxFrom.Store(nil)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		rtcpRemote := netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
		t := time.NewTicker(m.cfg.EarlyUDPInterval)
		defer t.Stop()
		sent := 0
		for {
			if arrived(mp, remote) {
				m.log.Debug("early udp: far end heard", "laddr", mp.rtp.local, "raddr", remote, "sent", sent)
				return
			}
			m.earlyPacket(mp.Conn, remote)
			if mp.RTCPConn != nil {
				m.earlyPacket(mp.RTCPConn, rtcpRemote)
			}
			sent++
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func arrived(mp *Mapping, remote netip.AddrPort) bool {
	if mp.rxAny.Load() {
		return true
	}
	p := mp.rxFrom.Load()
	return p != nil && *p == remote
}

func (m *Manager) earlyPacket(c net.PacketConn, to netip.AddrPort) {
	msg, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return
	}
	mc, ok := c.(*mconn)
	if !ok {
		return
	}
	// Through the relay for a relayed mapping (which also installs the
	// TURN permission for the far end), else from the socket itself.
	if t := mc.s.turn.Load(); t != nil && t.ready() {
		_, _ = t.send(msg.Raw, net.UDPAddrFromAddrPort(to))
		return
	}
	_, _ = mc.s.raw.WriteTo(msg.Raw, net.UDPAddrFromAddrPort(to))
}

func (m *Manager) stopEarly(mp *Mapping) {
	m.mu.Lock()
	cancel := mp.early
	mp.early = nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
