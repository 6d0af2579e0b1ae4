package portmgrtest

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v4"
)

// SocketLog is a transport.Net that records the local address of every
// UDP socket opened through ListenPacket or ListenUDP (the sockets that
// carry traffic), and counts what is written on sockets made with Dial or
// DialUDP (a route lookup, as the port manager does to learn its local
// address, should send nothing). Everything else goes to Net.
type SocketLog struct {
	transport.Net

	mu     sync.Mutex
	listen []netip.AddrPort
	dials  int
	writes atomic.Int64 // datagrams written on dialled sockets
}

// NewSocketLog wraps n.
func NewSocketLog(n transport.Net) *SocketLog { return &SocketLog{Net: n} }

func (l *SocketLog) noteListen(a net.Addr) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return
	}
	l.mu.Lock()
	l.listen = append(l.listen, ap)
	l.mu.Unlock()
}

// ListenPacket implements transport.Net.
func (l *SocketLog) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := l.Net.ListenPacket(network, address)
	if err == nil {
		l.noteListen(c.LocalAddr())
	}
	return c, err
}

// ListenUDP implements transport.Net.
func (l *SocketLog) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := l.Net.ListenUDP(network, laddr)
	if err == nil {
		l.noteListen(c.LocalAddr())
	}
	return c, err
}

// Dial implements transport.Net.
func (l *SocketLog) Dial(network, address string) (net.Conn, error) {
	c, err := l.Net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.dials++
	l.mu.Unlock()
	return &countConn{Conn: c, n: &l.writes}, nil
}

// DialUDP implements transport.Net.
func (l *SocketLog) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := l.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.dials++
	l.mu.Unlock()
	return &countUDPConn{UDPConn: c, n: &l.writes}, nil
}

// Listened returns the local addresses of the sockets opened with
// ListenPacket or ListenUDP, in order.
func (l *SocketLog) Listened() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]netip.AddrPort(nil), l.listen...)
}

// Dialled returns how many sockets were made with Dial or DialUDP and how
// many datagrams were written on them.
func (l *SocketLog) Dialled() (sockets int, writes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dials, l.writes.Load()
}

type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

type countUDPConn struct {
	transport.UDPConn
	n *atomic.Int64
}

func (c *countUDPConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.UDPConn.Write(b)
}

func (c *countUDPConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.n.Add(1)
	return c.UDPConn.WriteTo(b, a)
}

func (c *countUDPConn) WriteToUDP(b []byte, a *net.UDPAddr) (int, error) {
	c.n.Add(1)
	return c.UDPConn.WriteToUDP(b, a)
}

func (c *countUDPConn) WriteMsgUDP(b, oob []byte, a *net.UDPAddr) (int, int, error) {
	c.n.Add(1)
	return c.UDPConn.WriteMsgUDP(b, oob, a)
}
