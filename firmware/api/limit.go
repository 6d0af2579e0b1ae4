package api

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// limitListener caps the connections open at once (in the manner of
// golang.org/x/net/netutil.LimitListener). A connection beyond the cap is
// answered "503 Service Unavailable" and closed at once instead of waiting
// in the accept queue, so a client holding many slow connections cannot
// make the API answer nobody, and a legitimate client learns why at once.
type limitListener struct {
	net.Listener
	max int

	mu   sync.Mutex // guards open
	open int

	// released, when set (tests), receives after every slot is freed.
	released chan<- struct{}
}

// busyReply is what a connection over the cap reads before it is closed.
var busyReply = func() string {
	body := `{"error":"too many connections"}` + "\n"
	return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		ok := l.open < l.max
		if ok {
			l.open++
		}
		l.mu.Unlock()
		if ok {
			return &limitConn{Conn: c, l: l}, nil
		}
		// The reply fits any socket buffer; the deadline only guards a
		// peer that somehow is not reading at all.
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte(busyReply))
		_ = c.Close()
	}
}

func (l *limitListener) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
	if l.released != nil {
		l.released <- struct{}{}
	}
}

// limitConn frees its slot once, on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}
