package portmgrtest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4"
)

// GatewayCounters counts what a fake gateway was asked.
type GatewayCounters struct {
	Probes  atomic.Int64 // ANNOUNCE / external-address requests
	Maps    atomic.Int64 // new mappings
	Renews  atomic.Int64 // requests for a mapping already held
	Deletes atomic.Int64 // deletions
	Lapsed  atomic.Int64 // renewals that came after the lease had expired
}

// lease is a mapping held by a fake gateway.
type lease struct {
	internal netip.AddrPort
	ext      uint16
	expires  time.Time
}

// FakePCP is a PCP server (RFC 6887) on a transport.Net that grants
// every MAP request with an external port of its own choosing on
// External, and counts requests. It does not forward packets: it is a
// protocol double.
type FakePCP struct {
	Net      transport.Net
	Addr     netip.AddrPort // where to listen, e.g. 10.0.1.1:5351
	External netip.Addr
	// MaxLifetime caps granted lifetimes (default 120 s).
	MaxLifetime time.Duration
	GatewayCounters

	mu     sync.Mutex
	leases map[[12]byte]*lease
	next   uint16
	c      net.PacketConn
	wg     sync.WaitGroup
}

// Start listens and serves.
func (f *FakePCP) Start() error {
	c, err := f.Net.ListenPacket("udp4", f.Addr.String())
	if err != nil {
		return err
	}
	f.c, f.leases, f.next = c, map[[12]byte]*lease{}, 40000
	if f.MaxLifetime == 0 {
		f.MaxLifetime = 120 * time.Second
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 1100)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := f.handle(buf[:n]); resp != nil {
				_, _ = c.WriteTo(resp, from)
			}
		}
	}()
	return nil
}

// Close stops the server.
func (f *FakePCP) Close() {
	if f.c != nil {
		_ = f.c.Close()
		f.wg.Wait()
	}
}

// Leases is the number of mappings held.
func (f *FakePCP) Leases() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.leases)
}

func (f *FakePCP) handle(req []byte) []byte {
	if len(req) < 24 || req[0] != 2 || req[1]&0x80 != 0 {
		return nil
	}
	op := req[1]
	resp := make([]byte, 24)
	resp[0], resp[1] = 2, 0x80|op
	switch op {
	case 0: // ANNOUNCE
		f.Probes.Add(1)
		return resp
	case 1: // MAP
	default:
		resp[3] = 5 // UNSUPP_OPCODE
		return resp
	}
	if len(req) < 60 {
		resp[3] = 3 // MALFORMED_REQUEST
		return resp
	}
	life := time.Duration(binary.BigEndian.Uint32(req[4:8])) * time.Second
	client := netip.AddrFrom16([16]byte(req[8:24])).Unmap()
	o := req[24:60]
	nonce := [12]byte(o[0:12])
	internal := netip.AddrPortFrom(client, binary.BigEndian.Uint16(o[16:18]))
	f.mu.Lock()
	l, held := f.leases[nonce]
	var ext uint16
	switch {
	case life == 0:
		if held {
			delete(f.leases, nonce)
			f.Deletes.Add(1)
			ext = l.ext
		}
	case held:
		if time.Now().After(l.expires) {
			f.Lapsed.Add(1)
		}
		f.Renews.Add(1)
		life = min(life, f.MaxLifetime)
		l.expires = time.Now().Add(life)
		ext = l.ext
	default:
		f.Maps.Add(1)
		life = min(life, f.MaxLifetime)
		ext = f.next
		f.next++
		f.leases[nonce] = &lease{internal: internal, ext: ext, expires: time.Now().Add(life)}
	}
	f.mu.Unlock()
	binary.BigEndian.PutUint32(resp[4:8], uint32(life/time.Second))
	out := make([]byte, 36)
	copy(out, o)
	binary.BigEndian.PutUint16(out[18:20], ext)
	e16 := netip.AddrFrom16(f.External.As16())
	if f.External.Is4() {
		e16 = netip.AddrFrom16(netip.AddrFrom4(f.External.As4()).As16())
	}
	copy(out[20:36], e16.AsSlice())
	return append(resp, out...)
}

// FakeNATPMP is a NAT-PMP server (RFC 6886) on a net.PacketConn (a vnet
// socket, or a loopback one for the client on the host network).
type FakeNATPMP struct {
	Conn     net.PacketConn
	External netip.Addr
	GatewayCounters

	mu     sync.Mutex
	leases map[uint16]*lease // by internal port
	next   uint16
	wg     sync.WaitGroup
}

// Start serves Conn.
func (f *FakeNATPMP) Start() {
	f.leases, f.next = map[uint16]*lease{}, 50000
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 64)
		for {
			n, from, err := f.Conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := f.handle(buf[:n]); resp != nil {
				_, _ = f.Conn.WriteTo(resp, from)
			}
		}
	}()
}

// Close stops the server.
func (f *FakeNATPMP) Close() {
	_ = f.Conn.Close()
	f.wg.Wait()
}

func (f *FakeNATPMP) handle(req []byte) []byte {
	if len(req) < 2 || req[0] != 0 {
		return nil
	}
	switch req[1] {
	case 0: // external address (RFC 6886 §3.2)
		f.Probes.Add(1)
		resp := make([]byte, 12)
		resp[1] = 128
		binary.BigEndian.PutUint32(resp[4:8], 1000)
		copy(resp[8:12], f.External.AsSlice())
		return resp
	case 1: // UDP mapping (§3.3)
		if len(req) < 12 {
			return nil
		}
		in := binary.BigEndian.Uint16(req[4:6])
		life := binary.BigEndian.Uint32(req[8:12])
		f.mu.Lock()
		l, held := f.leases[in]
		var ext uint16
		switch {
		case life == 0:
			if held {
				delete(f.leases, in)
				f.Deletes.Add(1)
			}
		case held:
			if time.Now().After(l.expires) {
				f.Lapsed.Add(1)
			}
			f.Renews.Add(1)
			l.expires = time.Now().Add(time.Duration(life) * time.Second)
			ext = l.ext
		default:
			f.Maps.Add(1)
			ext = f.next
			f.next++
			f.leases[in] = &lease{ext: ext, expires: time.Now().Add(time.Duration(life) * time.Second)}
		}
		f.mu.Unlock()
		resp := make([]byte, 16)
		resp[1] = 129
		binary.BigEndian.PutUint32(resp[4:8], 1000)
		binary.BigEndian.PutUint16(resp[8:10], in)
		binary.BigEndian.PutUint16(resp[10:12], ext)
		binary.BigEndian.PutUint32(resp[12:16], life)
		return resp
	}
	return nil
}

var _ = strconv.Itoa

// Leases is the number of mappings held.
func (f *FakeNATPMP) Leases() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.leases)
}
