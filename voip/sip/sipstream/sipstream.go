package sipstream

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

var (
	// ErrMessageTimeout: a message that had begun was not complete in time.
	ErrMessageTimeout = errors.New("sipstream: message incomplete")
	// ErrIdleTimeout: nothing arrived between messages for too long.
	ErrIdleTimeout = errors.New("sipstream: connection idle")
)

// maxHeaderBytes bounds what the framer keeps of a message's headers;
// sipgo refuses longer messages anyway (and closes the connection).
const maxHeaderBytes = 64 << 10

// Framer follows SIP message boundaries on a stream. The zero value is
// between messages.
type Framer struct {
	state int // 0 between messages, 1 in headers, 2 in body
	hdr   []byte
	body  int
}

// Partial reports whether a message has begun and not ended.
func (f *Framer) Partial() bool { return f.state != 0 }

// Feed follows b, the next bytes of the stream.
func (f *Framer) Feed(b []byte) {
	for len(b) > 0 {
		switch f.state {
		case 0:
			i := 0
			for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
				i++
			}
			b = b[i:]
			if len(b) > 0 {
				f.state, f.hdr = 1, f.hdr[:0]
			}
		case 1:
			from := max(0, len(f.hdr)-3)
			take := b
			if room := maxHeaderBytes - len(f.hdr); len(take) > room {
				take = take[:max(room, 0)]
			}
			f.hdr = append(f.hdr, take...)
			end := headerEnd(f.hdr[from:])
			if end < 0 {
				return // more headers to come (or too many: the parser refuses them)
			}
			end += from
			b = b[end-(len(f.hdr)-len(take)):]
			f.body = contentLength(f.hdr[:end])
			f.hdr = f.hdr[:0]
			f.state = 2
			if f.body == 0 {
				f.state = 0
			}
		case 2:
			k := min(f.body, len(b))
			f.body -= k
			b = b[k:]
			if f.body == 0 {
				f.state = 0
			}
		}
	}
}

// headerEnd is the index just past the empty line ending the headers in
// b, or -1.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// contentLength is the Content-Length (or compact "l") value in a header
// block; 0 when absent or unreadable (the parser refuses those).
func contentLength(h []byte) int {
	for _, line := range bytes.Split(h, []byte("\r\n")) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if !bytes.EqualFold(name, []byte("Content-Length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
		if err != nil || n < 0 {
			return 0
		}
		return min(n, 1<<20)
	}
	return 0
}

// Conn bounds reads on one SIP stream connection. Read must be called
// from one goroutine at a time (sipgo has one reader per connection).
// A timeout is returned as an error wrapping ErrMessageTimeout or
// ErrIdleTimeout (and os.ErrDeadlineExceeded).
type Conn struct {
	net.Conn
	// MessageTimeout bounds how long a message that has begun may take
	// to arrive in full; zero means no bound.
	MessageTimeout time.Duration
	// IdleTimeout bounds the silence between messages (keepalive CRLFs
	// count as traffic); zero means no bound.
	IdleTimeout time.Duration

	fr      Framer
	started time.Time // when the message being read began
}

// Read reads with the deadline the framing calls for.
func (c *Conn) Read(p []byte) (int, error) {
	var dl time.Time
	idle := !c.fr.Partial()
	switch {
	case !idle && c.MessageTimeout > 0:
		dl = c.started.Add(c.MessageTimeout)
	case idle && c.IdleTimeout > 0:
		dl = time.Now().Add(c.IdleTimeout)
	}
	if err := c.Conn.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.fr.Feed(p[:n])
		switch {
		case !c.fr.Partial():
			c.started = time.Time{}
		case c.started.IsZero():
			c.started = time.Now()
		}
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		if idle {
			err = fmt.Errorf("%w for %v: %w", ErrIdleTimeout, c.IdleTimeout, err)
		} else {
			err = fmt.Errorf("%w after %v: %w", ErrMessageTimeout, c.MessageTimeout, err)
		}
	}
	return n, err
}

// Listener caps the connections a SIP server holds and wraps each in a
// Conn with the timeouts. A connection over a cap is closed at once and
// Accept goes on; so do temporary accept errors (after a short pause),
// since sipgo stops serving on any error from Accept.
type Listener struct {
	net.Listener
	// MaxConns caps the open connections; zero means no cap.
	MaxConns int
	// MaxPerAddr caps the open connections from one IP address; zero
	// means no cap.
	MaxPerAddr int
	// MessageTimeout and IdleTimeout are given to every Conn.
	MessageTimeout, IdleTimeout time.Duration
	// Logger receives a line per refused connection; nil discards.
	Logger *slog.Logger

	mu      sync.Mutex // guards following
	open    int
	perAddr map[netip.Addr]int
	refused int
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.Is(err, net.ErrClosed) || !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(err) {
				return nil, err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		ip := addrOf(c.RemoteAddr())
		if !l.admit(ip) {
			if l.Logger != nil {
				l.Logger.Warn("refused a stream connection over the cap", "raddr", c.RemoteAddr())
			}
			c.Close()
			continue
		}
		return &limitedConn{Conn: Conn{Conn: c, MessageTimeout: l.MessageTimeout, IdleTimeout: l.IdleTimeout}, l: l, ip: ip}, nil
	}
}

// isTemporary is true for accept errors worth retrying (too many open
// files, a connection aborted before it was accepted).
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (l *Listener) admit(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perAddr == nil {
		l.perAddr = map[netip.Addr]int{}
	}
	if (l.MaxConns > 0 && l.open >= l.MaxConns) || (l.MaxPerAddr > 0 && l.perAddr[ip] >= l.MaxPerAddr) {
		l.refused++
		return false
	}
	l.open++
	l.perAddr[ip]++
	return true
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perAddr[ip]--; l.perAddr[ip] <= 0 {
		delete(l.perAddr, ip)
	}
}

// Stats returns the open connections and how many were refused.
func (l *Listener) Stats() (open, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.refused
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
