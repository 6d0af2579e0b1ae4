package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr"
)

// boot is Start's work once the UA is marked started: find the server,
// take the SIP socket, serve it and start registering. Neither a DNS
// answer nor a network is required: without DNS the registration loop
// shows "cannot resolve" and keeps trying; without a local address
// (portmgr.ErrNoLocalAddress) the socket is mapped again, backing off,
// until there is one, and the registration shows "no network" meanwhile.
func (u *UA) boot(ctx context.Context) error {
	server := u.startTargets(ctx)
	u.mu.Lock()
	u.server = server
	u.mu.Unlock()
	u.adm.setTrusted(u.trustedAddrs())
	if u.tr != portmgr.UDP && u.serverName() != "" {
		u.flow = newFlow(u)
		u.flow.start()
	}
	if err := u.startTransport(ctx, server); err != nil {
		if !errors.Is(err, portmgr.ErrNoLocalAddress) {
			return err
		}
		u.tgt.setNetErr(err)
		u.log.Warn("no network yet: SIP starts as soon as there is one", "err", err)
		if u.cfg.Account.Registrar != "" {
			u.setReg(RegStatus{State: RegFailed, Reason: "no network: " + err.Error()})
		}
		u.goFn(u.retryTransport)
	}
	if u.cfg.Account.Registrar != "" {
		u.regDone = make(chan struct{})
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer close(u.regDone)
			u.regLoop()
		}()
	}
	return nil
}

// startTransport maps the SIP socket toward server and serves it (UDP);
// over TCP and TLS the flow dials when the first request needs it.
func (u *UA) startTransport(ctx context.Context, server netip.AddrPort) error {
	mp, err := u.cfg.Mapper.Map(ctx, portmgr.KindSIP, u.tr, server)
	if err != nil {
		return fmt.Errorf("sip: map SIP socket: %w", err)
	}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		_ = u.cfg.Mapper.Release(mp)
		return ErrClosed
	}
	u.sipMap = mp
	if u.server != server && u.server.IsValid() {
		server = u.server // moved on while the socket was mapped
		defer func() { _ = u.cfg.Mapper.UpdateRemote(mp, server) }()
	}
	u.mu.Unlock()
	if u.tr == portmgr.UDP {
		if mp.Conn == nil {
			return errors.New("sip: port manager gave a UDP mapping without a socket")
		}
		// Pool the socket before serving starts, so a request sent right
		// after Start already finds it (sipgo would otherwise open a socket
		// of its own for a request whose Laddr is not pooled).
		if err := u.poolUDP(mp); err != nil {
			return err
		}
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			// Returns when the socket is released (in Close); rebuilds the
			// transport whenever sipgo's reader ends before that.
			u.serveUDP(mp)
		}()
	}
	u.log.Info("started", "laddr", mp.Local(), "ext", mp.External(), "transport", u.tr, "server", server)
	return nil
}

// retryTransport maps the SIP socket again, backing off like the
// registration, until there is a network or the UA closes; then it
// registers at once.
func (u *UA) retryTransport() {
	for failures := 1; ; failures++ {
		if !u.sleepCtx(u.backoff(failures)) {
			return
		}
		u.mu.Lock()
		server := u.server
		u.mu.Unlock()
		err := u.startTransport(u.ctx, server)
		if err == nil {
			u.tgt.setNetErr(nil)
			u.log.Info("network is up: SIP socket mapped")
			u.Reregister()
			return
		}
		if errors.Is(err, ErrClosed) || u.ctx.Err() != nil {
			return
		}
		u.tgt.setNetErr(err)
		u.log.Debug("still no network", "err", err)
	}
}

// sleepCtx waits d; false when the UA closed first.
func (u *UA) sleepCtx(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-u.ctx.Done():
		return false
	}
}
