//go:build linux

package daemon

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// userfaultfd(2) constants, from linux/userfaultfd.h.
const (
	uffdAPI            = 0xAA
	uffdUserModeOnly   = 1          // UFFD_USER_MODE_ONLY (Linux 5.11): no privilege needed
	uffdFeatureWPAsync = 1 << 15    // UFFD_FEATURE_WP_ASYNC (Linux 6.7)
	uffdRegisterModeWP = 1 << 1     // UFFDIO_REGISTER_MODE_WP
	uffdioAPI          = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioUnregister   = 0x8010AA01 // _IOR(0xAA, 0x01, struct uffdio_range)
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRegisterArg struct{ start, len, mode, ioctls uint64 }

type uffdioRange struct{ start, len uint64 }

// faultAround holds the userfaultfd of stopFaultAround for the life of
// the process: closing it would end the registrations. One serves every
// call (a mapping registered with one userfaultfd cannot be registered
// with another).
var faultAround struct {
	mu  sync.Mutex
	uff *os.File
}

// stopFaultAround stops the kernel mapping the cached neighbours of a
// faulting page in the given mappings. On a read fault in a file
// mapping Linux maps every page of the file already in the page cache
// within 64 kB of it (fault-around, fault_around_bytes: one setting for
// the whole machine, which only root can change, through debugfs).
// Where a phone runs, most of its binary is in the page cache (start-up
// read it), so each fault in its code mapped up to 15 pages the phone
// never runs: 5 MB of code resident in a call, whatever the page-out
// and MADV_RANDOM did. With fault-around off each fault maps the one
// page it needs; the neighbours stay in the page cache, reclaimable,
// and out of the phone's RSS.
//
// The kernel's only switch for one mapping is a userfaultfd
// registration: a mapping registered for write-protect tracking gets no
// fault-around (mm/memory.c, uffd_disable_fault_around). It is
// registered in asynchronous mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7),
// in which the kernel resolves any write fault itself and nothing ever
// reads the userfaultfd; these mappings are read-only, so there are no
// writes to track either. UFFD_USER_MODE_ONLY needs no privilege. The
// userfaultfd stays open for the life of the process (one file
// descriptor): closing it would end the registration.
//
// It returns the bytes registered, or an error wrapping
// errNoFaultAroundStop where the kernel cannot; nothing stays
// registered then.
func stopFaultAround(maps []exeMapping) (int64, error) {
	faultAround.mu.Lock()
	defer faultAround.mu.Unlock()
	if faultAround.uff == nil {
		fd, _, errno := syscall.Syscall(unix.SYS_USERFAULTFD, syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly, 0, 0)
		if errno != 0 {
			return 0, fmt.Errorf("%w: userfaultfd: %w", errNoFaultAroundStop, errno)
		}
		f := os.NewFile(fd, "userfaultfd")
		api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync}
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioAPI, uintptr(unsafe.Pointer(&api))); errno != 0 {
			f.Close()
			return 0, fmt.Errorf("%w: UFFDIO_API: %w", errNoFaultAroundStop, errno)
		}
		faultAround.uff = f
	}
	fd := faultAround.uff.Fd()
	var n int64
	for i, m := range maps {
		r := uffdioRegisterArg{start: m.start, len: m.end - m.start, mode: uffdRegisterModeWP}
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioRegister, uintptr(unsafe.Pointer(&r))); errno != 0 {
			// All or nothing: undo this call's registrations.
			for _, m := range maps[:i] {
				r := uffdioRange{start: m.start, len: m.end - m.start}
				syscall.Syscall(syscall.SYS_IOCTL, fd, uffdioUnregister, uintptr(unsafe.Pointer(&r)))
			}
			return 0, fmt.Errorf("%w: UFFDIO_REGISTER %#x-%#x: %w", errNoFaultAroundStop, m.start, m.end, errno)
		}
		n += int64(m.end - m.start)
	}
	return n, nil
}
