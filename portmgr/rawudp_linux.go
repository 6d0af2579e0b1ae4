package portmgr

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// rawUDP reads and writes a UDP socket with raw recvfrom and
// sendto system calls (syscall.RawSyscall6), waiting for readiness on
// the runtime's poller as the net package does (syscall.RawConn).
//
// Why: every system call made through syscall.Syscall tells the Go
// scheduler it may block (entersyscall), and the first one made while
// the runtime's monitor thread (sysmon) sleeps because every P is idle
// wakes that thread, which then polls every 20 µs until the process is
// idle again. A call sends and receives 50 datagrams a second each way,
// each one woke sysmon, and sysmon's polling was about 40 % of a
// call's CPU samples (docs/performance.md). The socket is non-blocking
// (the net package makes it so), so recvfrom and sendto never block
// and the scheduler need not be told.
//
// AF_INET and AF_INET6 sockets take this path. An IPv6 link-local
// source carries the scope id of the interface it came in on: it is
// named as the net package names it (the interface's name, a lookup
// made only when the scope id changes) so that addresses compare and
// latch alike on either path; a destination's zone is turned back into
// a scope id the same way.
type rawUDP struct {
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket

	// The reader's state (one reader goroutine per socket) and the
	// function RawConn.Read calls, made once: a closure made per read
	// would escape and allocate per datagram.
	rb    []byte
	rn    int
	rfrom netip.AddrPort
	rerr  syscall.Errno
	rfn   func(fd uintptr) bool
	rzone zoneName // the last source scope id's name

	wmu   sync.Mutex // guards the writer's state, following
	wb    []byte
	wsa   syscall.RawSockaddrInet4
	wsa6  syscall.RawSockaddrInet6
	wsap  unsafe.Pointer // &wsa or &wsa6
	wsal  uintptr        // its size
	wn    int
	werr  syscall.Errno
	wfn   func(fd uintptr) bool
	wzone zoneIndex // the last destination zone's scope id
}

// zoneName caches the name of one scope id (an interface index).
type zoneName struct {
	id   uint32
	name string
}

func (z *zoneName) of(id uint32) string {
	if id == 0 {
		return ""
	}
	if id != z.id {
		z.id, z.name = id, strconv.Itoa(int(id))
		if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
			z.name = ifi.Name
		}
	}
	return z.name
}

// zoneIndex caches the scope id of one zone (an interface's name, or
// its index as a number).
type zoneIndex struct {
	zone string
	id   uint32
}

func (z *zoneIndex) of(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if zone != z.zone {
		z.zone, z.id = zone, 0
		if ifi, err := net.InterfaceByName(zone); err == nil {
			z.id = uint32(ifi.Index)
		} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
			z.id = uint32(n)
		}
	}
	return z.id
}

// newRawUDP returns the raw path for c, or nil when c is not an IPv4 or
// IPv6 *net.UDPConn.
func newRawUDP(c net.PacketConn) *rawUDP {
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var v4, v6 bool
	if err := rc.Control(func(fd uintptr) {
		sa, err := syscall.Getsockname(int(fd))
		if err != nil {
			return
		}
		switch sa.(type) {
		case *syscall.SockaddrInet4:
			v4 = true
		case *syscall.SockaddrInet6:
			v6 = true
		}
	}); err != nil || !v4 && !v6 {
		return nil
	}
	r := &rawUDP{rc: rc, v6: v6}
	r.rfn = r.recv
	r.wfn = r.send
	return r
}

// recv is one non-blocking recvfrom; false means wait on the poller.
func (r *rawUDP) recv(fd uintptr) bool {
	var sa syscall.RawSockaddrInet6 // room for either family's
	for {
		salen := uint32(unsafe.Sizeof(sa))
		var p unsafe.Pointer
		if len(r.rb) > 0 {
			p = unsafe.Pointer(&r.rb[0])
		}
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(p), uintptr(len(r.rb)), 0,
			uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rerr, r.rn, r.rfrom = e, 0, netip.AddrPort{}
		if e == 0 {
			r.rn = int(n)
			switch sa.Family {
			case syscall.AF_INET:
				sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&sa))
				r.rfrom = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
			case syscall.AF_INET6:
				a := netip.AddrFrom16(sa.Addr)
				if a.Is4In6() {
					a = a.Unmap()
				} else if sa.Scope_id != 0 {
					a = a.WithZone(r.rzone.of(sa.Scope_id))
				}
				r.rfrom = netip.AddrPortFrom(a, ntohs(sa.Port))
			}
		}
		return true
	}
}

// send is one non-blocking sendto; false means wait on the poller.
func (r *rawUDP) send(fd uintptr) bool {
	for {
		var p unsafe.Pointer
		if len(r.wb) > 0 {
			p = unsafe.Pointer(&r.wb[0])
		}
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(p), uintptr(len(r.wb)), 0,
			uintptr(r.wsap), r.wsal)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.werr, r.wn = e, int(n)
		return true
	}
}

// ntohs converts a port between network and host byte order, on hosts
// of either byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// readFrom reads one datagram into b, waiting for one to arrive; one
// reader at a time. Its errors are the net package's (net.ErrClosed
// after Close, a timeout after a read deadline) or the system call's.
func (r *rawUDP) readFrom(b []byte) (int, netip.AddrPort, error) {
	r.rb = b
	err := r.rc.Read(r.rfn)
	r.rb = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.rerr != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: r.rerr}
	}
	return r.rn, r.rfrom, nil
}

// writeTo sends b to to: on an IPv4 socket an IPv4 address (an
// IPv4-mapped IPv6 one is unmapped), on an IPv6 socket an IPv6 address
// with its zone; any other address is an error, as the net package's
// on a socket of that family.
func (r *rawUDP) writeTo(b []byte, to netip.AddrPort) (int, error) {
	a := to.Addr()
	if r.v6 {
		if !a.Is6() || a.Is4In6() {
			return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: syscall.EAFNOSUPPORT}
		}
	} else if a = a.Unmap(); !a.Is4() {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: syscall.EAFNOSUPPORT}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.wb = b
	if r.v6 {
		r.wsa6 = syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: a.As16(), Port: ntohs(to.Port()),
			Scope_id: r.wzone.of(a.Zone())}
		r.wsap, r.wsal = unsafe.Pointer(&r.wsa6), unsafe.Sizeof(r.wsa6)
	} else {
		r.wsa = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: a.As4(), Port: ntohs(to.Port())}
		r.wsap, r.wsal = unsafe.Pointer(&r.wsa), unsafe.Sizeof(r.wsa)
	}
	err := r.rc.Write(r.wfn)
	r.wb = nil
	if err != nil {
		return 0, err
	}
	if r.werr != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: r.werr}
	}
	return r.wn, nil
}
