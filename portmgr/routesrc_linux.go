//go:build linux && !386

package portmgr

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

// rawRouteSource is the source address the kernel's route toward ap
// gives, found as a UDP dial finds it (socket, connect, getsockname,
// close: nothing is sent) but with raw system calls. The SIP stack asks
// for it before each request it sends to a server (Reachable), an idle
// phone's registration refresh among them; through the net package each
// of those calls told the scheduler it might block (entersyscall), which
// wakes the runtime's sleeping monitor thread into polling every 20 µs
// (see rawUDP). None of them blocks on a UDP socket.
func rawRouteSource(ap netip.AddrPort) (netip.Addr, error) {
	ip := ap.Addr().Unmap()
	if ip.Zone() != "" {
		return netip.Addr{}, errRawRoute
	}
	family := syscall.AF_INET
	var sa4 syscall.RawSockaddrInet4
	var sa6 syscall.RawSockaddrInet6
	var sa unsafe.Pointer
	var salen uintptr
	port := [2]byte{byte(ap.Port() >> 8), byte(ap.Port())}
	if ip.Is4() {
		sa4.Family = syscall.AF_INET
		sa4.Addr = ip.As4()
		*(*[2]byte)(unsafe.Pointer(&sa4.Port)) = port
		sa, salen = unsafe.Pointer(&sa4), unsafe.Sizeof(sa4)
	} else {
		family = syscall.AF_INET6
		sa6.Family = syscall.AF_INET6
		sa6.Addr = ip.As16()
		*(*[2]byte)(unsafe.Pointer(&sa6.Port)) = port
		sa, salen = unsafe.Pointer(&sa6), unsafe.Sizeof(sa6)
	}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return netip.Addr{}, os.NewSyscallError("socket", errno)
	}
	defer syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CONNECT, fd, uintptr(sa), salen); errno != 0 {
		return netip.Addr{}, os.NewSyscallError("connect", errno)
	}
	var out syscall.RawSockaddrAny
	outlen := uint32(unsafe.Sizeof(out))
	if _, _, errno := syscall.RawSyscall(syscall.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(&out)), uintptr(unsafe.Pointer(&outlen))); errno != 0 {
		return netip.Addr{}, os.NewSyscallError("getsockname", errno)
	}
	switch out.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&out))
		return netip.AddrFrom4(a.Addr), nil
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&out))
		return netip.AddrFrom16(a.Addr).Unmap(), nil
	}
	return netip.Addr{}, errors.New("getsockname: no IP address")
}
