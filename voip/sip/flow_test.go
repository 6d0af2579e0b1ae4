package sip

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/stdnet"
)

// tcpRegistrar is a scripted registrar on loopback TCP: it answers
// REGISTER with 200 (the contact for an hour) and OPTIONS with 200, and
// keeps every connection so a test can misbehave on it.
type tcpRegistrar struct {
	t  *testing.T
	ln net.Listener
	mu sync.Mutex
	// conns are the accepted connections, in order.
	conns []net.Conn
	regs  []string // "conn-index:expires" per REGISTER
	// resps receives the responses the phone sends (dropped when full).
	resps chan *siplib.Response
	wg    sync.WaitGroup
}

func newTCPRegistrar(t *testing.T) *tcpRegistrar {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRegistrar{t: t, ln: ln, resps: make(chan *siplib.Response, 64)}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *tcpRegistrar) addr() string { return r.ln.Addr().String() }

func (r *tcpRegistrar) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		idx := len(r.conns) - 1
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c, idx)
	}
}

func (r *tcpRegistrar) serve(c net.Conn, idx int) {
	defer r.wg.Done()
	defer c.Close()
	par := siplib.NewParser().NewSIPStream()
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		data := buf[:n]
		if len(bytes.Trim(data, "\r\n")) == 0 {
			continue
		}
		err = par.ParseSIPStream(data, func(m siplib.Message) {
			req, ok := m.(*siplib.Request)
			if !ok {
				if res, ok := m.(*siplib.Response); ok {
					select {
					case r.resps <- res:
					default:
					}
				}
				return
			}
			res := siplib.NewResponseFromRequest(req, 200, "OK", nil)
			if req.Method == siplib.REGISTER {
				exp := "3600"
				if e := req.GetHeader("Expires"); e != nil {
					exp = e.Value()
				}
				if ct := req.Contact(); ct != nil && exp != "0" {
					cc := ct.Clone()
					cc.Params = siplib.NewParams()
					cc.Params.Add("expires", exp)
					res.AppendHeader(cc)
				}
				r.mu.Lock()
				r.regs = append(r.regs, fmt.Sprintf("%d:%s", idx, exp))
				r.mu.Unlock()
			}
			res.SetBody(nil)
			c.Write([]byte(res.String()))
		})
		if err != nil && err != siplib.ErrParseSipPartial {
			return
		}
	}
}

// conn returns the i-th accepted connection.
func (r *tcpRegistrar) conn(i int) net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[i]
}

// latest returns the connection accepted last.
func (r *tcpRegistrar) latest() net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[len(r.conns)-1]
}

func (r *tcpRegistrar) registers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.regs...)
}

// tcpPhone is a phone on loopback registering over TCP to r.
func tcpPhone(t *testing.T, r *tcpRegistrar, base uint16) *phone {
	t.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts:   portmgr.Range{Min: base, Max: base + 9},
		MediaPorts: portmgr.Range{Min: base + 1000, Max: base + 1099}},
		func(c *Config) {
			c.Account = Account{User: "alice", Domain: "pbx.test", Transport: "tcp", Registrar: r.addr()}
			c.StreamReadTimeout = 300 * time.Millisecond
			c.RetryMin = 100 * time.Millisecond
		})
	// A bound on the waits below, far under the hour the old code took
	// (the next refresh).
	p.wait = 20 * time.Second
	return p
}

// TestFlowFailure: over TCP, the phone notices at once when its flow to
// the registrar breaks, whatever broke it, shows failed (never
// registered) while it is down, and registers again on a new connection
// (RFC 5626 §4.4.1) within seconds rather than at the next refresh an
// hour later.
func TestFlowFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	cases := []struct {
		name string
		brk  func(c net.Conn)
	}{
		{"registrar closes", func(c net.Conn) { c.Close() }},
		// sipgo closes a connection carrying a message over its 64 KiB limit.
		{"message over the size limit", func(c net.Conn) {
			c.Write([]byte("OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\nX-Big: " + strings.Repeat("a", 70000) + "\r\n"))
		}},
		// A Content-Length larger than the body: the rest of the stream
		// would be swallowed as body for ever.
		{"content-length beyond the body", func(c net.Conn) {
			c.Write([]byte("OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKcl\r\n" +
				"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: cl\r\nCSeq: 1 OPTIONS\r\n" +
				"Content-Length: 5000\r\n\r\nshort"))
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTCPRegistrar(t)
			p := tcpPhone(t, r, 45460+uint16(i)*10)
			p.waitReg(t, RegRegistered)
			if f := p.ua.flow; f == nil || f.live() == nil {
				t.Fatal("the UA's flow is not its own connection")
			}
			tc.brk(r.conn(0))
			st := p.waitReg(t, RegFailed)
			if !strings.Contains(st.Reason, "flow failed") {
				t.Errorf("failed registration reason %q, want the flow named", st.Reason)
			}
			if ts := p.ua.Transport(); ts.State == TransportUp && ts.Restarts == 0 {
				t.Errorf("transport status %+v after the flow broke", ts)
			}
			p.waitReg(t, RegRegistered)
			regs := r.registers()
			if last := regs[len(regs)-1]; !strings.HasPrefix(last, "1:") {
				t.Errorf("REGISTERs %v: the last is not on a new connection", regs)
			}
			if ts := p.ua.Transport(); ts.State != TransportUp || ts.Restarts != 1 {
				t.Errorf("transport status %+v, want up after 1 restart", ts)
			}
		})
	}
}

// TestFlowKeepalive: CRLF keepalives keep the flow open past a PBX that
// closes connections silent for longer than its idle timeout.
func TestFlowKeepalive(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	oldKA, oldPong := flowKeepalive, flowPongWait
	// A pong may take a while on a loaded machine (a 20 ms wait failed
	// about once in sixty runs under load): the wait is generous, the
	// ping period (about 400 ms) still well inside the idle timeout.
	flowKeepalive, flowPongWait = 100*time.Millisecond, 400*time.Millisecond
	// Registered first, so it runs last: after the UA's keepalives stopped.
	t.Cleanup(func() { flowKeepalive, flowPongWait = oldKA, oldPong })
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"), TCP: netip.MustParseAddrPort("127.0.0.1:0"),
		StreamIdleTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: portmgr.Range{Min: 45560, Max: 45569}, MediaPorts: portmgr.Range{Min: 46560, Max: 46659}},
		func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Transport: "tcp",
				Registrar: srv.TCPAddr().String()}
		})
	p.wait = 20 * time.Second
	p.waitReg(t, RegRegistered)
	// Three idle timeouts pass; the flow is the same one.
	time.Sleep(4500 * time.Millisecond)
	if ts := p.ua.Transport(); ts.State != TransportUp || ts.Restarts != 0 {
		t.Errorf("transport %+v: the idle flow was closed despite keepalives", ts)
	}
}

// relay is a TCP relay on loopback standing in for a NAT: blackhole makes
// it silently swallow everything on the connections open at the time,
// in both directions, without closing them (a binding dropped without a
// FIN). Connections made afterwards pass.
type relay struct {
	ln   net.Listener
	to   string
	mu   sync.Mutex
	dead map[net.Conn]bool // connections being swallowed
	all  []net.Conn
	wg   sync.WaitGroup
}

func newRelay(t *testing.T, to string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, to: to, dead: map[net.Conn]bool{}}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp4", to)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.all = append(r.all, c, up)
			r.mu.Unlock()
			r.wg.Add(2)
			go r.pipe(c, up, c)
			go r.pipe(up, c, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.all {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *relay) pipe(from, to, key net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		dead := r.dead[key]
		r.mu.Unlock()
		if !dead {
			to.Write(buf[:n])
		}
	}
}

// blackhole swallows the connections open now.
func (r *relay) blackhole() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < len(r.all); i += 2 {
		r.dead[r.all[i]] = true
	}
}

// TestFlowPongTimeout: a flow whose far end vanishes without closing it
// (the relay swallows it) is noticed by its unanswered keepalive once the
// server has answered earlier ones: the phone shows failed and registers
// again on a new connection.
func TestFlowPongTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	oldKA, oldPong := flowKeepalive, flowPongWait
	flowKeepalive, flowPongWait = 30*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { flowKeepalive, flowPongWait = oldKA, oldPong })
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"), TCP: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rl := newRelay(t, srv.TCPAddr().String())
	p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: portmgr.Range{Min: 45760, Max: 45769}, MediaPorts: portmgr.Range{Min: 46760, Max: 46859}},
		func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Transport: "tcp",
				Registrar: rl.ln.Addr().String()}
		})
	p.wait = 20 * time.Second
	p.waitReg(t, RegRegistered)
	// Let a few pings be answered, so the phone knows the server pongs.
	time.Sleep(time.Second) // keepalives on a real-time loopback flow
	rl.blackhole()
	st := p.waitReg(t, RegFailed)
	if !strings.Contains(st.Reason, "keepalive") {
		t.Errorf("failed with %q, want the unanswered keepalive named", st.Reason)
	}
	p.waitReg(t, RegRegistered)
	if ts := p.ua.Transport(); ts.State != TransportUp || ts.Restarts != 1 {
		t.Errorf("transport %+v, want up after 1 restart", ts)
	}
}
