package portmgr

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"
)

// rawUDP reads and writes an IPv4 UDP socket with raw recvfrom and
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
// Only AF_INET sockets take this path: an IPv6 source may carry a zone
// (scope id) whose name costs a lookup; those sockets keep the net
// package's path.
type rawUDP struct {
	rc syscall.RawConn

	// The reader's state (one reader goroutine per socket) and the
	// function RawConn.Read calls, made once: a closure made per read
	// would escape and allocate per datagram.
	rb    []byte
	rn    int
	rfrom netip.AddrPort
	rerr  syscall.Errno
	rfn   func(fd uintptr) bool

	wmu  sync.Mutex // guards the writer's state, following
	wb   []byte
	wsa  syscall.RawSockaddrInet4
	wn   int
	werr syscall.Errno
	wfn  func(fd uintptr) bool
}

// newRawUDP returns the raw path for c, or nil when c is not an IPv4
// *net.UDPConn.
func newRawUDP(c net.PacketConn) *rawUDP {
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	v4 := false
	if err := rc.Control(func(fd uintptr) {
		sa, err := syscall.Getsockname(int(fd))
		_, v4 = sa.(*syscall.SockaddrInet4)
		v4 = v4 && err == nil
	}); err != nil || !v4 {
		return nil
	}
	r := &rawUDP{rc: rc}
	r.rfn = r.recv
	r.wfn = r.send
	return r
}

// recv is one non-blocking recvfrom; false means wait on the poller.
func (r *rawUDP) recv(fd uintptr) bool {
	var sa syscall.RawSockaddrInet4
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
			if sa.Family == syscall.AF_INET {
				r.rfrom = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port))
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
			uintptr(unsafe.Pointer(&r.wsa)), unsafe.Sizeof(r.wsa))
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

// writeTo sends b to an IPv4 address (an IPv4-mapped IPv6 one is
// unmapped); any other address is an error, as on an AF_INET socket.
func (r *rawUDP) writeTo(b []byte, to netip.AddrPort) (int, error) {
	a := to.Addr().Unmap()
	if !a.Is4() {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: syscall.EAFNOSUPPORT}
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.wb = b
	r.wsa = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: a.As4(), Port: ntohs(to.Port())}
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
