package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/portmgr"
	siplib "github.com/emiago/sipgo/sip"
)

// TransportState is the state of the UA's SIP transport.
type TransportState string

const (
	// TransportUp: the SIP socket is being read (UDP) or the flow to the
	// registrar is connected (TCP, TLS).
	TransportUp TransportState = "up"
	// TransportDown: nothing reads SIP; the UA is rebuilding it.
	TransportDown TransportState = "down"
)

// TransportStatus is a snapshot of the SIP transport's health, for
// GET /api/status.
type TransportStatus struct {
	State TransportState `json:"state"`
	// Restarts counts the times the transport was rebuilt after it
	// died (a UDP reader that ended, a TCP/TLS flow that failed).
	Restarts int `json:"restarts"`
	// LastError is why it last went down.
	LastError string `json:"last_error,omitempty"`
	// ReadErrors counts socket read errors that were retried instead of
	// ending the reader.
	ReadErrors uint64 `json:"read_errors"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
}

// Transport returns the SIP transport's status.
func (u *UA) Transport() TransportStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.tstat
	s.ReadErrors = u.readErrs.Load()
	return s
}

// setTransport records a transport state change and logs it.
func (u *UA) setTransport(st TransportState, why error) {
	u.mu.Lock()
	old := u.tstat.State
	if st != old {
		u.tstat.Since = time.Now()
	}
	u.tstat.State = st
	if st == TransportDown {
		if why != nil {
			u.tstat.LastError = why.Error()
		}
	} else if old == TransportDown && u.tstat.LastError != "" {
		u.tstat.Restarts++ // up again after it died (not the first connect)
	}
	u.mu.Unlock()
	if st == old {
		return
	}
	if st == TransportDown {
		u.log.Error("SIP transport down; rebuilding", "err", why)
	} else {
		u.log.Info("SIP transport up")
	}
}

// regFlowDown marks a registration failed while its flow is down: the
// registrar may still hold the binding, but nothing reaches us through
// it, so the status must not say registered. The rebuild registers again.
func (u *UA) regFlowDown(why error) {
	u.mu.Lock()
	cur := u.reg
	u.mu.Unlock()
	if cur.State != RegRegistered {
		return
	}
	cur.State, cur.Code, cur.Reason = RegFailed, 0, "SIP transport down: "+why.Error()
	cur.RefreshIn = 0
	u.setReg(cur)
}

// serveHook, when set (by tests), wraps the connection sipgo's UDP reader
// is given, outside guardConn, so a test can make that reader end.
var serveHook func(net.PacketConn) net.PacketConn

// restartMin and restartMax bound the pause before the UDP transport is
// rebuilt (doubling while it keeps dying).
const (
	restartMin = 100 * time.Millisecond
	restartMax = 30 * time.Second
)

// serveUDP serves the SIP socket and is the transport's watchdog: sipgo
// ends its UDP reader on any read error but net.ErrClosed, and nothing
// else would notice. When the reader ends while the UA runs, the
// transport is marked down and rebuilt: the same socket served again, or,
// when the socket itself was closed under us, a new one from the port
// manager; then the UA registers again.
func (u *UA) serveUDP(mp *portmgr.Mapping) {
	pause := restartMin
	for {
		g := &guardConn{PacketConn: mp.Conn, u: u}
		var c net.PacketConn = g
		if h := serveHook; h != nil {
			c = h(c)
		}
		u.setTransport(TransportUp, nil)
		started := time.Now()
		if err := u.tpl.ServeUDP(c); err != nil {
			u.log.Warn("serve udp", "err", err)
		}
		if u.closing.Load() || u.ctx.Err() != nil {
			return
		}
		why := g.lastErr()
		if why == nil {
			why = errors.New("sipgo's UDP reader ended")
		}
		u.setTransport(TransportDown, why)
		u.regFlowDown(why)
		if time.Since(started) > restartMax {
			pause = restartMin
		}
		for {
			t := time.NewTimer(pause)
			select {
			case <-u.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, restartMax)
			if !g.closed.Load() {
				break // the socket is fine: serve it again
			}
			next, err := u.remapUDP(mp)
			if err != nil {
				if errors.Is(err, ErrClosed) {
					return
				}
				u.log.Warn("SIP transport: new socket", "err", err)
				continue
			}
			mp = next
			break
		}
		if err := u.poolUDP(mp); err != nil {
			u.log.Error("SIP transport: pool socket", "err", err)
		}
		u.Reregister()
	}
}

// poolUDP puts the mapping's socket in sipgo's pool (so requests find it
// before serving starts) and pins requests to it. sipgo drops the pool
// entry when its reader ends.
func (u *UA) poolUDP(mp *portmgr.Mapping) error {
	// The pool key is the socket's LocalAddr string; every request's
	// Laddr must print exactly as that key.
	key := mp.Conn.LocalAddr().String()
	laddr, err := pinAddr(key)
	if err != nil {
		return err
	}
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	u.udpKey, u.udpLaddr = key, laddr
	u.tpl.Pool("udp").Add(key, &siplib.UDPConnection{
		PacketConn: &guardConn{PacketConn: mp.Conn, u: u}, PacketAddr: key, Listener: true,
	})
	return nil
}

// remapUDP releases a SIP mapping whose socket was closed under us and
// maps a new one. It returns ErrClosed (releasing the new mapping) when
// the UA closed meanwhile.
func (u *UA) remapUDP(old *portmgr.Mapping) (*portmgr.Mapping, error) {
	if err := u.cfg.Mapper.Release(old); err != nil && !errors.Is(err, portmgr.ErrUnknownMapping) {
		if errors.Is(err, portmgr.ErrClosed) {
			return nil, fmt.Errorf("sip: port manager: %w", err)
		}
		u.log.Debug("release dead SIP mapping", "err", err)
	}
	u.mu.Lock()
	server := u.server
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	mp, err := u.cfg.Mapper.Map(ctx, portmgr.KindSIP, u.tr, server)
	if err != nil {
		return nil, fmt.Errorf("sip: map SIP socket: %w", err)
	}
	if mp.Conn == nil {
		_ = u.cfg.Mapper.Release(mp)
		return nil, errors.New("sip: port manager gave a UDP mapping without a socket")
	}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		_ = u.cfg.Mapper.Release(mp)
		return nil, ErrClosed
	}
	u.sipMap = mp
	u.mu.Unlock()
	u.log.Info("SIP transport: new socket", "laddr", mp.Local(), "ext", mp.External())
	return mp, nil
}

// guardConn is the SIP socket as sipgo sees it. sipgo ends its reader on
// any error but net.ErrClosed, so the guard returns only that one: every
// other read error (a short buffer, a deadline, whatever a wrapper below
// reports) is counted and the read retried, a little later each time so
// a socket stuck in error does not spin.
type guardConn struct {
	net.PacketConn
	u      *UA
	closed atomic.Bool
	last   atomic.Pointer[error]
	pause  time.Duration
}

func (g *guardConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := g.PacketConn.ReadFrom(p)
		if err == nil {
			g.pause = 0
			return n, from, nil
		}
		g.last.Store(&err)
		if errors.Is(err, net.ErrClosed) {
			g.closed.Store(true)
			return 0, nil, err
		}
		if g.u.closing.Load() {
			return 0, nil, fmt.Errorf("sip: closing: %w", net.ErrClosed)
		}
		c := g.u.readErrs.Add(1)
		if c&(c-1) == 0 { // 1, 2, 4...: not once per datagram
			g.u.log.Warn("SIP socket read failed; retrying", "err", err, "count", c)
		}
		// Whatever came with the error is not trusted: a short read is
		// a truncated message.
		g.pause = min(max(2*g.pause, time.Millisecond), 100*time.Millisecond)
		t := time.NewTimer(g.pause)
		select {
		case <-t.C:
		case <-g.u.ctx.Done():
			t.Stop()
		}
	}
}

func (g *guardConn) lastErr() error {
	if e := g.last.Load(); e != nil {
		return *e
	}
	return nil
}
