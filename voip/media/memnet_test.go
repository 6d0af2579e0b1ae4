package media

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// memNet is an in-memory UDP network whose blocking is made of channels
// and timers only, so sessions on it run inside a testing/synctest bubble.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
	// filter, when set, may drop (return false) or rewrite a datagram.
	filter func(from, to netip.AddrPort, b []byte) bool
}

type memPkt struct {
	from netip.AddrPort // source; for memConn.sent, the destination
	b    []byte
	at   time.Time // when written (memConn.sent only)
}

type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	ch     chan memPkt
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	dl     time.Time
	dlKick chan struct{}
	// sent records every datagram written, with its destination.
	sent []memPkt
}

func newMemNet() *memNet { return &memNet{conns: map[netip.AddrPort]*memConn{}} }

func (n *memNet) listen(addr string) *memConn {
	ap := netip.MustParseAddrPort(addr)
	c := &memConn{n: n, addr: ap, ch: make(chan memPkt, 1024), done: make(chan struct{}), dlKick: make(chan struct{}, 1)}
	n.mu.Lock()
	n.conns[ap] = c
	n.mu.Unlock()
	return c
}

// deliver puts a datagram from 'from' into the socket at 'to' (if any).
func (n *memNet) deliver(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	dst := n.conns[to]
	f := n.filter
	n.mu.Unlock()
	cp := append([]byte(nil), b...)
	if f != nil && !f(from, to, cp) {
		return
	}
	if dst == nil {
		return
	}
	select {
	case dst.ch <- memPkt{from: from, b: cp}:
	default: // queue full: lost, like UDP
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl := c.dl
		c.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case p := <-c.ch:
			return copy(b, p.b), net.UDPAddrFromAddrPort(p.from), nil
		case <-c.done:
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-c.dlKick:
		}
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	to := addr.(*net.UDPAddr).AddrPort()
	c.mu.Lock()
	c.sent = append(c.sent, memPkt{from: to, b: append([]byte(nil), b...), at: time.Now()})
	c.mu.Unlock()
	c.n.deliver(c.addr, to, b)
	return len(b), nil
}

// sentTo returns copies of what was written, with destinations.
func (c *memConn) sentPkts() []memPkt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]memPkt(nil), c.sent...)
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl = t
	c.mu.Unlock()
	select {
	case c.dlKick <- struct{}{}:
	default:
	}
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
