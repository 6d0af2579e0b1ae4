package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// NAT-PMP (RFC 6886) constants. The server port is PCP's (PCPPort).
const (
	natpmpVersion     = 0
	natpmpOpExternal  = 0
	natpmpOpMapUDP    = 1
	natpmpReply       = 128
	natpmpExternalLen = 12
	natpmpMapLen      = 16
	natpmpFirstRTO    = 250 * time.Millisecond // RFC 6886 §3.1
	natpmpMaxTries    = 9
)

// NATPMP is a NAT-PMP client (RFC 6886) over a transport.Net. Each
// request goes from a socket of its own (from Listen when set, so the
// port manager can keep it inside its ranges).
type NATPMP struct {
	// Net opens the request socket. Nil means the host network.
	Net transport.Net
	// Listen, when set, opens the request socket instead of Net (on
	// Local, any port).
	Listen func() (net.PacketConn, error)
	// Gateway is the NAT-PMP server (the default router). Required.
	Gateway netip.Addr
	// Port is the server port (default 5351).
	Port uint16
	// Local is the IP to bind (zero: unspecified).
	Local netip.Addr
	// Timeout bounds each request with its retransmissions (250 ms,
	// doubling, at most 9 requests, RFC 6886 §3.1). Zero means the full
	// schedule.
	Timeout time.Duration
}

// NewNATPMP returns a NAT-PMP client for the gateway on the host
// network. The timeout bounds each request including its
// retransmissions.
func NewNATPMP(gw netip.Addr, timeout time.Duration) *NATPMP {
	return &NATPMP{Gateway: gw, Timeout: timeout}
}

// Protocol implements Client.
func (n *NATPMP) Protocol() string { return "natpmp" }

// ExternalIP implements Client (RFC 6886 §3.2):
//
//	request:  | Vers = 0 | OP = 0 |
//	response: | Vers = 0 | OP = 128 | Result Code (16) |
//	          | Seconds Since Start of Epoch (32)       |
//	          | External IPv4 Address (32)              |
func (n *NATPMP) ExternalIP(ctx context.Context) (netip.Addr, error) {
	resp, err := n.roundTrip(ctx, []byte{natpmpVersion, natpmpOpExternal}, natpmpExternalLen)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("gateway: natpmp: %w", err)
	}
	return netip.AddrFrom4([4]byte(resp[8:12])), nil
}

// Map implements Client (RFC 6886 §3.3). A renewal asks for the external
// port it already has.
//
//	request:  | Vers = 0 | OP = 1 | Reserved (16)          |
//	          | Internal Port (16) | Suggested External Port (16) |
//	          | Requested Port Mapping Lifetime in Seconds (32)   |
//	response: | Vers = 0 | OP = 129 | Result Code (16)    |
//	          | Seconds Since Start of Epoch (32)                |
//	          | Internal Port (16) | Mapped External Port (16)    |
//	          | Port Mapping Lifetime in Seconds (32)             |
func (n *NATPMP) Map(ctx context.Context, internal netip.AddrPort, prev *Lease, lifetime time.Duration) (Lease, error) {
	var want uint16
	if prev != nil {
		want = prev.External.Port()
	}
	resp, err := n.mapReq(ctx, internal.Port(), want, lifetime)
	if err != nil {
		return Lease{}, fmt.Errorf("gateway: natpmp map %s: %w", internal, err)
	}
	ext, err := n.ExternalIP(ctx)
	if err != nil {
		return Lease{}, err
	}
	return Lease{Internal: internal, External: netip.AddrPortFrom(ext, binary.BigEndian.Uint16(resp[10:12])),
		Lifetime: time.Duration(binary.BigEndian.Uint32(resp[12:16])) * time.Second}, nil
}

// Unmap implements Client: a mapping request with lifetime 0 and external
// port 0 deletes it (RFC 6886 §3.4).
func (n *NATPMP) Unmap(ctx context.Context, l Lease) error {
	if _, err := n.mapReq(ctx, l.Internal.Port(), 0, 0); err != nil {
		return fmt.Errorf("gateway: natpmp unmap %s: %w", l.Internal, err)
	}
	return nil
}

func (n *NATPMP) mapReq(ctx context.Context, internal, external uint16, lifetime time.Duration) ([]byte, error) {
	req := make([]byte, 12)
	req[0], req[1] = natpmpVersion, natpmpOpMapUDP
	binary.BigEndian.PutUint16(req[4:6], internal)
	binary.BigEndian.PutUint16(req[6:8], external)
	binary.BigEndian.PutUint32(req[8:12], uint32(lifetime/time.Second))
	resp, err := n.roundTrip(ctx, req, natpmpMapLen)
	if err != nil {
		return nil, err
	}
	if binary.BigEndian.Uint16(resp[8:10]) != internal {
		return nil, fmt.Errorf("%w: natpmp answer for internal port %d, asked %d", ErrMalformed, binary.BigEndian.Uint16(resp[8:10]), internal)
	}
	return resp, nil
}

// roundTrip sends req until an answer of at least size bytes to its
// opcode comes from the gateway, retransmitting as RFC 6886 §3.1 says,
// within Timeout.
func (n *NATPMP) roundTrip(ctx context.Context, req []byte, size int) ([]byte, error) {
	if !n.Gateway.IsValid() {
		return nil, errors.New("gateway: natpmp: Gateway is required")
	}
	tn := n.Net
	if tn == nil && n.Listen == nil {
		var err error
		if tn, err = stdnet.NewNet(); err != nil {
			return nil, err
		}
	}
	c, err := listenFunc(tn, n.Local, n.Listen)()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	port := n.Port
	if port == 0 {
		port = PCPPort
	}
	server := netip.AddrPortFrom(n.Gateway, port)
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	return exchange(ctx, c, server, req, 64, natpmpMaxTries, natpmpFirstRTO, "natpmp", func(resp []byte) (bool, error) {
		return checkNATPMP(resp, req[1], size)
	})
}

// checkNATPMP validates an answer to a request with opcode op (RFC 6886
// §3.2, §3.3): version 0, opcode 128+op, at least size bytes. ok is false
// for datagrams to ignore; err is set for a well-formed error result.
func checkNATPMP(resp []byte, op byte, size int) (ok bool, err error) {
	if len(resp) < size || len(resp) < 4 || resp[0] != natpmpVersion || resp[1] != natpmpReply|op {
		return false, nil
	}
	if code := binary.BigEndian.Uint16(resp[2:4]); code != 0 {
		return true, fmt.Errorf("%w: natpmp result %d", ErrRefused, code)
	}
	return true, nil
}

var _ Client = (*NATPMP)(nil)
