//go:build linux

package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PacketConn is a Conn on an AF_PACKET socket (packet(7)) bound to
// one interface: the kernel adds and strips the Ethernet header, this
// side the IPv4 and UDP headers.
type PacketConn struct {
	f       *os.File
	ifindex int
	ifname  string
	udp     int // the kernel UDP socket on port 68 for SendTo; -1 until opened
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacketConn opens a packet socket for IPv4 on the interface.
func OpenPacketConn(ifi *net.Interface) (*PacketConn, error) {
	ifindex := ifi.Index
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("dhcp: packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcp: bind packet socket: %w", err)
	}
	return &PacketConn{f: os.NewFile(uintptr(fd), "dhcp"), ifindex: ifindex, ifname: ifi.Name, udp: -1}, nil
}

func (c *PacketConn) Close() error {
	if c.udp >= 0 {
		unix.Close(c.udp)
		c.udp = -1
	}
	return c.f.Close()
}

// SendTo sends a DHCP message to a server from port 68 of the leased
// address through the kernel (which routes it and resolves the next hop):
// renewals and DHCPRELEASE (Unicaster). The answer, sent to the
// leased address, is read from the packet socket like any other; the UDP
// socket stays open only so the kernel does not answer it with ICMP port
// unreachable.
func (c *PacketConn) SendTo(b []byte, server netip.Addr) error {
	if !server.Is4() {
		return fmt.Errorf("dhcp: server %v is not IPv4", server)
	}
	if c.udp < 0 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("dhcp: udp socket: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.BindToDevice(fd, c.ifname); err != nil {
			unix.Close(fd)
			return fmt.Errorf("dhcp: udp socket: bind to %s: %w", c.ifname, err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: dhcpClientPort}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("dhcp: udp socket: bind port 68: %w", err)
		}
		c.udp = fd
	}
	if err := unix.Sendto(c.udp, b, 0, &unix.SockaddrInet4{Port: dhcpServerPort, Addr: server.As4()}); err != nil {
		return fmt.Errorf("dhcp: to %s: %w", server, err)
	}
	return nil
}

// Send broadcasts a DHCP message from 0.0.0.0:68.
func (c *PacketConn) Send(b []byte) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	frame := frameUDP(b, dhcpClientPort, dhcpServerPort)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, to)
		return serr != unix.EAGAIN
	})
	return errors.Join(err, serr)
}

// Receive returns the next UDP payload to port 68.
func (c *PacketConn) Receive(ctx context.Context) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { _ = c.f.SetReadDeadline(time.Now()) })
	defer stop()
	defer c.f.SetReadDeadline(time.Time{})
	buf := make([]byte, 2048)
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if p, err := unframeUDP(buf[:n]); err == nil {
			return p, nil
		}
	}
}

// FirstEthernet returns the first non-loopback interface with an
// Ethernet address, by index.
func FirstEthernet() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Index < ifs[j].Index })
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && len(i.HardwareAddr) == 6 {
			return &i, nil
		}
	}
	return nil, errors.New("dhcp: no Ethernet interface")
}

// LinkUp sets IFF_UP on the interface.
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("dhcp: %s flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("dhcp: %s up: %w", name, err)
	}
	return nil
}

// netlink sends one rtnetlink request (rtnetlink(7)) and waits for its
// acknowledgement.
func netlink(typ uint16, body []byte, attrs ...[]byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	msg := make([]byte, unix.NLMSG_HDRLEN)
	msg = append(msg, body...)
	for _, a := range attrs {
		msg = append(msg, a...)
	}
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	ne.PutUint32(msg[8:], 1)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < unix.NLMSG_HDRLEN+4 || ne.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return errors.New("dhcp: netlink: unexpected answer")
	}
	if code := int32(ne.Uint32(buf[unix.NLMSG_HDRLEN:])); code != 0 {
		return unix.Errno(-code)
	}
	return nil
}

// rtattr encodes a route attribute, padded to 4 bytes.
func rtattr(typ uint16, v []byte) []byte {
	l := 4 + len(v)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], v)
	return b
}

// addAddress assigns p to the interface.
func addAddress(ifindex int, p netip.Prefix) error {
	ifa := make([]byte, 8)
	ifa[0] = unix.AF_INET
	ifa[1] = byte(p.Bits())
	binary.NativeEndian.PutUint32(ifa[4:], uint32(ifindex))
	a := p.Addr().As4()
	bc := netip.PrefixFrom(p.Addr(), p.Bits()).Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		bc[i/8] |= 0x80 >> (i % 8)
	}
	if err := netlink(unix.RTM_NEWADDR, ifa, rtattr(unix.IFA_LOCAL, a[:]), rtattr(unix.IFA_ADDRESS, a[:]), rtattr(unix.IFA_BROADCAST, bc[:])); err != nil {
		return fmt.Errorf("dhcp: address %s: %w", p, err)
	}
	return nil
}

// addDefaultRoute routes everything through gw on the interface.
func addDefaultRoute(ifindex int, gw netip.Addr) error {
	rt := make([]byte, 12)
	rt[0] = unix.AF_INET
	rt[4] = unix.RT_TABLE_MAIN
	rt[5] = unix.RTPROT_BOOT
	rt[6] = unix.RT_SCOPE_UNIVERSE
	rt[7] = unix.RTN_UNICAST
	g := gw.As4()
	oif := make([]byte, 4)
	binary.NativeEndian.PutUint32(oif, uint32(ifindex))
	if err := netlink(unix.RTM_NEWROUTE, rt, rtattr(unix.RTA_GATEWAY, g[:]), rtattr(unix.RTA_OIF, oif)); err != nil {
		return fmt.Errorf("dhcp: default route via %s: %w", gw, err)
	}
	return nil
}

// DropLease removes a lost lease's address and default route from the
// interface (errors are logged by nobody: the address may be gone
// already).
func DropLease(ifi *net.Interface, l *Lease) {
	if l.Router.IsValid() {
		rt := make([]byte, 12)
		rt[0] = unix.AF_INET
		rt[4] = unix.RT_TABLE_MAIN
		rt[6] = unix.RT_SCOPE_NOWHERE
		g := l.Router.As4()
		oif := make([]byte, 4)
		binary.NativeEndian.PutUint32(oif, uint32(ifi.Index))
		_ = netlink(unix.RTM_DELROUTE, rt, rtattr(unix.RTA_GATEWAY, g[:]), rtattr(unix.RTA_OIF, oif))
	}
	ifa := make([]byte, 8)
	ifa[0] = unix.AF_INET
	ifa[1] = byte(l.Addr.Bits())
	binary.NativeEndian.PutUint32(ifa[4:], uint32(ifi.Index))
	a := l.Addr.Addr().As4()
	_ = netlink(unix.RTM_DELADDR, ifa, rtattr(unix.IFA_LOCAL, a[:]), rtattr(unix.IFA_ADDRESS, a[:]))
}

// ApplyLease configures the interface from a lease and writes the
// resolver configuration.
func ApplyLease(ifi *net.Interface, l *Lease, resolvConf string) error {
	if err := addAddress(ifi.Index, l.Addr); err != nil {
		return err
	}
	if l.Router.IsValid() {
		if err := addDefaultRoute(ifi.Index, l.Router); err != nil {
			return err
		}
	}
	if resolvConf != "" && len(l.DNS) > 0 {
		var b strings.Builder
		for _, d := range l.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", d)
		}
		if err := os.WriteFile(resolvConf, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("dhcp: %w", err)
		}
	}
	return nil
}
