package initd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// A DHCPv4 client (RFC 2131) for the first Ethernet interface: DISCOVER,
// OFFER, REQUEST, ACK, and the options of RFC 2132 the phone needs.
//
// The message (RFC 2131 section 2, figure 1):
//
//	 0      1      2      3
//	+------+------+------+------+
//	|  op  | htype| hlen | hops |
//	+------+------+------+------+
//	|            xid            |
//	+-------------+-------------+
//	|    secs     |    flags    |
//	+-------------+-------------+
//	| ciaddr, yiaddr, siaddr, giaddr (4 bytes each)
//	| chaddr (16) | sname (64) | file (128)
//	| magic cookie 99.130.83.99 | options (TLV, ends with 255)

// DHCP message types (option 53, RFC 2132 section 9.6).
const (
	DHCPDiscover = 1
	DHCPOffer    = 2
	DHCPRequest  = 3
	DHCPDecline  = 4
	DHCPAck      = 5
	DHCPNak      = 6
	DHCPRelease  = 7
)

// DHCP option codes (RFC 2132).
const (
	optPad        = 0
	optSubnetMask = 1
	optRouter     = 3
	optDNS        = 6
	optHostname   = 12
	optRequested  = 50
	optLeaseTime  = 51
	optMsgType    = 53
	optServerID   = 54
	optParamList  = 55
	optMaxSize    = 57
	optRenewal    = 58
	optEnd        = 255
)

const (
	dhcpFixedLen  = 236
	dhcpMagic     = 0x63825363
	dhcpBroadcast = 0x8000
	dhcpMinLen    = dhcpFixedLen + 4
)

// DHCPMessage is a DHCP message, the fields the client uses.
type DHCPMessage struct {
	Op     byte // 1 request, 2 reply
	XID    uint32
	Secs   uint16
	Flags  uint16
	CIAddr netip.Addr
	YIAddr netip.Addr
	SIAddr netip.Addr
	CHAddr net.HardwareAddr
	// Options by code, values as on the wire (concatenated when a code
	// appears more than once, RFC 3396).
	Options map[byte][]byte
}

// Type returns the message type (option 53), 0 when absent.
func (m *DHCPMessage) Type() byte {
	if v := m.Options[optMsgType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

func addr4(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

func put4(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

// Marshal encodes m. Options are written in increasing code order (so the
// bytes are deterministic); values longer than 255 bytes are split.
func (m *DHCPMessage) Marshal() []byte {
	b := make([]byte, dhcpMinLen, 300)
	b[0] = m.Op
	b[1] = 1 // Ethernet
	b[2] = 6
	binary.BigEndian.PutUint32(b[4:], m.XID)
	binary.BigEndian.PutUint16(b[8:], m.Secs)
	binary.BigEndian.PutUint16(b[10:], m.Flags)
	put4(b[12:], m.CIAddr)
	put4(b[16:], m.YIAddr)
	put4(b[20:], m.SIAddr)
	copy(b[28:44], m.CHAddr)
	binary.BigEndian.PutUint32(b[236:], dhcpMagic)
	for code := 1; code < 255; code++ {
		v, ok := m.Options[byte(code)]
		if !ok {
			continue
		}
		for first := true; first || len(v) > 0; first = false {
			n := min(len(v), 255)
			b = append(b, byte(code), byte(n))
			b = append(b, v[:n]...)
			v = v[n:]
		}
	}
	b = append(b, optEnd)
	// Pad to the 300 bytes BOOTP relays and old servers expect.
	for len(b) < 300 {
		b = append(b, optPad)
	}
	return b
}

// ParseDHCP decodes a DHCP message. It never panics; anything malformed
// is an error wrapping ErrBadDHCP.
func ParseDHCP(b []byte) (*DHCPMessage, error) {
	if len(b) < dhcpMinLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadDHCP, len(b))
	}
	if binary.BigEndian.Uint32(b[236:]) != dhcpMagic {
		return nil, fmt.Errorf("%w: no magic cookie", ErrBadDHCP)
	}
	hlen := int(b[2])
	if hlen > 16 {
		return nil, fmt.Errorf("%w: hlen %d", ErrBadDHCP, hlen)
	}
	m := &DHCPMessage{
		Op: b[0], XID: binary.BigEndian.Uint32(b[4:]), Secs: binary.BigEndian.Uint16(b[8:]),
		Flags: binary.BigEndian.Uint16(b[10:]), CIAddr: addr4(b[12:16]), YIAddr: addr4(b[16:20]),
		SIAddr: addr4(b[20:24]), CHAddr: net.HardwareAddr(append([]byte(nil), b[28:28+hlen]...)),
		Options: map[byte][]byte{},
	}
	opts := b[dhcpMinLen:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == optEnd {
			return m, nil
		}
		if code == optPad {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return nil, fmt.Errorf("%w: option %d without length", ErrBadDHCP, code)
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, fmt.Errorf("%w: option %d overruns the packet", ErrBadDHCP, code)
		}
		m.Options[code] = append(m.Options[code], opts[i+2:i+2+n]...)
		i += 2 + n
	}
	return nil, fmt.Errorf("%w: options without end", ErrBadDHCP)
}

// Lease is what a DHCP server granted.
type Lease struct {
	// Addr is the address with its prefix length (from the subnet mask).
	Addr netip.Prefix
	// Router is the default gateway (invalid when none was given).
	Router netip.Addr
	// DNS lists the name servers.
	DNS []netip.Addr
	// Server is the DHCP server identifier.
	Server netip.Addr
	// Duration is the lease time; Renew is T1 (half of it by default).
	Duration, Renew time.Duration
}

// leaseFromAck reads a lease from an ACK.
func leaseFromAck(m *DHCPMessage) (*Lease, error) {
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() {
		return nil, fmt.Errorf("%w: ACK without an address", ErrBadDHCP)
	}
	bits := 24
	if mask := m.Options[optSubnetMask]; len(mask) == 4 {
		ones, total := net.IPMask(mask).Size()
		if total != 32 {
			return nil, fmt.Errorf("%w: subnet mask %v", ErrBadDHCP, net.IP(mask))
		}
		bits = ones
	}
	l := &Lease{Addr: netip.PrefixFrom(m.YIAddr, bits)}
	if r := m.Options[optRouter]; len(r) >= 4 {
		l.Router = addr4(r[:4])
	}
	for d := m.Options[optDNS]; len(d) >= 4; d = d[4:] {
		l.DNS = append(l.DNS, addr4(d[:4]))
	}
	if s := m.Options[optServerID]; len(s) == 4 {
		l.Server = addr4(s)
	}
	l.Duration = 24 * time.Hour
	if t := m.Options[optLeaseTime]; len(t) == 4 {
		l.Duration = time.Duration(binary.BigEndian.Uint32(t)) * time.Second
	}
	l.Renew = l.Duration / 2
	if t := m.Options[optRenewal]; len(t) == 4 {
		if r := time.Duration(binary.BigEndian.Uint32(t)) * time.Second; r > 0 && r < l.Duration {
			l.Renew = r
		}
	}
	if l.Renew < 10*time.Second {
		l.Renew = 10 * time.Second
	}
	return l, nil
}

// DHCPConn carries DHCP messages (the UDP payloads) between the client
// and the servers on one interface.
type DHCPConn interface {
	// Send broadcasts one message.
	Send(b []byte) error
	// Receive returns the next message addressed to the client port, or
	// the context's error.
	Receive(ctx context.Context) ([]byte, error)
}

// DHCPClient acquires a lease.
type DHCPClient struct {
	Conn DHCPConn
	// MAC is the interface's hardware address.
	MAC net.HardwareAddr
	// Hostname is sent in option 12 when not empty.
	Hostname string
	// XID is the transaction ID; Acquire increments it per attempt.
	XID uint32
	// Timeout is the first wait for an answer (default 4 s, RFC 2131
	// section 4.1), doubled each retry up to 32 s.
	Timeout time.Duration
	Logger  *slog.Logger
}

func (c *DHCPClient) request(typ byte, extra map[byte][]byte) []byte {
	params := []byte{optSubnetMask, optRouter, optDNS, optLeaseTime, optRenewal, optServerID}
	m := &DHCPMessage{Op: 1, XID: c.XID, Flags: dhcpBroadcast, CHAddr: c.MAC, Options: map[byte][]byte{
		optMsgType:   {typ},
		optParamList: params,
		optMaxSize:   {0x05, 0xdc}, // 1500
	}}
	if c.Hostname != "" {
		m.Options[optHostname] = []byte(c.Hostname)
	}
	for k, v := range extra {
		m.Options[k] = v
	}
	return m.Marshal()
}

// await reads messages until one of this transaction of a wanted type
// arrives, or wait passes.
func (c *DHCPClient) await(ctx context.Context, wait time.Duration, want ...byte) (*DHCPMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		b, err := c.Conn.Receive(ctx)
		if err != nil {
			return nil, err
		}
		m, err := ParseDHCP(b)
		if err != nil || m.Op != 2 || m.XID != c.XID || len(m.CHAddr) < 6 || string(m.CHAddr[:6]) != string(c.MAC) {
			continue // not for us
		}
		for _, w := range want {
			if m.Type() == w {
				return m, nil
			}
		}
	}
}

// Acquire runs DISCOVER/OFFER/REQUEST/ACK until a lease is granted or ctx
// is done, retrying with exponential back-off.
func (c *DHCPClient) Acquire(ctx context.Context) (*Lease, error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := c.Timeout
	if wait <= 0 {
		wait = 4 * time.Second
	}
	for {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoLease, ctx.Err())
		}
		c.XID++
		lease, err := c.once(ctx, wait)
		if err == nil {
			return lease, nil
		}
		log.Debug("dhcp attempt failed", "err", err, "wait", wait)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errNak) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrNoLease, ctx.Err())
			}
			return nil, err
		}
		wait = min(2*wait, 32*time.Second)
	}
}

var errNak = errors.New("initd: DHCPNAK")

func (c *DHCPClient) once(ctx context.Context, wait time.Duration) (*Lease, error) {
	if err := c.Conn.Send(c.request(DHCPDiscover, nil)); err != nil {
		return nil, fmt.Errorf("dhcp discover: %w", err)
	}
	offer, err := c.await(ctx, wait, DHCPOffer)
	if err != nil {
		return nil, err
	}
	sid := offer.Options[optServerID]
	if len(sid) != 4 || !offer.YIAddr.Is4() {
		return nil, context.DeadlineExceeded // unusable offer: try again
	}
	ip := offer.YIAddr.As4()
	if err := c.Conn.Send(c.request(DHCPRequest, map[byte][]byte{optRequested: ip[:], optServerID: sid})); err != nil {
		return nil, fmt.Errorf("dhcp request: %w", err)
	}
	ack, err := c.await(ctx, wait, DHCPAck, DHCPNak)
	if err != nil {
		return nil, err
	}
	if ack.Type() == DHCPNak {
		return nil, errNak
	}
	return leaseFromAck(ack)
}
