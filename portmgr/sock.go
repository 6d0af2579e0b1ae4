package portmgr

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/pion/stun/v3"
	"github.com/pion/transport/v4/deadline"
	"github.com/pion/turn/v4"
)

// packet is one datagram queued for the mapping's user.
type packet struct {
	b    []byte
	from net.Addr
}

// inQueue is how many datagrams wait for a slow reader before the newest
// are dropped (about 0.6 s of 20 ms RTP).
const inQueue = 32

// sock is one bound UDP socket and the goroutine that reads it. The
// reader is the demultiplexer: STUN (RFC 7983: first byte 0..3 and
// stun.IsMessage) goes to the manager, TURN traffic from the relay server
// goes to the TURN client, everything else to the mapping's user.
type sock struct {
	m     *Manager
	mp    *Mapping
	rtcp  bool
	raw   net.PacketConn
	rio   *rawUDP // raw system calls on raw (UDP, IPv4 or IPv6, on Linux); nil: raw's methods
	local netip.AddrPort
	cl    *stunc.Client
	user  *mconn

	turn atomic.Pointer[turnAlloc]

	lastKA atomic.Int64 // unix nanoseconds of the last keepalive sent

	closed atomic.Bool
	done   chan struct{}
}

// quietSince is how long nothing (user data or keepalive) left the
// socket; a very long time when nothing ever did.
func (s *sock) quietSince() time.Duration {
	last := max(s.user.lastTx.Load(), s.lastKA.Load())
	if last == 0 {
		return time.Duration(1 << 62)
	}
	return time.Since(time.Unix(0, last))
}

func (m *Manager) newSock(mp *Mapping, raw net.PacketConn, local netip.AddrPort, rtcp bool) *sock {
	s := &sock{m: m, mp: mp, rtcp: rtcp, raw: raw, rio: newRawUDP(raw), local: local, done: make(chan struct{})}
	s.cl = &stunc.Client{RTO: m.cfg.STUNRTO, Write: s.write}
	s.user = newMconn(s)
	m.wg.Add(1)
	go s.read()
	return s
}

func (s *sock) write(b []byte, to netip.AddrPort) error {
	if s.rio != nil {
		_, err := s.rio.writeTo(b, to)
		return err
	}
	_, err := s.raw.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

func (s *sock) close() error {
	if s.closed.Load() {
		return nil
	}
	if t := s.turn.Load(); t != nil {
		// Deallocate (RFC 8656 §7: Refresh with lifetime 0) while the
		// socket still writes, then stop the client.
		t.closeRelay()
	}
	if s.closed.Swap(true) {
		return nil
	}
	if t := s.turn.Load(); t != nil {
		t.close()
	}
	s.user.Close()
	err := s.raw.Close()
	<-s.done
	return err
}

func (s *sock) read() {
	defer s.m.wg.Done()
	defer close(s.done)
	size := 4096 // RTP and RTCP fit an Ethernet MTU
	if s.mp.Kind == KindSIP {
		size = 65535 // a SIP message may use a whole UDP datagram
	}
	buf := make([]byte, size)
	// A *net.UDPConn reads without allocating a net.Addr per datagram;
	// other PacketConns (vnet in tests) through ReadFrom.
	apr, _ := s.raw.(addrPortReader)
	var pause time.Duration
	for {
		var (
			n    int
			ap   netip.AddrPort
			from net.Addr
			err  error
		)
		if s.rio != nil {
			n, ap, err = s.rio.readFrom(buf)
		} else if apr != nil {
			n, ap, err = apr.ReadFromUDPAddrPort(buf)
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else {
			n, from, err = s.raw.ReadFrom(buf)
			ap = stunc.ToAddrPort(from)
		}
		if err != nil {
			if s.closed.Load() {
				return
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				// Closed under us, not by Release: end the user's reads
				// too, so its owner sees net.ErrClosed and rebuilds
				// instead of waiting on a reader that is gone.
				s.m.log.Warn("socket closed under its mapping", "laddr", s.local, "err", err)
				s.user.Close()
				return
			}
			// Anything else (ICMP errors surfacing on some systems,
			// ENOBUFS, ENOMEM) is transient: count it and read on, a
			// little later each time so a socket stuck in error does not
			// spin.
			c := s.m.readErrs.Add(1)
			if c&(c-1) == 0 { // 1, 2, 4, 8...: not once per packet
				s.m.log.Warn("socket read failed; retrying", "laddr", s.local, "err", err, "count", c)
			}
			if n == 0 {
				pause = min(max(2*pause, time.Millisecond), 100*time.Millisecond)
				t := time.NewTimer(pause)
				select {
				case <-t.C:
				case <-s.user.closed:
					t.Stop()
				}
				continue
			}
		}
		pause = 0
		s.handleFrom(buf[:n], ap, from)
	}
}

// addrPortReader is implemented by *net.UDPConn.
type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

// addrPortWriter is implemented by *net.UDPConn.
type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// handle demultiplexes one datagram read off the socket.
func (s *sock) handle(b []byte, from net.Addr) {
	s.handleFrom(b, stunc.ToAddrPort(from), from)
}

// handleFrom demultiplexes one datagram from ap; from is ap as the
// socket returned it, or nil (then made only where a net.Addr is
// needed). b is the reader's buffer: whatever keeps it copies it.
func (s *sock) handleFrom(b []byte, ap netip.AddrPort, from net.Addr) {
	s.mp.noteRx(ap)
	if t := s.turn.Load(); t != nil && ap == t.server {
		if from == nil {
			from = net.UDPAddrFromAddrPort(ap)
		}
		_, _ = t.client.HandleInbound(append([]byte(nil), b...), from)
		return
	}
	if len(b) >= 20 && b[0] < 4 && stun.IsMessage(b) {
		s.m.onSTUN(s, b, ap)
		return
	}
	if t := s.turn.Load(); t != nil && !t.standby.Load() {
		// Media of a relayed mapping arrives through the relay.
		return
	}
	if !s.mp.rxAny.Load() {
		s.mp.rxAny.Store(true)
	}
	s.user.deliver(b, ap, from)
}

// mconn is the net.PacketConn a mapping's user reads and writes: the
// datagrams the demultiplexer left, sent from the mapping's own socket or,
// for a relayed mapping, through the TURN allocation.
type mconn struct {
	s      *sock
	in     chan packet
	rd     *deadline.Deadline
	closed chan struct{}
	once   sync.Once
	lastTx atomic.Int64 // unix nanoseconds of the user's last write
	drops  atomic.Int64

	// The receiver (see Receive). The reader holds rmu for reading while
	// it calls recv, so installing or removing one waits for a call in
	// progress.
	rmu        sync.RWMutex
	recv       func(b []byte, from netip.AddrPort)
	recvClosed func()
	recvGen    uint64 // counts installations, so a replaced one's stop does nothing
}

func newMconn(s *sock) *mconn {
	return &mconn{s: s, in: make(chan packet, inQueue), rd: deadline.New(), closed: make(chan struct{})}
}

// deliver hands one datagram to the user: to its receiver, in this
// goroutine and without a copy, when it installed one; else queued
// (copied, as the reader's buffer is reused) for ReadFrom. from may be
// nil.
func (c *mconn) deliver(b []byte, ap netip.AddrPort, from net.Addr) {
	c.rmu.RLock()
	if fn := c.recv; fn != nil {
		fn(b, ap)
		c.rmu.RUnlock()
		return
	}
	c.rmu.RUnlock()
	if from == nil {
		from = net.UDPAddrFromAddrPort(ap)
	}
	select {
	case c.in <- packet{b: append([]byte(nil), b...), from: from}:
	default:
		c.drops.Add(1)
	}
}

// Receive makes the mapping deliver every datagram its demultiplexer
// leaves for the user by calling fn in the socket's reader goroutine,
// instead of queueing a copy for ReadFrom: no copy, no channel, no
// goroutine hop per packet (voip/media uses it for RTP and RTCP). b is
// the reader's buffer, valid only during the call; from is unmapped
// (IPv4 as IPv4). fn must be quick and must not block: the socket's
// STUN and TURN traffic waits behind it. Datagrams already queued are
// handed to fn first, in order.
//
// closed, when not nil, is called once if the connection is closed
// (Release, Manager.Close, or the socket closed under the mapping)
// while fn is installed; fn is removed first, so it is not called
// after closed (nor during it). The returned stop removes fn, waiting for a
// call in progress to return; after it ReadFrom gets the datagrams again
// and closed is not called. stop is idempotent. Only one receiver may be
// installed at a time: a second Receive replaces the first, whose stop
// then does nothing.
func (c *mconn) Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func()) {
	c.rmu.Lock()
	c.recv, c.recvClosed = fn, closed
	c.recvGen++
	gen := c.recvGen
	for {
		select {
		case pk := <-c.in:
			fn(pk.b, stunc.ToAddrPort(pk.from))
			continue
		default:
		}
		break
	}
	c.rmu.Unlock()
	select {
	case <-c.closed:
		c.fireClosed()
	default:
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.rmu.Lock()
			if c.recvGen == gen {
				c.recv, c.recvClosed = nil, nil
			}
			c.rmu.Unlock()
		})
	}
}

// fireClosed removes the receiver (waiting for a call in progress) and
// calls its closed callback.
func (c *mconn) fireClosed() {
	c.rmu.Lock()
	cb := c.recvClosed
	c.recv, c.recvClosed = nil, nil
	c.rmu.Unlock()
	if cb != nil {
		cb()
	}
}

// ReadFrom returns the next datagram that is not STUN or TURN. A
// datagram larger than p is dropped and counted (Report.DroppedOversize),
// never returned cut short or as an error: a reader such as sipgo's ends
// on any error but net.ErrClosed, so one stranger's oversized packet
// would otherwise silence the socket for good. The only errors are
// net.ErrClosed and os.ErrDeadlineExceeded.
func (c *mconn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-c.closed:
		return 0, nil, net.ErrClosed
	default:
	}
	for {
		select {
		case pk := <-c.in:
			if len(pk.b) > len(p) {
				n := c.s.m.oversize.Add(1)
				if n&(n-1) == 0 {
					c.s.m.log.Warn("dropped a datagram larger than the read buffer",
						"laddr", c.s.local, "raddr", pk.from, "size", len(pk.b), "buffer", len(p), "count", n)
				}
				continue
			}
			return copy(p, pk.b), pk.from, nil
		case <-c.rd.Done():
			return 0, nil, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, nil, net.ErrClosed
		}
	}
}

// WriteTo sends from the mapping's socket (symmetric UDP), or through the
// relay when the mapping is relayed.
func (c *mconn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.lastTx.Store(time.Now().UnixNano())
	if t := c.s.turn.Load(); t != nil && t.ready() {
		return t.send(p, addr)
	}
	if ua, ok := addr.(*net.UDPAddr); ok && c.s.rio != nil {
		return c.s.rio.writeTo(p, ua.AddrPort())
	}
	return c.s.raw.WriteTo(p, addr)
}

// WriteToUDPAddrPort is WriteTo without a net.Addr: from the socket
// itself, without allocating, when it is a *net.UDPConn and the mapping
// is not relayed.
func (c *mconn) WriteToUDPAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.lastTx.Store(time.Now().UnixNano())
	if t := c.s.turn.Load(); t != nil && t.ready() {
		return t.send(p, net.UDPAddrFromAddrPort(addr))
	}
	if c.s.rio != nil {
		return c.s.rio.writeTo(p, addr)
	}
	if w, ok := c.s.raw.(addrPortWriter); ok {
		return w.WriteToUDPAddrPort(p, addr)
	}
	return c.s.raw.WriteTo(p, net.UDPAddrFromAddrPort(addr))
}

// Close ends reads and writes on this handle. The socket itself is
// closed by Release (or Manager.Close), which the owner must still call.
func (c *mconn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.fireClosed()
	})
	return nil
}

// LocalAddr is the bound socket's address.
func (c *mconn) LocalAddr() net.Addr { return c.s.raw.LocalAddr() }

// SetDeadline sets the read deadline (writes never block).
func (c *mconn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *mconn) SetReadDeadline(t time.Time) error { c.rd.Set(t); return nil }

// SetWriteDeadline is a no-op: writes never block.
func (c *mconn) SetWriteDeadline(time.Time) error { return nil }

// Receiver is implemented by every Mapping's Conn (and RTCPConn): see
// Receive above. A user that handles datagrams as they come (voip/media)
// asserts it instead of calling ReadFrom.
type Receiver interface {
	Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func())
}

var (
	_ net.PacketConn = (*mconn)(nil)
	_ Receiver       = (*mconn)(nil)
)

// turnAlloc is one TURN allocation made through a mapping's socket.
type turnAlloc struct {
	client *turn.Client
	server netip.AddrPort

	mu          sync.Mutex // guards relay, relayClosed
	relay       net.PacketConn
	relayClosed bool
	standby     atomic.Bool // a warm allocation the mapping does not use yet (relay.go)
	out         chan packet // writes queued for the relay
	drops       atomic.Int64

	stream net.Conn // the TCP or TLS leg to the server (turnstream.go), nil over UDP

	once      sync.Once
	relayOnce sync.Once
	quit      chan struct{} // stops the writer
	done      chan struct{} // closed when the reader and writer are gone
}

// setRelay installs the allocation's relayed connection; it reports false
// (and the caller closes conn) when the mapping closed meanwhile.
func (t *turnAlloc) setRelay(conn net.PacketConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.relayClosed {
		return false
	}
	t.relay = conn
	return true
}

func (t *turnAlloc) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.relay != nil && !t.relayClosed && !t.standby.Load()
}

// send queues a datagram for the relay. pion's relayed WriteTo can block
// for seconds (it installs a permission or a channel first, and a dead
// allocation retransmits); the queue keeps that off the caller's media
// loop. A full queue drops, as a congested link would.
func (t *turnAlloc) send(p []byte, to net.Addr) (int, error) {
	select {
	case t.out <- packet{b: append([]byte(nil), p...), from: to}:
	default:
		t.drops.Add(1)
	}
	return len(p), nil
}

func (t *turnAlloc) closeRelay() {
	t.mu.Lock()
	r := t.relay
	t.relayClosed = true
	t.mu.Unlock()
	t.relayOnce.Do(func() {
		if r != nil {
			_ = r.Close()
		}
	})
}

func (t *turnAlloc) close() {
	t.once.Do(func() {
		t.closeRelay()
		t.client.Close()
		if t.stream != nil {
			_ = t.stream.Close()
		}
		close(t.quit)
		if t.done != nil {
			<-t.done
		}
	})
}
