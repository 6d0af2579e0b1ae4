package portmgrtest

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/pion/stun/v3"
	"github.com/pion/transport/v4"
)

// STUNServer is an RFC 8489 Binding server with the RFC 5780 NAT
// behaviour discovery usage: it listens on A1:P1, A1:P2, A2:P1 and A2:P2
// and answers CHANGE-REQUEST from the socket RFC 5780 §6.1 Table 1 names
// (no flags: Da:Dp; change IP: Ca:Dp; change port: Da:Cp; both: Ca:Cp).
// Every response carries XOR-MAPPED-ADDRESS, MAPPED-ADDRESS,
// RESPONSE-ORIGIN and, unless Plain, OTHER-ADDRESS.
type STUNServer struct {
	// Net must have the IPs STUNPrimary and STUNAlternate.
	Net transport.Net
	// Plain makes it a server without the discovery usage: no
	// OTHER-ADDRESS, and 420 to CHANGE-REQUEST (RFC 5780 §6).
	Plain bool

	// Requests counts Binding requests received.
	Requests atomic.Int64
	// Silent, when set, makes the server drop every request.
	Silent atomic.Bool
	// PortShift is added to the port of every mapped address the server
	// reports: what a server sees of a NAT that rebooted without an
	// outage (its bindings flushed, its ports moved, as the lab's
	// `conntrack -F` with masquerading moved to other ports does), which
	// vnet's NAT cannot do on its own.
	PortShift atomic.Int32

	socks map[netip.AddrPort]net.PacketConn
	wg    sync.WaitGroup
	once  sync.Once
}

// Start opens the four sockets and serves them.
func (s *STUNServer) Start() error {
	s.socks = map[netip.AddrPort]net.PacketConn{}
	for _, ip := range []netip.Addr{STUNPrimary, STUNAlternate} {
		for _, p := range []uint16{STUNPort, STUNAltPort} {
			ap := netip.AddrPortFrom(ip, p)
			c, err := s.Net.ListenPacket("udp4", net.JoinHostPort(ip.String(), strconv.Itoa(int(p))))
			if err != nil {
				s.Close()
				return err
			}
			s.socks[ap] = c
		}
	}
	for ap, c := range s.socks {
		s.wg.Add(1)
		go s.serve(ap, c)
	}
	return nil
}

// Close stops the server and waits for its goroutines.
func (s *STUNServer) Close() {
	s.once.Do(func() {
		for _, c := range s.socks {
			_ = c.Close()
		}
		s.wg.Wait()
	})
}

func (s *STUNServer) serve(local netip.AddrPort, c net.PacketConn) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n == 0 {
				return
			}
			continue
		}
		s.handle(local, buf[:n], stunc.ToAddrPort(from))
	}
}

func (s *STUNServer) handle(local netip.AddrPort, b []byte, from netip.AddrPort) {
	if !stun.IsMessage(b) {
		return
	}
	req := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
		return
	}
	s.Requests.Add(1)
	if s.Silent.Load() {
		return
	}
	change := stunc.ChangeRequestOf(req)
	rport, hasRport := stunc.ResponsePortOf(req)
	if s.Plain && (change != 0 || hasRport) {
		// RFC 5780 §6: no alternate address => 420 to CHANGE-REQUEST;
		// a server without the discovery usage knows no RESPONSE-PORT
		// either (comprehension-required, RFC 8489 §14).
		var unknown stun.UnknownAttributes
		if change != 0 {
			unknown = append(unknown, stun.AttrChangeRequest)
		}
		if hasRport {
			unknown = append(unknown, stun.AttrResponsePort)
		}
		resp, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingError,
			stun.ErrorCodeAttribute{Code: stun.CodeUnknownAttribute, Reason: []byte("Unknown Attribute")},
			unknown, stun.Fingerprint)
		if err == nil {
			_, _ = s.socks[local].WriteTo(resp.Raw, udpAddr(from))
		}
		return
	}
	ip, port := local.Addr(), local.Port()
	if change&stunc.ChangeIP != 0 {
		ip = other(ip, STUNPrimary, STUNAlternate)
	}
	if change&stunc.ChangePort != 0 {
		port = otherPort(port)
	}
	src := netip.AddrPortFrom(ip, port)
	extra := []stun.Setter{&stun.ResponseOrigin{IP: src.Addr().AsSlice(), Port: int(src.Port())}}
	if !s.Plain {
		oth := netip.AddrPortFrom(other(local.Addr(), STUNPrimary, STUNAlternate), otherPort(local.Port()))
		extra = append(extra, &stun.OtherAddress{IP: oth.Addr().AsSlice(), Port: int(oth.Port())})
	}
	seen := from
	if d := s.PortShift.Load(); d != 0 {
		seen = netip.AddrPortFrom(from.Addr(), uint16(int32(from.Port())+d))
	}
	resp, err := stunc.BindingResponse(req, seen, extra...)
	if err != nil {
		return
	}
	to := from
	if hasRport {
		// RFC 5780 §6.1: the answer goes to the source IP and this port.
		to = netip.AddrPortFrom(from.Addr(), rport)
	}
	_, _ = s.socks[src].WriteTo(resp, udpAddr(to))
}

func other(ip, a, b netip.Addr) netip.Addr {
	if ip == a {
		return b
	}
	return a
}

func otherPort(p uint16) uint16 {
	if p == STUNPort {
		return STUNAltPort
	}
	return STUNPort
}
