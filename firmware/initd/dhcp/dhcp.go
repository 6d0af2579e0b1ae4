package dhcp

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
// OFFER, REQUEST, ACK, and the options of RFC 2132 the phone needs; then
// the lease is kept (section 4.4.5): at T1 a REQUEST unicast to the
// server that granted it (RENEWING), at T2 one broadcast to any server
// (REBINDING), and when it expires the address is dropped and the client
// starts again (INIT). A clean shutdown releases it (DHCPRELEASE).
//
//	INIT --DISCOVER/OFFER/REQUEST/ACK--> BOUND --T1--> RENEWING --T2--> REBINDING
//	  ^                                    ^  ACK         |     ACK         |
//	  |                                    +--------------+-----------------+
//	  +------------------ NAK, or the lease expired ------+-----------------+
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
	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
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
	optRebinding  = 59
	optEnd        = 255
)

const (
	dhcpFixedLen  = 236
	dhcpMagic     = 0x63825363
	dhcpBroadcast = 0x8000
	dhcpMinLen    = dhcpFixedLen + 4
)

// Message is a DHCP message, the fields the client uses.
type Message struct {
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
func (m *Message) Type() byte {
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
func (m *Message) Marshal() []byte {
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

// Parse decodes a DHCP message. It never panics; anything malformed
// is an error wrapping ErrBadPacket.
func Parse(b []byte) (*Message, error) {
	if len(b) < dhcpMinLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPacket, len(b))
	}
	if binary.BigEndian.Uint32(b[236:]) != dhcpMagic {
		return nil, fmt.Errorf("%w: no magic cookie", ErrBadPacket)
	}
	hlen := int(b[2])
	if hlen > 16 {
		return nil, fmt.Errorf("%w: hlen %d", ErrBadPacket, hlen)
	}
	m := &Message{
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
			return nil, fmt.Errorf("%w: option %d without length", ErrBadPacket, code)
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, fmt.Errorf("%w: option %d overruns the packet", ErrBadPacket, code)
		}
		m.Options[code] = append(m.Options[code], opts[i+2:i+2+n]...)
		i += 2 + n
	}
	return nil, fmt.Errorf("%w: options without end", ErrBadPacket)
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
	// Duration is the lease time; Renew is T1 (half of it by default),
	// Rebind T2 (seven eighths by default), all counted from Start.
	Duration, Renew, Rebind time.Duration
	// Start is when the REQUEST that got this lease was sent (RFC 2131
	// section 4.4.1: the lease runs from then).
	Start time.Time
	// ProvisionURL is the provisioning server the answer named (options
	// 43, 66, 150: ProvisionURL), "" when none.
	ProvisionURL string
}

// leaseFromAck reads a lease from an ACK.
func leaseFromAck(m *Message) (*Lease, error) {
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() {
		return nil, fmt.Errorf("%w: ACK without an address", ErrBadPacket)
	}
	bits := 24
	if mask := m.Options[optSubnetMask]; len(mask) == 4 {
		ones, total := net.IPMask(mask).Size()
		if total != 32 {
			return nil, fmt.Errorf("%w: subnet mask %v", ErrBadPacket, net.IP(mask))
		}
		bits = ones
	}
	l := &Lease{Addr: netip.PrefixFrom(m.YIAddr, bits), ProvisionURL: ProvisionURL(m)}
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
	l.Rebind = l.Duration * 7 / 8
	if t := m.Options[optRebinding]; len(t) == 4 {
		if r := time.Duration(binary.BigEndian.Uint32(t)) * time.Second; r > 0 && r < l.Duration {
			l.Rebind = r
		}
	}
	if l.Renew < 10*time.Second {
		l.Renew = 10 * time.Second
	}
	if l.Rebind < l.Renew {
		l.Rebind = l.Renew
	}
	if l.Duration < l.Rebind {
		l.Duration = l.Rebind
	}
	return l, nil
}

// Conn carries DHCP messages (the UDP payloads) between the client
// and the servers on one interface.
type Conn interface {
	// Send broadcasts one message.
	Send(b []byte) error
	// Receive returns the next message addressed to the client port, or
	// the context's error.
	Receive(ctx context.Context) ([]byte, error)
}

// Unicaster is a Conn that can also send to one server's
// address from the leased address (an ordinary UDP datagram the kernel
// routes): RENEWING and DHCPRELEASE use it. Without it they broadcast.
type Unicaster interface {
	SendTo(b []byte, server netip.Addr) error
}

// Client acquires and keeps a lease.
type Client struct {
	Conn Conn
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

func (c *Client) request(typ byte, extra map[byte][]byte) []byte {
	return c.message(typ, netip.Addr{}, extra)
}

// message builds a client message; with ciaddr set (RENEWING, REBINDING,
// RELEASE) the server answers to that address, so no broadcast flag.
func (c *Client) message(typ byte, ciaddr netip.Addr, extra map[byte][]byte) []byte {
	params := []byte{optSubnetMask, optRouter, optDNS, optLeaseTime, optRenewal, optRebinding, optServerID}
	params = append(params, provisionParams...)
	flags := uint16(dhcpBroadcast)
	if ciaddr.IsValid() {
		flags = 0
	}
	m := &Message{Op: 1, XID: c.XID, Flags: flags, CIAddr: ciaddr, CHAddr: c.MAC, Options: map[byte][]byte{
		optMsgType:   {typ},
		optParamList: params,
		optMaxSize:   {0x05, 0xdc}, // 1500
	}}
	m.Options[optVendorClass] = []byte(VendorClass)
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
func (c *Client) await(ctx context.Context, wait time.Duration, want ...byte) (*Message, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		b, err := c.Conn.Receive(ctx)
		if err != nil {
			return nil, err
		}
		m, err := Parse(b)
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
func (c *Client) Acquire(ctx context.Context) (*Lease, error) {
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

var errNak = errors.New("dhcp: DHCPNAK")

func (c *Client) once(ctx context.Context, wait time.Duration) (*Lease, error) {
	if err := c.Conn.Send(c.request(Discover, nil)); err != nil {
		return nil, fmt.Errorf("dhcp discover: %w", err)
	}
	offer, err := c.await(ctx, wait, Offer)
	if err != nil {
		return nil, err
	}
	sid := offer.Options[optServerID]
	if len(sid) != 4 || !offer.YIAddr.Is4() {
		return nil, context.DeadlineExceeded // unusable offer: try again
	}
	ip := offer.YIAddr.As4()
	sent := time.Now()
	if err := c.Conn.Send(c.request(Request, map[byte][]byte{optRequested: ip[:], optServerID: sid})); err != nil {
		return nil, fmt.Errorf("dhcp request: %w", err)
	}
	ack, err := c.await(ctx, wait, Ack, Nak)
	if err != nil {
		return nil, err
	}
	if ack.Type() == Nak {
		return nil, errNak
	}
	l, err := leaseFromAck(ack)
	if err != nil {
		return nil, err
	}
	l.Start = sent
	return l, nil
}

// Keep holds lease l until ctx is done or the lease is lost (RFC 2131
// section 4.4.5). At T1 it sends a REQUEST with ciaddr to the server that
// granted the lease (unicast; RENEWING), at T2 to any server (broadcast;
// REBINDING); without an answer it asks again after half the time left
// until T2 (or, rebinding, until the lease ends), at least 60 s apart. An
// ACK extends the lease: renewed (may be nil) gets the new one, whose
// address the caller applies if it changed. A NAK, or the lease running
// out, returns ErrLeaseLost: the caller drops the address and starts over
// with Acquire. Keep returns the lease it holds last, for Release.
func (c *Client) Keep(ctx context.Context, l *Lease, renewed func(*Lease)) (*Lease, error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		t1, t2, end := l.Start.Add(l.Renew), l.Start.Add(l.Rebind), l.Start.Add(l.Duration)
		if err := sleepUntil(ctx, t1); err != nil {
			return l, err
		}
		var nl *Lease
		var err error
		for nl == nil {
			now := time.Now()
			if !now.Before(end) {
				return l, fmt.Errorf("%w: %s expired", ErrLeaseLost, l.Addr)
			}
			rebinding := !now.Before(t2)
			until := t2
			if rebinding {
				until = end
			}
			wait := max(until.Sub(now)/2, 60*time.Second)
			wait = min(wait, until.Sub(now))
			nl, err = c.extend(ctx, l, rebinding, wait)
			switch {
			case errors.Is(err, errNak):
				return l, fmt.Errorf("%w: %s refused (DHCPNAK)", ErrLeaseLost, l.Addr)
			case ctx.Err() != nil:
				return l, ctx.Err()
			case err != nil && !errors.Is(err, context.DeadlineExceeded):
				// A send that failed (no route yet, say): wait out
				// this round as if unanswered.
				log.Debug("dhcp renew", "err", err)
				if err := sleepUntil(ctx, now.Add(wait)); err != nil {
					return l, err
				}
			}
		}
		log.Info("dhcp lease renewed", "addr", nl.Addr, "server", nl.Server, "lease", nl.Duration)
		l = nl
		if renewed != nil {
			renewed(l)
		}
	}
}

// extend sends one REQUEST for l (unicast to its server when renewing and
// the Conn can, else broadcast) and waits up to wait for the ACK or NAK.
func (c *Client) extend(ctx context.Context, l *Lease, rebinding bool, wait time.Duration) (*Lease, error) {
	c.XID++
	b := c.message(Request, l.Addr.Addr(), nil)
	sent := time.Now()
	var err error
	if u, ok := c.Conn.(Unicaster); ok && !rebinding && l.Server.IsValid() {
		err = u.SendTo(b, l.Server)
	} else {
		err = c.Conn.Send(b)
	}
	if err != nil {
		return nil, fmt.Errorf("dhcp renew: %w", err)
	}
	ack, err := c.await(ctx, wait, Ack, Nak)
	if err != nil {
		return nil, err
	}
	if ack.Type() == Nak {
		return nil, errNak
	}
	nl, err := leaseFromAck(ack)
	if err != nil {
		return nil, context.DeadlineExceeded // unusable: as if unanswered
	}
	if !nl.Server.IsValid() {
		nl.Server = l.Server
	}
	nl.Start = sent
	return nl, nil
}

// Release gives the lease back (DHCPRELEASE, RFC 2131 section 4.4.6:
// ciaddr and the server identifier, unicast to the server when the Conn
// can). No answer comes; the caller then stops using the address.
func (c *Client) Release(l *Lease) error {
	c.XID++
	m := &Message{Op: 1, XID: c.XID, CIAddr: l.Addr.Addr(), CHAddr: c.MAC,
		Options: map[byte][]byte{optMsgType: {Release}}}
	if l.Server.IsValid() {
		s := l.Server.As4()
		m.Options[optServerID] = s[:]
	}
	b := m.Marshal()
	var err error
	if u, ok := c.Conn.(Unicaster); ok && l.Server.IsValid() {
		err = u.SendTo(b, l.Server)
	} else {
		err = c.Conn.Send(b)
	}
	if err != nil {
		return fmt.Errorf("dhcp release: %w", err)
	}
	return nil
}

// sleepUntil waits until t or ctx is done.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
