package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// safety bounds how long a test waits for the server to act; the limits
// under test are a few milliseconds, so reaching it means the server held
// the connection (it is a hang guard, not a timed assert).
const safety = 20 * time.Second

func startSlow(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.Actions == nil {
		cfg.Actions = &rec{}
	}
	cfg.Status = func() any { return "up" }
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reads until the server closes c and returns what it
// sent; it fails the test when the server still holds c after safety.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(safety))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still holds the connection after %v (read %q)", safety, b)
	}
	return string(b)
}

// TestSlowBodyClosed: a client that sends its headers and then trickles
// (here: withholds) its body is cut off after BodyTimeout, and the action
// does not run.
func TestSlowBodyClosed(t *testing.T) {
	r := &rec{}
	s := startSlow(t, Config{Actions: r, BodyTimeout: 50 * time.Millisecond})
	c := dial(t, s)
	fmt.Fprintf(c, "POST /api/call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"to\":")
	closedByServer(t, c)
	if len(r.calls) != 0 {
		t.Fatalf("a cut-off request reached the phone: %v", r.calls)
	}
}

// TestSlowHeadersClosed: headers that never end are cut off after
// ReadHeaderTimeout.
func TestSlowHeadersClosed(t *testing.T) {
	s := startSlow(t, Config{ReadHeaderTimeout: 50 * time.Millisecond})
	c := dial(t, s)
	fmt.Fprintf(c, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
	closedByServer(t, c)
}

// TestIdleConnectionClosed: a kept-alive connection that sends no next
// request is closed after IdleTimeout.
func TestIdleConnectionClosed(t *testing.T) {
	s := startSlow(t, Config{IdleTimeout: 50 * time.Millisecond})
	c := dial(t, s)
	fmt.Fprintf(c, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if got := closedByServer(t, c); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("answer %q", got)
	}
}

// TestWrongTokenSlowBodyNotHeld: with a token set, a request without it
// is refused on its headers; the server neither reads nor waits for its
// body, so unauthenticated clients cannot hold connections with slow
// bodies.
func TestWrongTokenSlowBodyNotHeld(t *testing.T) {
	r := &rec{}
	// The body timeout is long: the refusal must not depend on it.
	s := startSlow(t, Config{Actions: r, Token: "s3cret", BodyTimeout: time.Hour})
	c := dial(t, s)
	fmt.Fprintf(c, "POST /api/call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer guess\r\nContent-Length: 100\r\n\r\n{")
	if got := closedByServer(t, c); !strings.HasPrefix(got, "HTTP/1.1 401") {
		t.Fatalf("answer %q", got)
	}
	if len(r.calls) != 0 {
		t.Fatalf("calls %v", r.calls)
	}
}

// TestConnectionCap: with MaxConns connections open, one more is answered
// 503 and closed at once; once one is closed, a new one is served.
func TestConnectionCap(t *testing.T) {
	released := make(chan struct{}, 8)
	cfg := Config{MaxConns: 3, ReadHeaderTimeout: time.Hour}
	cfg.setDefaults()
	cfg.Listen, cfg.Actions, cfg.Status = "127.0.0.1:0", &rec{}, func() any { return "up" }
	// Start by hand to reach the listener's release hook.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(cfg)
	s.ln = &limitListener{Listener: ln, max: cfg.MaxConns, released: released}
	s.srv = s.httpServer()
	go func() { s.done <- s.srv.Serve(s.ln) }()
	defer s.Close()

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range cfg.MaxConns {
		c := dial(t, s)
		// Each holds its slot with unfinished headers. The server
		// accepts connections in the order they were made, so all of
		// them are counted before the next one below.
		fmt.Fprintf(c, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		held = append(held, c)
	}
	over := dial(t, s)
	if got := closedByServer(t, over); !strings.HasPrefix(got, "HTTP/1.1 503") {
		t.Fatalf("connection over the cap: %q", got)
	}
	// Finish one held request: it was served all along.
	fmt.Fprintf(held[0], "Connection: close\r\n\r\n")
	if got := closedByServer(t, held[0]); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("held connection: %q", got)
	}
	select {
	case <-released:
	case <-time.After(safety):
		t.Fatal("slot not released")
	}
	c := dial(t, s)
	fmt.Fprintf(c, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after a slot was freed: %d", resp.StatusCode)
	}
}

// TestSizeLimits: headers beyond MaxHeaderBytes get 431, a body beyond
// MaxBodyBytes 413, and neither runs the action.
func TestSizeLimits(t *testing.T) {
	r := &rec{}
	s := startSlow(t, Config{Actions: r, MaxHeaderBytes: 1 << 10, MaxBodyBytes: 64})
	base := "http://" + s.Addr().String()
	rq, _ := http.NewRequest("GET", base+"/api/status", nil)
	rq.Header.Set("X-Big", strings.Repeat("a", 8<<10))
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("big headers: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+"/api/call", "application/json", strings.NewReader(`{"to":"`+strings.Repeat("1", 100)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d", resp.StatusCode)
	}
	if len(r.calls) != 0 {
		t.Fatalf("calls %v", r.calls)
	}
}
