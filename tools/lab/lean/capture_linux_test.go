package lean

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// udpEvent is one UDP datagram seen on loopback, with the kernel's
// timestamp.
type udpEvent struct {
	at       time.Time
	src, dst uint16 // ports (all addresses are 127.0.0.1)
	head     []byte // the first bytes of the payload
}

// capture records UDP datagrams on lo through an AF_PACKET socket (root
// only) until closed. Loopback shows every datagram twice (out and in);
// the first of each is what the questions below need.
type capture struct {
	fd   int
	done chan struct{}

	mu     sync.Mutex // guards events
	events []udpEvent
}

const ethPAll = 0x0003

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture() (*capture, error) {
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(ethPAll)))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket (needs root): %w", err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: lo.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind lo: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	// A call is about 100 datagrams a second, seen twice: room for a
	// busy host's scheduling gaps, so the packet count stays whole.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20)
	// Wake up at least every 200 ms so Close can end the reader.
	tv := syscall.Timeval{Usec: 200000}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	c := &capture{fd: fd, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *capture) read() {
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		n, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		at := time.Now()
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
					ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
					at = time.Unix(ts.Unix())
				}
			}
		}
		b := buf[:n]
		// IPv4 only: everything in the tier is on 127.0.0.1.
		if len(b) < 28 || b[0]>>4 != 4 || b[9] != syscall.IPPROTO_UDP {
			continue
		}
		ihl := int(b[0]&0x0F) * 4
		if len(b) < ihl+8 {
			continue
		}
		u := b[ihl:]
		ev := udpEvent{at: at, src: binary.BigEndian.Uint16(u[0:2]), dst: binary.BigEndian.Uint16(u[2:4])}
		ev.head = append([]byte(nil), u[8:min(len(u), 8+400)]...)
		c.mu.Lock()
		c.events = append(c.events, ev)
		c.mu.Unlock()
	}
}

// close stops the reader and releases the socket.
func (c *capture) close() {
	close(c.done)
	syscall.Close(c.fd)
}

// reset forgets what was seen.
func (c *capture) reset() {
	c.mu.Lock()
	c.events = nil
	c.mu.Unlock()
}

func (c *capture) snapshot() []udpEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]udpEvent(nil), c.events...)
}
