package pbx

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"

	"github.com/deskphone/phone/voip/sip/digest"
)

// This file is the test bench: a vnet "internet" with the PBX on
// 10.0.0.1 and hand-written SIP user agents, so every test sees the exact
// bytes on the wire and needs no other package of ours.

// readTimeout bounds every wait for a packet: a failure timeout, not a
// synchronisation sleep.
const readTimeout = 5 * time.Second

// fakeClock is an injectable clock for bindings and nonces.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// bench is a vnet with a PBX.
type bench struct {
	t       *testing.T
	cleanup func(func()) // t.Cleanup, or a no-op for the fuzz target's PBX
	router  *vnet.Router
	pbx     *Server
	clock   *fakeClock
	next    byte
}

var testUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

// testLogger logs to stderr when PBX_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PBX_TEST_LOG") != "" {
		sip.SIPDebug = os.Getenv("PBX_TEST_LOG") == "sip"
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// newBench starts a PBX on 10.0.0.1:5060 of a fresh vnet. mod may adjust
// the config.
func newBench(t *testing.T, mod func(*Config)) *bench {
	t.Helper()
	return buildBench(t, t.Cleanup, mod)
}

func buildBench(t *testing.T, cleanup func(func()), mod func(*Config)) *bench {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := router.AddNet(n); err != nil {
		t.Fatal(err)
	}
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bench{t: t, cleanup: cleanup, router: router, clock: newFakeClock(), next: 10}
	cfg := Config{
		Realm:         "pbx.test",
		Users:         testUsers,
		Net:           n,
		Listen:        netip.MustParseAddrPort("10.0.0.1:5060"),
		Now:           b.clock.Now,
		T1:            20 * time.Millisecond,
		EarlyDuration: 300 * time.Millisecond,
		Logger:        testLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		router.Stop()
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	b.pbx = s
	cleanup(func() {
		s.Close()
		router.Stop()
	})
	return b
}

// phone is a hand-driven SIP UA on its own vnet host.
type phone struct {
	t         *testing.T
	transport string        // Via transport, "UDP" unless set
	stream    net.Conn      // TCP or TLS connection, nil for UDP
	rd        *bufio.Reader // reads stream
	net       *vnet.Net
	conn      net.PacketConn
	addr      netip.AddrPort // local SIP address
	pbx       netip.AddrPort
	user      string
	pass      string
	realm     string
	cseq      uint32
	parser    *sip.Parser
}

// newPhone adds a host to the bench's network.
func (b *bench) newPhone(user string) *phone {
	b.t.Helper()
	ip := fmt.Sprintf("10.0.0.%d", b.next)
	b.next++
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.router.AddNet(n); err != nil {
		b.t.Fatal(err)
	}
	return b.phoneOn(n, ip, user)
}

func (b *bench) phoneOn(n *vnet.Net, ip, user string) *phone {
	b.t.Helper()
	conn, err := n.ListenPacket("udp", ip+":5060")
	if err != nil {
		b.t.Fatal(err)
	}
	b.cleanup(func() { conn.Close() })
	return &phone{t: b.t, net: n, conn: conn, addr: netip.MustParseAddrPort(ip + ":5060"),
		pbx: b.pbx.Addr(), user: user, pass: testUsers[user], realm: "pbx.test", cseq: 1, parser: sip.NewParser()}
}

// req is a request under construction.
type req struct {
	method, ruri       string
	callID, fromTag    string
	to, toTag          string
	cseq               uint32
	branch             string
	extra              []string
	body               string
	contact            string
	noContact          bool
	viaHost            string
	routes             []string
	maxForwards        int
	overrideCSeqMethod string
}

func branch() string { return "z9hG4bK" + strconv.FormatUint(rand.Uint64(), 36) }
func tag() string    { return strconv.FormatUint(rand.Uint64(), 36) }

func (p *phone) newReq(method, ruri, toUser string) *req {
	p.cseq++
	return &req{method: method, ruri: ruri, callID: tag() + "@test", fromTag: tag(),
		to: "sip:" + toUser + "@" + p.realm, cseq: p.cseq, branch: branch(), maxForwards: 70}
}

func (r *req) String(p *phone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.ruri)
	host := r.viaHost
	if host == "" {
		host = p.addr.String()
	}
	tr := p.transport
	if tr == "" {
		tr = "UDP"
	}
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", tr, host, r.branch)
	fmt.Fprintf(&b, "Max-Forwards: %d\r\n", r.maxForwards)
	for _, rt := range r.routes {
		fmt.Fprintf(&b, "Route: %s\r\n", rt)
	}
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=%s\r\n", p.user, p.realm, r.fromTag)
	if r.toTag != "" {
		fmt.Fprintf(&b, "To: <%s>;tag=%s\r\n", r.to, r.toTag)
	} else {
		fmt.Fprintf(&b, "To: <%s>\r\n", r.to)
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	m := r.method
	if r.overrideCSeqMethod != "" {
		m = r.overrideCSeqMethod
	}
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", r.cseq, m)
	if !r.noContact {
		c := r.contact
		if c == "" {
			c = fmt.Sprintf("<sip:%s@%s>", p.user, host)
			if tr != "UDP" {
				c = fmt.Sprintf("<sip:%s@%s;transport=%s>", p.user, host, strings.ToLower(tr))
			}
		}
		fmt.Fprintf(&b, "Contact: %s\r\n", c)
	}
	for _, h := range r.extra {
		b.WriteString(h + "\r\n")
	}
	if r.body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	return b.String()
}

// send writes raw bytes to the PBX.
func (p *phone) sendRaw(b []byte) {
	p.t.Helper()
	if p.stream != nil {
		if _, err := p.stream.Write(b); err != nil {
			p.t.Fatal(err)
		}
		return
	}
	if _, err := p.conn.WriteTo(b, net.UDPAddrFromAddrPort(p.pbx)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *phone) send(r *req) { p.sendRaw([]byte(r.String(p))) }

// recv reads the next SIP message.
func (p *phone) recv() sip.Message {
	p.t.Helper()
	return p.recvMsg(false)
}

// recvMsg reads the next SIP message; lenient skips unparsable ones
// (the fuzz target's garbage can come back in a 400).
func (p *phone) recvMsg(lenient bool) sip.Message {
	p.t.Helper()
	buf := make([]byte, 4096)
	var n int
	var err error
	if p.stream != nil {
		buf, err = p.readStream()
		n = len(buf)
	} else {
		p.conn.SetReadDeadline(time.Now().Add(readTimeout))
		n, _, err = p.conn.ReadFrom(buf)
	}
	if err != nil {
		p.t.Fatalf("%s: no SIP message: %v", p.user, err)
	}
	m, err := p.parser.ParseSIP(buf[:n])
	if err != nil && lenient {
		return nil
	}
	if err != nil {
		p.t.Fatalf("%s: unparsable message %q: %v", p.user, buf[:n], err)
	}
	return m
}

// response reads the next message, which must be a response with code
// (skipping 100 Trying unless code is 100).
func (p *phone) response(code int) *sip.Response {
	p.t.Helper()
	for {
		m := p.recv()
		res, ok := m.(*sip.Response)
		if !ok {
			p.t.Fatalf("%s: want response %d, got request %s", p.user, code, m.(*sip.Request).StartLine())
		}
		if res.StatusCode == 100 && code != 100 {
			continue
		}
		if res.StatusCode != code {
			p.t.Fatalf("%s: want %d, got %s", p.user, code, res.StartLine())
		}
		return res
	}
}

// request reads the next message, which must be a request of method.
func (p *phone) request(method sip.RequestMethod) *sip.Request {
	p.t.Helper()
	for {
		m := p.recv()
		r, ok := m.(*sip.Request)
		if !ok {
			if res := m.(*sip.Response); res.StatusCode == 100 {
				continue
			}
			p.t.Fatalf("%s: want request %s, got %s", p.user, method, m.(*sip.Response).StartLine())
		}
		if r.Method != method {
			p.t.Fatalf("%s: want %s, got %s", p.user, method, r.StartLine())
		}
		return r
	}
}

// authorize answers the challenges of res (401 or 407) into r.
func (p *phone) authorize(r *req, res *sip.Response, alg string) {
	p.t.Helper()
	name, hdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		name, hdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var ch *digest.Challenge
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			p.t.Fatal(err)
		}
		if alg == "" || c.Algorithm == alg {
			ch = c
			break
		}
	}
	if ch == nil {
		p.t.Fatalf("no %s challenge for %q in %s", name, alg, res)
	}
	a, err := ch.Respond(r.method, r.ruri, []byte(r.body), digest.Credentials{Username: p.user, Password: p.pass}, 1, "")
	if err != nil {
		p.t.Fatal(err)
	}
	r.extra = append(r.extra, hdr+": "+a.String())
	r.cseq++
	p.cseq = r.cseq
	r.branch = branch()
}

// register performs REGISTER with digest and returns the 200.
func (p *phone) register(expires int) *sip.Response {
	p.t.Helper()
	r := p.newReq("REGISTER", "sip:"+p.realm, p.user)
	r.extra = []string{"Expires: " + strconv.Itoa(expires)}
	p.send(r)
	res := p.response(401)
	p.authorize(r, res, "")
	p.send(r)
	return p.response(200)
}

// ack sends the ACK for a non-2xx final response to r (same branch,
// RFC 3261 §17.1.1.3).
func (p *phone) ackNon2xx(r *req, res *sip.Response) {
	a := *r
	a.method = "ACK"
	a.extra = nil
	a.body = ""
	a.noContact = true
	if tt, ok := res.To().Params.Get("tag"); ok {
		a.toTag = tt
	}
	p.send(&a)
}

// reply sends a response to a request received by this phone, addressed
// to the top Via (which the PBX filled with received/rport).
func (p *phone) reply(r *sip.Request, code int, reason, toTag string, extra []string, body string) {
	p.t.Helper()
	res := sip.NewResponseFromRequest(r, code, reason, nil)
	if toTag != "" {
		res.To().Params.Add("tag", toTag)
	}
	for _, h := range extra {
		name, val, _ := strings.Cut(h, ": ")
		res.AppendHeader(sip.NewHeader(name, val))
	}
	if body != "" {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(body))
	}
	if p.stream != nil {
		p.sendRaw([]byte(res.String()))
		return
	}
	dst, err := netip.ParseAddrPort(res.Destination())
	if err != nil {
		p.t.Fatalf("response destination %q: %v", res.Destination(), err)
	}
	if _, err := p.conn.WriteTo([]byte(res.String()), net.UDPAddrFromAddrPort(dst)); err != nil {
		p.t.Fatal(err)
	}
}

// sdpOffer is a PCMU offer with telephone-event for RTP at addr.
func sdpOffer(addr netip.AddrPort) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n",
		addr.Addr(), addr.Addr(), addr.Port())
}

// headerValues returns all values of a header.
func headerValues(m sip.Message, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return out
}

// readStream reads one SIP message from a stream: headers up to the empty
// line, then Content-Length bytes of body (RFC 3261 §18.3).
func (p *phone) readStream() ([]byte, error) {
	p.stream.SetReadDeadline(time.Now().Add(readTimeout))
	var msg []byte
	clen := 0
	for {
		line, err := p.rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if len(msg) == 0 && strings.TrimSpace(line) == "" {
			continue // keep-alive CRLF
		}
		msg = append(msg, line...)
		if line == "\r\n" {
			break
		}
		if name, val, ok := strings.Cut(line, ":"); ok &&
			(strings.EqualFold(strings.TrimSpace(name), "Content-Length") || strings.TrimSpace(name) == "l") {
			clen, _ = strconv.Atoi(strings.TrimSpace(val))
		}
	}
	body := make([]byte, clen)
	if _, err := io.ReadFull(p.rd, body); err != nil {
		return nil, err
	}
	return append(msg, body...), nil
}
