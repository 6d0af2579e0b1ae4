package dhcp

import (
	"encoding/binary"
	"fmt"
)

// Before it has an address the DHCP client cannot use a UDP socket (the
// kernel drops datagrams for an address it does not own), so it frames
// IPv4 and UDP itself on a packet socket.
//
//	IPv4 (RFC 791), 20 bytes, no options when we send:
//	  0x45 | tos | total length | id | flags/fragment | ttl | proto 17 |
//	  header checksum | source | destination
//	UDP (RFC 768): source port | destination port | length | checksum

const (
	dhcpClientPort = 68
	dhcpServerPort = 67
)

// frameUDP wraps payload in IPv4 and UDP headers from 0.0.0.0:src to
// 255.255.255.255:dst. The UDP checksum is left zero (allowed for IPv4).
func frameUDP(payload []byte, src, dst uint16) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64 // ttl
	b[9] = 17 // udp
	copy(b[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(b[10:], ipChecksum(b[:20]))
	binary.BigEndian.PutUint16(b[20:], src)
	binary.BigEndian.PutUint16(b[22:], dst)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// ipChecksum is the Internet checksum (RFC 1071) of an IPv4 header.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// unframeUDP returns the payload of an IPv4 UDP datagram to port 68, or
// an error for anything else. It never panics.
func unframeUDP(b []byte) ([]byte, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return nil, fmt.Errorf("%w: not IPv4", ErrBadPacket)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl+8 || total > len(b) {
		return nil, fmt.Errorf("%w: IPv4 lengths", ErrBadPacket)
	}
	if b[9] != 17 {
		return nil, fmt.Errorf("%w: not UDP", ErrBadPacket)
	}
	if frag := binary.BigEndian.Uint16(b[6:]); frag&0x3fff != 0 {
		return nil, fmt.Errorf("%w: fragment", ErrBadPacket)
	}
	u := b[ihl:total]
	if binary.BigEndian.Uint16(u[2:]) != dhcpClientPort {
		return nil, fmt.Errorf("%w: not to port 68", ErrBadPacket)
	}
	ulen := int(binary.BigEndian.Uint16(u[4:]))
	if ulen < 8 || ulen > len(u) {
		return nil, fmt.Errorf("%w: UDP length", ErrBadPacket)
	}
	return u[8:ulen], nil
}
