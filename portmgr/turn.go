package portmgr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"
)

// learnTURN allocates a relay (RFC 8656) for each of the mapping's
// sockets, through that very socket, and makes the mapping's Conn and
// RTCPConn read and write through the relay. pion's relayed connection
// refreshes the allocation (at half its lifetime), the permissions and
// the channel bindings; the keepalive scheduler keeps the NAT binding to
// the TURN server open.
func (m *Manager) learnTURN(ctx context.Context, mp *Mapping) error {
	mp.relayMu.Lock()
	defer mp.relayMu.Unlock()
	return m.learnTURNLocked(ctx, mp)
}

// learnTURNLocked is learnTURN with mp.relayMu held.
func (m *Manager) learnTURNLocked(ctx context.Context, mp *Mapping) error {
	m.dropAllocs(mp) // a warm standby one is replaced
	return m.eachTURN(ctx, mp.local.Addr(), func(ctx context.Context, server netip.AddrPort) error {
		return m.learnTURNOn(ctx, mp, server)
	})
}

// learnTURNOn allocates on mp's sockets at server.
func (m *Manager) learnTURNOn(ctx context.Context, mp *Mapping, server netip.AddrPort) error {
	socks := []*sock{mp.rtp}
	if mp.rtcp != nil {
		socks = append(socks, mp.rtcp)
	}
	var relayed []netip.AddrPort
	for _, s := range socks {
		a, err := m.allocate(ctx, s, server, false)
		if err != nil {
			m.log.Warn("turn allocate", "server", server, "laddr", s.local, "err", err)
			for _, s := range socks {
				if t := s.turn.Swap(nil); t != nil {
					t.close()
				}
			}
			return err
		}
		relayed = append(relayed, a)
	}
	m.mu.Lock()
	mp.external, mp.via = relayed[0], StrategyTURN
	if len(relayed) > 1 {
		mp.extRTCP = relayed[1]
	}
	m.mu.Unlock()
	m.log.Info("relayed", "laddr", mp.rtp.local, "ext", relayed[0], "server", server)
	return nil
}

// allocate makes an allocation through s. A standby one (relay.go) is
// kept warm but not used: direct media still flows on s until Relay
// activates it.
func (m *Manager) allocate(ctx context.Context, s *sock, server netip.AddrPort, standby bool) (netip.AddrPort, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	var conn net.PacketConn = &closingConn{PacketConn: s.raw, closed: &s.closed}
	stream, err := m.dialTURN(ctx, server) // turnstream.go; nil over UDP
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("turn %s: %w", server, err)
	}
	if stream != nil {
		conn = turn.NewSTUNConn(stream)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: server.String(),
		Username:       m.cfg.TURN.Username,
		Password:       m.cfg.TURN.Password,
		Realm:          m.cfg.TURN.Realm,
		Conn:           conn,
		Net:            literalNet{m.cfg.Net}, // turn6.go: pion resolves over IPv4 only
		LoggerFactory:  lf,
		RTO:            m.cfg.STUNRTO,
	})
	if err != nil {
		if stream != nil {
			_ = stream.Close()
		}
		return netip.AddrPort{}, err
	}
	t := &turnAlloc{client: c, server: server, out: make(chan packet, inQueue),
		quit: make(chan struct{}), done: make(chan struct{}), stream: stream}
	if stream != nil {
		if err := c.Listen(); err != nil { // reads the stream itself
			c.Close()
			_ = stream.Close()
			return netip.AddrPort{}, err
		}
	}
	t.standby.Store(standby)
	s.turn.Store(t) // from now on the reader hands the server's packets to c
	type result struct {
		conn net.PacketConn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := c.Allocate()
		ch <- result{conn, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		c.Close() // fails the pending transaction
		r = <-ch
		if r.conn != nil {
			_ = r.conn.Close()
		}
		r = result{nil, ctx.Err()}
	}
	if r.err != nil {
		close(t.done)
		s.turn.Store(nil)
		c.Close()
		if stream != nil {
			_ = stream.Close()
		}
		return netip.AddrPort{}, fmt.Errorf("turn %s: %w", server, r.err)
	}
	if !t.setRelay(r.conn) {
		_ = r.conn.Close()
		if stream != nil {
			_ = stream.Close()
		}
		close(t.done)
		return netip.AddrPort{}, net.ErrClosed
	}
	relayed := stunc.ToAddrPort(r.conn.LocalAddr())
	if !sameFamily(relayed.Addr(), s.local.Addr()) { // turn6.go
		s.turn.Store(nil)
		close(t.done) // no pumps to wait for
		t.close()     // the relayed conn (freeing the allocation), the client, the stream
		err := errRelayFamily(server, relayed, s.local)
		m.markWrongFamily(server, err)
		return netip.AddrPort{}, err
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		pumps.Wait()
		close(t.done)
	}()
	// Pump the relay into the mapping's user queue.
	go func() {
		defer pumps.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := r.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mp.noteRx(stunc.ToAddrPort(from))
			if n >= 20 && buf[0] < 4 && stunc.IsSTUN(buf[:n]) {
				if s.mp.hookSTUN(buf[:n], stunc.ToAddrPort(from), s.rtcp, true) { // ice.go
					continue
				}
				m.onSTUNRelayed(t, buf[:n], stunc.ToAddrPort(from))
				continue
			}
			s.mp.rxAny.Store(true)
			s.user.deliver(buf[:n], stunc.ToAddrPort(from), from)
		}
	}()
	// Drain the write queue into the relay.
	go func() {
		defer pumps.Done()
		for {
			select {
			case <-t.quit:
				return
			case p := <-t.out:
				_, _ = r.conn.WriteTo(p.b, p.from)
			}
		}
	}()
	return relayed, nil
}

// onSTUNRelayed handles STUN that came through the relay from the peer
// (its early UDP or keepalives): Binding requests are answered through
// the relay, the rest is dropped.
func (m *Manager) onSTUNRelayed(t *turnAlloc, b []byte, from netip.AddrPort) {
	if resp, ok := stunc.AnswerBinding(b, from); ok {
		_, _ = t.send(resp, net.UDPAddrFromAddrPort(from))
	}
}

// closingConn is the socket as the TURN client sees it: once the mapping
// is closing, writes fail at once, so a transaction pion starts while
// the allocation is torn down (a channel bind after a last write) ends
// with an error instead of waiting on a socket that is going away.
type closingConn struct {
	net.PacketConn
	closed *atomic.Bool
}

func (c *closingConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.PacketConn.WriteTo(b, to)
}
