package sipstream

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFramer: the framer follows message boundaries through any split of
// the stream, with keepalive CRLFs between messages.
func TestFramer(t *testing.T) {
	msg := "OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody"
	stream := "\r\n\r\n" + msg + "\r\n" + "BYE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n"
	for split := 1; split < len(stream); split++ {
		var f Framer
		f.Feed([]byte(stream[:split]))
		if split > 4 && split < len(stream) && !f.Partial() && !strings.HasSuffix(stream[:split], "body") && !strings.HasSuffix(stream[:split], "body\r") && !strings.HasSuffix(stream[:split], "body\r\n") {
			t.Fatalf("split at %d (%q): not partial", split, stream[:split])
		}
		f.Feed([]byte(stream[split:]))
		if f.Partial() {
			t.Fatalf("split at %d: still partial (state %d, body %d)", split, f.state, f.body)
		}
	}
	var f Framer
	f.Feed([]byte("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"))
	if !f.Partial() || f.body != 7 {
		t.Errorf("short body: partial=%v body=%d, want 7 due", f.Partial(), f.body)
	}
}

// FuzzFramer: any stream, in any two pieces, leaves the framer in the
// same state as fed whole, without a panic, and keeping no more than
// maxHeaderBytes of headers.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody\r\n\r\n"), 7)
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n"), 3)
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\nx"), 30)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		var whole, parts Framer
		whole.Feed(b)
		if split < 0 {
			split = -split
		}
		if len(b) > 0 {
			split %= len(b) + 1
		} else {
			split = 0
		}
		parts.Feed(b[:split])
		parts.Feed(b[split:])
		if whole.state != parts.state || whole.body != parts.body {
			t.Fatalf("whole: state %d body %d; split at %d: state %d body %d", whole.state, whole.body, split, parts.state, parts.body)
		}
		if len(whole.hdr) > maxHeaderBytes {
			t.Fatalf("kept %d header bytes", len(whole.hdr))
		}
	})
}

// pipe returns a connected TCP pair on loopback.
func pipe(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestConnMessageTimeout: a message whose Content-Length exceeds its body
// ends the read with ErrMessageTimeout instead of holding it for ever;
// an idle connection is held (no idle timeout set).
func TestConnMessageTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	cl, sv := pipe(t)
	c := &Conn{Conn: sv, MessageTimeout: 50 * time.Millisecond}
	cl.Write([]byte("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 500\r\n\r\nshort"))
	buf := make([]byte, 4096)
	var err error
	for err == nil {
		_, err = c.Read(buf)
	}
	if !errors.Is(err, ErrMessageTimeout) {
		t.Fatalf("read error %v, want ErrMessageTimeout", err)
	}
}

// TestConnIdleTimeout: with IdleTimeout, a connection that sends nothing
// is given up.
func TestConnIdleTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	_, sv := pipe(t)
	c := &Conn{Conn: sv, IdleTimeout: 50 * time.Millisecond}
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("read error %v, want ErrIdleTimeout", err)
	}
}

// TestListenerCaps: connections over the caps are closed at once, the
// ones within are served, and a closed one frees its slot.
func TestListenerCaps(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Listener: raw, MaxConns: 3, MaxPerAddr: 2}
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(laddr string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(laddr)}}
		c, err := d.Dial("tcp4", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	refusedEOF := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF || errors.Is(err, net.ErrClosed) || strings.Contains(errString(err), "reset")
	}
	a1, a2 := dial("127.0.0.1"), dial("127.0.0.1")
	<-accepted
	<-accepted
	if a3 := dial("127.0.0.1"); !refusedEOF(a3) {
		t.Error("a third connection from one address was not refused")
	}
	dial("127.0.0.2")
	s3 := <-accepted
	if b2 := dial("127.0.0.3"); !refusedEOF(b2) {
		t.Error("a connection over MaxConns was not refused")
	}
	if open, refused := l.Stats(); open != 3 || refused != 2 {
		t.Errorf("Stats = %d open, %d refused; want 3, 2", open, refused)
	}
	s3.Close()
	dial("127.0.0.3")
	<-accepted
	_, _ = a1, a2
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
