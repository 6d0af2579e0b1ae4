package mappertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/deskphone/phone/portmgr"
)

// FakeMapper is a portmgr.Mapper that binds loopback sockets (or what
// Listen returns) and advertises External instead of learning anything.
// Set its fields before the first Map; SetExternal changes the address
// later.
type FakeMapper struct {
	// Listen opens one socket. Nil means UDP on 127.0.0.1, any port.
	Listen func() (net.PacketConn, error)
	// External is the IP the mappings advertise, with the local port
	// (RTCP: the local RTCP port). Zero advertises the local address.
	External netip.Addr
	// Via is the strategy the mappings report. Empty means
	// StrategyStatic when External is set, else StrategyLocal.
	Via portmgr.Strategy
	// RTCPMux gives media mappings no RTCP socket.
	RTCPMux bool
	// MapErr, when set, is what Map returns.
	MapErr error

	mu       sync.Mutex // guards following, and the fields above after the first Map
	live     map[*portmgr.Mapping]struct{}
	maps     int
	updates  []Update
	released int
	closed   bool
}

// Update is one UpdateRemote call.
type Update struct {
	Mapping *portmgr.Mapping
	Remote  netip.AddrPort
}

var _ portmgr.Mapper = (*FakeMapper)(nil)

func (f *FakeMapper) listen() (net.PacketConn, error) {
	if f.Listen != nil {
		return f.Listen()
	}
	return net.ListenPacket("udp4", "127.0.0.1:0")
}

// Map implements portmgr.Mapper.
func (f *FakeMapper) Map(ctx context.Context, kind portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	closed, mapErr, ext, via, mux := f.closed, f.MapErr, f.External, f.Via, f.RTCPMux
	f.mu.Unlock()
	if closed {
		return nil, portmgr.ErrClosed
	}
	if mapErr != nil {
		return nil, mapErr
	}
	if via == "" {
		via = portmgr.StrategyLocal
		if ext.IsValid() {
			via = portmgr.StrategyStatic
		}
	}
	a := portmgr.Addrs{Remote: remote, Via: via}
	var conn, rtcp net.PacketConn
	if tr == portmgr.UDP {
		var err error
		if conn, err = f.listen(); err != nil {
			return nil, fmt.Errorf("mappertest: listen: %w", err)
		}
		a.Local = netip.MustParseAddrPort(conn.LocalAddr().String())
		if kind == portmgr.KindMedia && !mux {
			if rtcp, err = f.listen(); err != nil {
				conn.Close()
				return nil, fmt.Errorf("mappertest: listen rtcp: %w", err)
			}
			a.ExternalRTCP = netip.MustParseAddrPort(rtcp.LocalAddr().String())
		}
	} else {
		a.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)
	}
	a.External = a.Local
	if ext.IsValid() {
		a.External = netip.AddrPortFrom(ext, a.Local.Port())
		if a.ExternalRTCP.IsValid() {
			a.ExternalRTCP = netip.AddrPortFrom(ext, a.ExternalRTCP.Port())
		}
	}
	mp := portmgr.NewMapping(kind, tr, conn, rtcp, a)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live == nil {
		f.live = map[*portmgr.Mapping]struct{}{}
	}
	f.live[mp] = struct{}{}
	f.maps++
	return mp, nil
}

// UpdateRemote implements portmgr.Mapper: it records the call and sets
// the mapping's Remote.
func (f *FakeMapper) UpdateRemote(mp *portmgr.Mapping, remote netip.AddrPort) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.live[mp]; !ok {
		return portmgr.ErrUnknownMapping
	}
	f.updates = append(f.updates, Update{Mapping: mp, Remote: remote})
	a := mp.Addrs()
	a.Remote = remote
	return mp.SetAddrs(a)
}

// Release implements portmgr.Mapper: it closes the mapping's sockets.
func (f *FakeMapper) Release(mp *portmgr.Mapping) error {
	f.mu.Lock()
	if _, ok := f.live[mp]; !ok {
		f.mu.Unlock()
		return portmgr.ErrUnknownMapping
	}
	delete(f.live, mp)
	f.released++
	f.mu.Unlock()
	return closeMapping(mp)
}

func closeMapping(mp *portmgr.Mapping) error {
	var errs []error
	for _, c := range []net.PacketConn{mp.Conn, mp.RTCPConn} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// SetExternal changes the advertised address of every live mapping of
// the kind to ip (with the same ports), as a rebooted NAT would, and
// returns those mappings. New mappings advertise ip as well.
func (f *FakeMapper) SetExternal(kind portmgr.Kind, ip netip.Addr) []*portmgr.Mapping {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.External = ip
	var out []*portmgr.Mapping
	for mp := range f.live {
		if mp.Kind != kind {
			continue
		}
		a := mp.Addrs()
		a.External = netip.AddrPortFrom(ip, a.External.Port())
		if a.ExternalRTCP.IsValid() {
			a.ExternalRTCP = netip.AddrPortFrom(ip, a.ExternalRTCP.Port())
		}
		_ = mp.SetAddrs(a)
		out = append(out, mp)
	}
	return out
}

// Live returns the mappings of the kind handed out and not released.
func (f *FakeMapper) Live(kind portmgr.Kind) []*portmgr.Mapping {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*portmgr.Mapping
	for mp := range f.live {
		if mp.Kind == kind {
			out = append(out, mp)
		}
	}
	return out
}

// Stats returns how many times Map succeeded and Release was called on a
// live mapping.
func (f *FakeMapper) Stats() (maps, released int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maps, f.released
}

// Updates returns the UpdateRemote calls, in order.
func (f *FakeMapper) Updates() []Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Update(nil), f.updates...)
}

// Close releases every live mapping; later Maps fail with ErrClosed.
func (f *FakeMapper) Close() error {
	f.mu.Lock()
	f.closed = true
	live := f.live
	f.live = nil
	f.mu.Unlock()
	var errs []error
	for mp := range live {
		errs = append(errs, closeMapping(mp))
	}
	return errors.Join(errs...)
}
