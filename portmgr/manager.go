package portmgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/pion/stun/v3"
)

// Manager is the port manager. It implements Mapper.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex // guards following
	sipUsed  []bool     // by port offset in cfg.SIPPorts
	pairUsed []bool     // by pair index in cfg.MediaPorts (even port)
	mappings map[*Mapping]struct{}
	stunH    func(m *Mapping, msg []byte, from net.Addr)
	events   chan Event
	closed   bool
}

// New validates cfg and returns a Manager. It binds nothing until Map.
func New(cfg Config) (*Manager, error) {
	if cfg.Net == nil {
		return nil, errors.New("portmgr: Config.Net is required")
	}
	if cfg.SIPPorts == (Range{}) {
		cfg.SIPPorts = DefaultSIPRange
	}
	if cfg.MediaPorts == (Range{}) {
		cfg.MediaPorts = DefaultMediaRange
	}
	if err := ValidateRanges(cfg.SIPPorts, cfg.MediaPorts); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	first := int(cfg.MediaPorts.Min+1) &^ 1 // first even port
	pairs := (int(cfg.MediaPorts.Max) - first + 1) / 2
	if pairs < 1 {
		return nil, fmt.Errorf("%w: media range %s holds no even/odd pair", ErrBadRange, cfg.MediaPorts)
	}
	return &Manager{
		cfg:      cfg,
		log:      log.With("component", "portmgr"),
		sipUsed:  make([]bool, cfg.SIPPorts.Size()),
		pairUsed: make([]bool, pairs),
		mappings: map[*Mapping]struct{}{},
		events:   make(chan Event, 16),
	}, nil
}

// Events delivers address-change events. It is closed by Close.
func (m *Manager) Events() <-chan Event { return m.events }

// SetSTUNHandler sets the function that receives STUN messages taken off
// mapped sockets. It is called on the socket's reader goroutine and must
// not block.
func (m *Manager) SetSTUNHandler(h func(mp *Mapping, msg []byte, from net.Addr)) {
	m.mu.Lock()
	m.stunH = h
	m.mu.Unlock()
}

// Map implements Mapper.
func (m *Manager) Map(ctx context.Context, kind Kind, tr Transport, remote netip.AddrPort) (*Mapping, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tr != UDP && kind == KindMedia {
		return nil, fmt.Errorf("portmgr: media over %s is not supported", tr)
	}
	ip, err := m.localIP(remote)
	if err != nil {
		return nil, err
	}
	mp := &Mapping{Kind: kind, Transport: tr, m: m, remote: remote, via: StrategyLocal}
	switch kind {
	case KindSIP:
		if tr != UDP {
			// Stream transports are dialled by the SIP stack; the manager
			// only reports the addresses to advertise.
			mp.local = netip.AddrPortFrom(ip, 0)
			mp.external = mp.local
			m.finish(mp)
			return mp, nil
		}
		err = m.bindSIP(mp, ip)
	case KindMedia:
		err = m.bindMedia(mp, ip)
	default:
		err = fmt.Errorf("portmgr: unknown kind %v", kind)
	}
	if err != nil {
		m.log.Warn("map failed", "kind", kind, "err", err)
		return nil, err
	}
	m.finish(mp)
	m.log.Debug("mapped", "kind", kind, "laddr", mp.local, "ext", mp.external, "via", mp.via)
	return mp, nil
}

func (m *Manager) finish(mp *Mapping) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.cfg.StaticExternal; s.IsValid() {
		mp.external = netip.AddrPortFrom(s, mp.local.Port())
		mp.via = StrategyStatic
		if mp.RTCPConn != nil {
			mp.extRTCP = netip.AddrPortFrom(s, mp.local.Port()+1)
		}
	}
	m.mappings[mp] = struct{}{}
}

// localIP picks the concrete local IP: the configured bind address, or the
// address of the interface that routes to remote.
func (m *Manager) localIP(remote netip.AddrPort) (netip.Addr, error) {
	if m.cfg.BindAddr.IsValid() && !m.cfg.BindAddr.IsUnspecified() {
		return m.cfg.BindAddr, nil
	}
	target := "192.0.2.1:9" // documentation address: routed but never sent to
	if remote.IsValid() {
		target = remote.String()
	}
	c, err := m.cfg.Net.Dial("udp4", target)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("portmgr: find local address toward %s: %w", target, err)
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("portmgr: local address %q: %w", c.LocalAddr(), err)
	}
	return ap.Addr().Unmap(), nil
}

func (m *Manager) listen(ip netip.Addr, port uint16) (net.PacketConn, error) {
	bind := ip
	if m.cfg.BindAddr.IsValid() {
		bind = m.cfg.BindAddr
	}
	return m.cfg.Net.ListenPacket("udp4", net.JoinHostPort(bind.String(), strconv.Itoa(int(port))))
}

func (m *Manager) bindSIP(mp *Mapping, ip netip.Addr) error {
	r := m.cfg.SIPPorts
	for i := range m.sipUsed {
		if !m.claim(m.sipUsed, i) {
			continue
		}
		port := r.Min + uint16(i)
		c, err := m.listen(ip, port)
		if err != nil {
			m.unclaim(m.sipUsed, i)
			m.log.Debug("sip port busy", "port", port, "err", err)
			continue
		}
		mp.slot = i
		mp.local = netip.AddrPortFrom(ip, port)
		mp.external = mp.local
		mp.Conn = m.demux(mp, c)
		return nil
	}
	return fmt.Errorf("%w: sip %s", ErrExhausted, r)
}

func (m *Manager) bindMedia(mp *Mapping, ip netip.Addr) error {
	first := (m.cfg.MediaPorts.Min + 1) &^ 1
	for i := range m.pairUsed {
		if !m.claim(m.pairUsed, i) {
			continue
		}
		port := first + uint16(2*i)
		rtp, err := m.listen(ip, port)
		if err != nil {
			m.unclaim(m.pairUsed, i)
			continue
		}
		rtcp, err := m.listen(ip, port+1)
		if err != nil {
			rtp.Close()
			m.unclaim(m.pairUsed, i)
			continue
		}
		mp.slot = i
		mp.local = netip.AddrPortFrom(ip, port)
		mp.external = mp.local
		mp.extRTCP = netip.AddrPortFrom(ip, port+1)
		mp.Conn = m.demux(mp, rtp)
		mp.RTCPConn = m.demux(mp, rtcp)
		return nil
	}
	return fmt.Errorf("%w: media %s", ErrExhausted, m.cfg.MediaPorts)
}

func (m *Manager) claim(used []bool, i int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || used[i] {
		return false
	}
	used[i] = true
	return true
}

func (m *Manager) unclaim(used []bool, i int) {
	m.mu.Lock()
	used[i] = false
	m.mu.Unlock()
}

// UpdateRemote implements Mapper.
func (m *Manager) UpdateRemote(mp *Mapping, remote netip.AddrPort) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mappings[mp]; !ok {
		return ErrUnknownMapping
	}
	mp.remote = remote
	return nil
}

// Release implements Mapper.
func (m *Manager) Release(mp *Mapping) error {
	m.mu.Lock()
	if _, ok := m.mappings[mp]; !ok {
		m.mu.Unlock()
		return ErrUnknownMapping
	}
	delete(m.mappings, mp)
	mp.released = true
	m.mu.Unlock()
	return m.closeMapping(mp)
}

func (m *Manager) closeMapping(mp *Mapping) error {
	var err error
	if mp.Conn != nil {
		err = mp.Conn.Close()
	}
	if mp.RTCPConn != nil {
		if e := mp.RTCPConn.Close(); err == nil {
			err = e
		}
	}
	m.mu.Lock()
	switch {
	case mp.Conn == nil:
	case mp.Kind == KindSIP:
		m.sipUsed[mp.slot] = false
	case mp.Kind == KindMedia:
		m.pairUsed[mp.slot] = false
	}
	m.mu.Unlock()
	return err
}

// Close releases every mapping and closes Events. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	all := make([]*Mapping, 0, len(m.mappings))
	for mp := range m.mappings {
		all = append(all, mp)
	}
	clear(m.mappings)
	m.mu.Unlock()
	var first error
	for _, mp := range all {
		if err := m.closeMapping(mp); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	close(m.events)
	return first
}

// demuxConn takes STUN messages off a socket and hands them to the
// manager; everything else reaches the reader.
type demuxConn struct {
	net.PacketConn
	m  *Manager
	mp *Mapping
}

func (m *Manager) demux(mp *Mapping, c net.PacketConn) net.PacketConn {
	return &demuxConn{PacketConn: c, m: m, mp: mp}
}

// ReadFrom returns the next non-STUN packet.
func (d *demuxConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := d.PacketConn.ReadFrom(b)
		if err != nil {
			return n, from, err
		}
		// RFC 7983: STUN's first byte is 0..3; RTP/RTCP is 128..191 and
		// SIP is text. stun.IsMessage checks the magic cookie too.
		if n > 0 && b[0] < 4 && stun.IsMessage(b[:n]) {
			d.m.mu.Lock()
			h := d.m.stunH
			d.m.mu.Unlock()
			if h != nil {
				h(d.mp, append([]byte(nil), b[:n]...), from)
			}
			continue
		}
		return n, from, nil
	}
}

var _ io.Closer = (*demuxConn)(nil)
var _ Mapper = (*Manager)(nil)
