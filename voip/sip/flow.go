package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/hal/wake"
	"github.com/deskphone/phone/voip/sip/sipstream"
)

// The flow is the UA's TCP or TLS connection to its registrar or outbound
// proxy (RFC 5626 §3: the flow that REGISTER, incoming requests and
// outgoing requests share). The UA dials it itself and hands it to sipgo
// through a listener (flowListener) instead of letting sipgo dial, so that
// it sees the connection end: sipgo closes a connection on a framing
// error or a message over its size limit, and nothing told the UA, which
// kept showing registered while the registrar could no longer reach it.
//
// A failed flow (RFC 5626 §4.4) is noticed when its reader stops, at
// once: the registration is marked failed, a new connection is dialled
// (again at once, then backing off), and the UA registers on it. A
// message that has begun must complete within Config.StreamReadTimeout,
// so a Content-Length larger than its body cannot hold the stream.

const (
	defaultStreamReadTimeout = 10 * time.Second
	flowDialTimeout          = 10 * time.Second
	flowRetryMax             = 30 * time.Second
	// flowShortLived: a flow that dies sooner than this after the
	// watchdog brought it up, without a byte from the server, counts as
	// refused, and the next one waits.
	flowShortLived = 5 * time.Second
)

// flowReaderStall is how long a flow connection may go without sipgo
// coming back to read it after a read returned data. sipgo's reader
// stops on a message it cannot parse and closes the socket only when its
// reference count says so; with the count off by one the socket stayed
// open and unread, so neither the UA nor the registrar noticed, and the
// line was deaf until the next keepalive (TestHostileCorpusTCP, about 1
// run in 40). The next read normally starts within microseconds.
var flowReaderStall = 3 * time.Second

// errReaderGone fails a flow whose reader stopped.
var errReaderGone = errors.New("the SIP stack stopped reading the connection (a message it could not parse)")

// flowKeepalive is the base interval of the CRLF keepalives on the flow
// (RFC 5626 §4.4.1: 95 to 120 s on a stream without a Flow-Timer); each
// wait adds up to a quarter more at random. They keep the flow open
// through NATs and past servers that close idle connections. A variable
// for tests.
var flowKeepalive = 95 * time.Second

// flowPongWait is how long a keepalive may go unanswered (RFC 5626
// §4.4.1: 10 s) once the server has answered one. A variable for tests.
var flowPongWait = 10 * time.Second

// flow manages the UA's stream connection.
type flow struct {
	u   *UA
	ln  *flowListener
	mu  sync.Mutex // guards cur
	cur *flowConn
	// dialMu serialises dials: one connection at a time.
	dialMu sync.Mutex
	// up is signalled when a new connection is in sipgo's pool.
	up chan struct{}
	// dial makes the raw connection (tests replace it).
	dial func(ctx context.Context) (net.Conn, error)
}

func newFlow(u *UA) *flow {
	f := &flow{u: u, ln: newFlowListener(), up: make(chan struct{}, 1)}
	f.dial = f.dialServer
	return f
}

// start serves the flow listener with sipgo and runs the watchdog.
func (f *flow) start() {
	u := f.u
	u.mu.Lock()
	u.tstat.State, u.tstat.Since = TransportDown, time.Now() // until the first connect
	u.mu.Unlock()
	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		var err error
		if u.transportName() == "TLS" {
			err = u.tpl.ServeTLS(f.ln)
		} else {
			err = u.tpl.ServeTCP(f.ln)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			u.log.Warn("serve flow", "err", err)
		}
	}()
	go func() { defer u.wg.Done(); f.watch() }()
}

// close stops accepting; the connection itself is closed by closeStream.
func (f *flow) close() { f.ln.Close() }

func (f *flow) live() *flowConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil && f.cur.failed() {
		return nil
	}
	return f.cur
}

// ensure returns the live connection, dialling one when there is none.
func (f *flow) ensure(ctx context.Context) error {
	if f.live() != nil {
		return nil
	}
	f.dialMu.Lock()
	defer f.dialMu.Unlock()
	if f.live() != nil {
		return nil
	}
	if f.u.closing.Load() {
		return errNoSocket
	}
	ctx, cancel := context.WithTimeout(ctx, flowDialTimeout)
	defer cancel()
	raw, err := f.dial(ctx)
	if err != nil {
		return fmt.Errorf("sip: flow to %s: %w", f.u.currentServer(), err)
	}
	c := newFlowConn(raw, f.u.cfg.StreamReadTimeout)
	if err := f.ln.hand(ctx, c); err != nil {
		raw.Close()
		return fmt.Errorf("sip: flow to %s: %w", f.u.currentServer(), err)
	}
	// Up before the connection is published: a request that finds it
	// live may register before this goroutine goes on, and a status
	// read then must not say down.
	f.u.setTransport(TransportUp, nil)
	f.mu.Lock()
	f.cur = c
	f.mu.Unlock()
	f.u.log.Info("flow connected", "laddr", raw.LocalAddr(), "raddr", raw.RemoteAddr())
	f.u.goFn(func() { f.keepalive(c) })
	select {
	case f.up <- struct{}{}:
	default:
	}
	return nil
}

// dialServer connects to the registrar or outbound proxy (TLS verified
// against its host name, as sipgo would).
func (f *flow) dialServer(ctx context.Context) (net.Conn, error) {
	u := f.u
	var d net.Dialer
	srv := u.currentServer()
	if !srv.IsValid() {
		return nil, errors.New("the server's address is not known yet")
	}
	raw, err := d.DialContext(ctx, "tcp", srv.String())
	if err != nil {
		return nil, err
	}
	if u.transportName() != "TLS" {
		return raw, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.cfg.Account.TLS != nil {
		conf = u.cfg.Account.TLS.Clone()
	}
	if conf.ServerName == "" {
		s := u.cfg.Account.OutboundProxy
		if s == "" {
			s = u.cfg.Account.Registrar
		}
		if uri, err := parseServer(s, "tls"); err == nil {
			conf.ServerName = uri.Host
		}
	}
	tc := tls.Client(raw, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// watch is the flow's watchdog: it waits for the live connection to fail,
// marks the transport down and the registration failed, dials again
// (at once, then backing off to flowRetryMax) and registers again.
func (f *flow) watch() {
	u := f.u
	// short counts flows in a row that died within flowShortLived of
	// coming up, the server having sent nothing on them: a server that takes each connection and closes it at
	// once (a TLS 1.3 server refusing our client certificate, a proxy
	// shedding load) would otherwise get a REGISTER storm, a new
	// connection and a REGISTER per round trip.
	short := 0
	var upAt time.Time
	for {
		c := f.live()
		if c == nil {
			select {
			case <-f.up:
				continue
			case <-u.ctx.Done():
				return
			}
		}
		select {
		case <-c.dead:
		case <-u.ctx.Done():
			return
		}
		if u.closing.Load() {
			return
		}
		if c.retired.Load() {
			continue // closed by retarget: the next request dials the new server
		}
		why := c.err()
		u.setTransport(TransportDown, fmt.Errorf("flow failed: %w", why))
		u.regFlowDown(fmt.Errorf("flow failed: %w", why))
		if !upAt.IsZero() && time.Since(upAt) < flowShortLived && c.lastRx.Load() == 0 {
			short++
		} else {
			short = 0
		}
		pause := time.Duration(0)
		if short == 0 {
			// Register at once: if the server is gone for good, that
			// REGISTER fails over to the next one (RFC 5626 §4.4, RFC
			// 3263 §4.3) instead of this loop re-dialling the dead one.
			u.Reregister()
		} else {
			pause = min(time.Second<<min(short-1, 5), flowRetryMax)
			u.log.Warn("flow: the server closed the connection soon after it came up; backing off", "short_lived", short, "pause", pause)
		}
		for {
			if pause > 0 {
				t := time.NewTimer(pause)
				select {
				case <-t.C:
				case <-u.ctx.Done():
					t.Stop()
					return
				}
			}
			err := f.ensure(u.ctx)
			if err == nil {
				break
			}
			if u.ctx.Err() != nil {
				return
			}
			u.log.Warn("flow: reconnect failed", "err", err)
			pause = min(max(2*pause, time.Second), flowRetryMax)
		}
		upAt = time.Now()
		u.Reregister()
	}
}

// keepalive sends a CRLF keepalive (RFC 5626 §3.5.1) on c now and then
// until c ends. A failed write is a failed flow, and so is a ping that
// nothing answers within flowPongWait once the server has shown that it
// answers pings (RFC 5626 §4.4.1): a connection whose far end vanished
// without a FIN (a NAT that dropped it, a rebooted server) would accept
// writes for many minutes. net.Conn writes are whole, so a ping never
// lands inside a message sipgo is writing.
func (f *flow) keepalive(c *flowConn) {
	ponged := false // the server has answered a ping
	for first := true; ; first = false {
		// From ping to ping: the interval, of which the wait for the
		// pong is a part.
		d := flowKeepalive + rand.N(flowKeepalive/4+1)
		if !first {
			d = max(d-flowPongWait, 0)
		}
		if !f.sleep(c, d) {
			return
		}
		sent := time.Now().UnixNano()
		if _, err := c.Conn.Conn.Write([]byte("\r\n\r\n")); err != nil {
			c.fail(fmt.Errorf("keepalive: %w", err))
			c.Close()
			return
		}
		if !f.sleep(c, flowPongWait) {
			return
		}
		switch {
		case c.lastRx.Load() >= sent:
			ponged = true
		case ponged:
			c.fail(fmt.Errorf("no answer to a keepalive within %v", flowPongWait))
			c.Close()
			return
		}
	}
}

// sleep waits d; false when c ended or the UA closed first.
func (f *flow) sleep(c *flowConn, d time.Duration) bool {
	t := wake.NewTimer(d) // keepalives 95-120 s apart: on time while idle (hal/wake)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.dead:
	case <-f.u.ctx.Done():
	}
	return false
}

// retarget closes the live connection because the UA's server changed
// (failover): the next request dials the new one. The watchdog does not
// count it as a failed flow.
func (f *flow) retarget() {
	f.mu.Lock()
	c := f.cur
	f.mu.Unlock()
	if c == nil || c.failed() {
		return
	}
	c.retired.Store(true)
	c.Close()
}

// currentServer is the address requests to the server go to now.
func (u *UA) currentServer() netip.AddrPort {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.server
}

// flowListener is how the UA hands sipgo its own connections: sipgo
// serves it as a listener and takes each connection into its pool.
type flowListener struct {
	ch     chan net.Conn
	pooled chan struct{} // sipgo asked for the next: the last one is pooled
	done   chan struct{}
	once   sync.Once
}

func newFlowListener() *flowListener {
	return &flowListener{ch: make(chan net.Conn), pooled: make(chan struct{}), done: make(chan struct{})}
}

// hand gives c to sipgo and returns once sipgo has pooled it (it pools a
// connection before it accepts the next), so a request sent next finds
// it instead of making sipgo dial one of its own.
func (l *flowListener) hand(ctx context.Context, c net.Conn) error {
	select {
	case l.ch <- c:
	case <-l.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-l.pooled:
		return nil
	case <-l.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *flowListener) Accept() (net.Conn, error) {
	for {
		select {
		case c := <-l.ch:
			return c, nil
		case l.pooled <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
}

func (l *flowListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder: the flow's connections are dialled, not accepted.
func (l *flowListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// flowConn is one flow connection: it reports its end (read error, EOF,
// a close by sipgo) on dead, and bounds how long a message that has
// begun may take to complete.
type flowConn struct {
	sipstream.Conn
	lastRx atomic.Int64 // unix nanoseconds of the last byte read
	// retired is set when the UA closed the connection to change servers.
	retired atomic.Bool

	// stall fires when sipgo has not come back to Read flowReaderStall
	// after a read returned data: its reader has stopped.
	stall *time.Timer

	once sync.Once
	mu   sync.Mutex // guards why
	why  error
	dead chan struct{}
}

func newFlowConn(c net.Conn, msgTimeout time.Duration) *flowConn {
	fc := &flowConn{Conn: sipstream.Conn{Conn: c, MessageTimeout: msgTimeout}, dead: make(chan struct{})}
	fc.stall = time.AfterFunc(time.Hour, func() {
		fc.fail(errReaderGone)
		fc.Conn.Close()
	})
	fc.stall.Stop()
	return fc
}

func (c *flowConn) fail(err error) {
	c.once.Do(func() {
		c.stall.Stop()
		c.mu.Lock()
		c.why = err
		c.mu.Unlock()
		close(c.dead)
	})
}

func (c *flowConn) failed() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *flowConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// Read is called by sipgo's one reader goroutine only.
func (c *flowConn) Read(p []byte) (int, error) {
	c.stall.Stop()
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRx.Store(time.Now().UnixNano())
	}
	if err != nil {
		c.fail(err)
		// Whatever sipgo makes of it, the flow is over: close it so a
		// timeout does not leave a half-read stream behind.
		c.Conn.Close()
		return n, err
	}
	if !c.failed() {
		c.stall.Reset(flowReaderStall)
	}
	return n, err
}

func (c *flowConn) Close() error {
	c.fail(errors.New("connection closed"))
	return c.Conn.Close()
}
