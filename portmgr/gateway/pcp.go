package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/transport/v4"
)

// PCP (RFC 6887) constants.
const (
	PCPPort       = 5351
	pcpVersion    = 2
	pcpOpAnnounce = 0
	pcpOpMap      = 1
	pcpReply      = 0x80
	pcpProtoUDP   = 17
	pcpHeaderLen  = 24
	pcpMapLen     = 36
)

// PCP result codes (RFC 6887 §7.4), the ones worth naming.
const (
	pcpSuccess         = 0
	pcpUnsuppVersion   = 1
	pcpNotAuthorized   = 2
	pcpNoResources     = 8
	pcpCannotProvide   = 11
	pcpAddressMismatch = 12
)

// PCP is a Port Control Protocol client (RFC 6887) over a transport.Net.
type PCP struct {
	// Net opens the request socket. Required.
	Net transport.Net
	// Listen, when set, opens the request socket instead of Net (on
	// Local, any port); the port manager binds it inside its ranges.
	Listen func() (net.PacketConn, error)
	// Gateway is the PCP server (the default router). Required.
	Gateway netip.Addr
	// Port is the server port (default 5351).
	Port uint16
	// Local is the phone's IP (the PCP client IP field).
	Local netip.Addr
	// RTO is the first retransmission timeout (default 250 ms; RFC 6887
	// §8.1.1 uses 3 s, far too slow for a LAN probe), doubling; Tries
	// bounds the requests (default 4).
	RTO   time.Duration
	Tries int

	mu  sync.Mutex
	ext netip.Addr // last assigned external IP
}

// Protocol implements Client.
func (p *PCP) Protocol() string { return "pcp" }

// Announce checks that a PCP server answers (RFC 6887 §14.1, ANNOUNCE).
func (p *PCP) Announce(ctx context.Context) error {
	req := p.header(pcpOpAnnounce, 0, p.Local)
	_, err := p.roundTrip(ctx, req, pcpOpAnnounce, nil)
	return err
}

// ExternalIP implements Client. PCP has no "get external address"
// opcode: this returns the address learnt from the last MAP response, or,
// before any, maps a throw-away port for 30 s and deletes it again.
func (p *PCP) ExternalIP(ctx context.Context) (netip.Addr, error) {
	p.mu.Lock()
	ext := p.ext
	p.mu.Unlock()
	if ext.IsValid() {
		return ext, nil
	}
	l, err := p.Map(ctx, netip.AddrPortFrom(p.Local, 9), nil, 30*time.Second)
	if err != nil {
		return netip.Addr{}, err
	}
	_ = p.Unmap(ctx, l)
	return l.External.Addr(), nil
}

// Map implements Client: a MAP request (RFC 6887 §11) for UDP. A renewal
// repeats the nonce and suggests the external address it got (§11.2.1).
func (p *PCP) Map(ctx context.Context, internal netip.AddrPort, prev *Lease, lifetime time.Duration) (Lease, error) {
	l := Lease{Internal: internal}
	var sugg netip.AddrPort
	if prev != nil {
		l.Nonce = prev.Nonce
		sugg = prev.External
	} else if _, err := rand.Read(l.Nonce[:]); err != nil {
		return Lease{}, err
	}
	resp, err := p.mapReq(ctx, internal, l.Nonce, sugg, lifetime)
	if err != nil {
		return Lease{}, err
	}
	l.External, l.Lifetime = resp.ext, resp.lifetime
	p.mu.Lock()
	p.ext = resp.ext.Addr()
	p.mu.Unlock()
	return l, nil
}

// Unmap implements Client: a MAP with lifetime 0 (RFC 6887 §15).
func (p *PCP) Unmap(ctx context.Context, l Lease) error {
	_, err := p.mapReq(ctx, l.Internal, l.Nonce, netip.AddrPort{}, 0)
	return err
}

type pcpMapResp struct {
	ext      netip.AddrPort
	lifetime time.Duration
}

// header is the common request header (RFC 6887 §7.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Version = 2  |R|   Opcode    |         Reserved              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Requested Lifetime (32 bits)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            PCP Client's IP Address (128 bits)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func (p *PCP) header(op byte, lifetime time.Duration, client netip.Addr) []byte {
	b := make([]byte, pcpHeaderLen)
	b[0], b[1] = pcpVersion, op
	binary.BigEndian.PutUint32(b[4:8], uint32(lifetime/time.Second))
	a16 := netip.AddrFrom16(client.As16())
	if client.Is4() {
		a16 = netip.AddrFrom16(netip.AddrFrom4(client.As4()).As16()) // IPv4-mapped
	}
	copy(b[8:24], a16.AsSlice())
	return b
}

// mapReq sends a MAP request; the opcode payload is (RFC 6887 §11.1):
//
//	| Mapping Nonce (96 bits) | Protocol | Reserved (24) |
//	| Internal Port (16) | Suggested External Port (16) |
//	| Suggested External IP Address (128 bits)          |
func (p *PCP) mapReq(ctx context.Context, internal netip.AddrPort, nonce [12]byte, sugg netip.AddrPort, lifetime time.Duration) (pcpMapResp, error) {
	client := p.Local
	if !client.IsValid() {
		client = internal.Addr()
	}
	req := p.header(pcpOpMap, lifetime, client)
	op := make([]byte, pcpMapLen)
	copy(op[0:12], nonce[:])
	op[12] = pcpProtoUDP
	binary.BigEndian.PutUint16(op[16:18], internal.Port())
	if sugg.IsValid() {
		binary.BigEndian.PutUint16(op[18:20], sugg.Port())
		s16 := netip.AddrFrom16(sugg.Addr().As16())
		copy(op[20:36], s16.AsSlice())
	}
	req = append(req, op...)
	var out pcpMapResp
	_, err := p.roundTrip(ctx, req, pcpOpMap, func(resp []byte) bool {
		r, ok := parseMapResponse(resp, nonce, internal.Port())
		out = r
		return ok
	})
	return out, err
}

// parseMapResponse checks that a MAP success response answers the request
// with this nonce and internal port (RFC 6887 §11.3) and returns the
// assigned external address and lifetime.
func parseMapResponse(resp []byte, nonce [12]byte, internalPort uint16) (pcpMapResp, bool) {
	if len(resp) < pcpHeaderLen+pcpMapLen {
		return pcpMapResp{}, false
	}
	o := resp[pcpHeaderLen:]
	if [12]byte(o[0:12]) != nonce || o[12] != pcpProtoUDP || binary.BigEndian.Uint16(o[16:18]) != internalPort {
		return pcpMapResp{}, false
	}
	ip := netip.AddrFrom16([16]byte(o[20:36])).Unmap()
	return pcpMapResp{
		ext:      netip.AddrPortFrom(ip, binary.BigEndian.Uint16(o[18:20])),
		lifetime: time.Duration(binary.BigEndian.Uint32(resp[4:8])) * time.Second,
	}, true
}

// checkHeader validates a response header (RFC 6887 §7.2): version, R
// bit and opcode, result code. ok is false for datagrams to ignore; err
// is set for a well-formed error result.
func checkHeader(resp []byte, op byte) (ok bool, err error) {
	if len(resp) < pcpHeaderLen || resp[0] != pcpVersion || resp[1] != pcpReply|op {
		return false, nil
	}
	if code := resp[3]; code != pcpSuccess {
		return true, fmt.Errorf("%w: pcp result %d", ErrRefused, code)
	}
	return true, nil
}

// roundTrip sends req until a matching response arrives. match (nil for
// ANNOUNCE) checks the opcode-specific part.
func (p *PCP) roundTrip(ctx context.Context, req []byte, op byte, match func([]byte) bool) ([]byte, error) {
	if p.Net == nil || !p.Gateway.IsValid() {
		return nil, errors.New("gateway: pcp: Net and Gateway are required")
	}
	c, err := listenFunc(p.Net, p.Local, p.Listen)()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	port := p.Port
	if port == 0 {
		port = PCPPort
	}
	rto, tries := p.RTO, p.Tries
	if rto <= 0 {
		rto = 250 * time.Millisecond
	}
	if tries <= 0 {
		tries = 4
	}
	// RFC 6887 §7: messages are at most 1100 bytes.
	return exchange(ctx, c, netip.AddrPortFrom(p.Gateway, port), req, 1100, tries, rto, "pcp", func(resp []byte) (bool, error) {
		ok, err := checkHeader(resp, op)
		if ok && err == nil && match != nil && !match(resp) {
			return false, nil
		}
		return ok, err
	})
}

var _ Client = (*PCP)(nil)
