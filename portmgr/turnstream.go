package portmgr

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
)

// TURN over TCP and TLS (TURNConfig.Transport): the client-to-server leg
// is a stream per allocation (RFC 8656 §3.1; RFC 6062's TCP relaying is
// not used, the peer side stays UDP), for networks that let only TCP out
// (e.g. 443). STUN and TURN messages and ChannelData are framed on the
// stream as RFC 8656 §11.5 says (pion's STUNConn); the TURN client reads
// the stream itself, the mapping's UDP sockets stay bound (their reader
// and the media session's Conn are unchanged) and media reaches them
// through the relay. No UDP keepalive is sent to the server: the stream
// carries the allocation's refreshes.

// dialTURN opens the stream to server for a TCP or TLS leg; nil, nil over
// UDP.
func (m *Manager) dialTURN(ctx context.Context, server netip.AddrPort) (net.Conn, error) {
	tr := m.cfg.TURN.Transport
	if tr == "" || tr == "udp" {
		return nil, nil
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() { // transport.Net's Dial takes no context
		c, err := m.cfg.Net.Dial("tcp", server.String())
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("dial %s: %w", tr, r.err)
	}
	if tr == "tcp" {
		return r.c, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.cfg.TURN.TLSConfig != nil {
		cfg = m.cfg.TURN.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(m.cfg.TURN.Server)
		if err != nil {
			host = server.Addr().String()
		}
		cfg.ServerName = host
	}
	tc := tls.Client(r.c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = r.c.Close()
		return nil, fmt.Errorf("tls %s: %w", server, err)
	}
	return tc, nil
}
