package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/voip/media"
	"github.com/deskphone/phone/voip/sip/digest"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/vnet"
)

// world is a vnet LAN: every host gets its own Net on one router (the
// WAN of a portmgrtest.World, with its STUN server unused), so a packet
// reaches a host only through the sockets made on its Net. A socket
// opened on the real host network would never see vnet traffic.
type world struct {
	t      *testing.T
	w      *portmgrtest.World
	mu     sync.Mutex
	seen   map[string]bool // "src->dst" UDP flows the router forwarded
	starts []string        // start lines of the SIP messages forwarded
}

func newWorld(t *testing.T) *world { t.Helper(); return newWorldDelay(t, 0) }

// newWorldDelay is newWorld with every packet delayed by d (fake time in
// a synctest bubble): messages sent without the sender blocking are all
// in flight together, as in a real network.
func newWorldDelay(t *testing.T, d time.Duration) *world {
	t.Helper()
	w := &world{t: t, w: portmgrtest.NewWorldDelay(t, false, d), seen: map[string]bool{}}
	w.w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
		w.mu.Lock()
		w.seen[c.SourceAddr().String()+"->"+c.DestinationAddr().String()] = true
		if d := c.UserData(); bytes.HasPrefix(d, []byte("SIP/2.0 ")) || bytes.Contains(d[:min(len(d), 64)], []byte(" SIP/2.0\r\n")) {
			line, _, _ := bytes.Cut(d, []byte("\r\n"))
			w.starts = append(w.starts, string(line))
		}
		w.mu.Unlock()
		return true
	})
	return w
}

func (w *world) host(ip string) *vnet.Net {
	w.t.Helper()
	return w.w.PublicNet(ip)
}

func (w *world) start() {
	w.t.Helper()
	w.w.Start()
}

// sipStarts returns the start lines of the SIP messages the router
// carried, in order.
func (w *world) sipStarts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.starts...)
}

// flows returns the UDP flows the router carried.
func (w *world) flows() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for k := range w.seen {
		out[k] = true
	}
	return out
}

// phone is a UA on a vnet host with its own port manager.
type phone struct {
	ua   *UA
	pm   *portmgr.Manager
	pump *mappertest.Pump[Event]
	evs  <-chan Event // the pump's buffer
	// wait bounds next; zero means 10 minutes (fake time in a bubble).
	wait time.Duration
}

func newPhone(t *testing.T, n *vnet.Net, mutate func(*Config)) *phone {
	t.Helper()
	return newPhoneWith(t, portmgr.Config{Net: n}, mutate)
}

// newPhoneWith is newPhone with a given port manager configuration (for
// loopback tests on the host network).
func newPhoneWith(t *testing.T, pmc portmgr.Config, mutate func(*Config)) *phone {
	t.Helper()
	pm := mappertest.NewManager(t, pmc)
	cfg := Config{Mapper: pm, EarlyMedia: true, Prack: true}
	if mutate != nil {
		mutate(&cfg)
	}
	ua, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{ua: ua, pm: pm}
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.pump = mappertest.NewPump(ua.Events(), 1024, nil)
	p.evs = p.pump.C()
	t.Cleanup(func() {
		ua.Close()
		<-p.pump.Done()
		pm.Close()
	})
	return p
}

// next waits (in fake time) for an event matching f.
func (p *phone) next(t *testing.T, what string, f func(Event) bool) Event {
	t.Helper()
	d := p.wait
	if d == 0 {
		d = 10 * time.Minute
	}
	ev, ok := p.pump.Next(d, f)
	if !ok {
		t.Fatalf("timed out waiting for %s", what)
	}
	return ev
}

func (p *phone) waitReg(t *testing.T, st RegState) RegStatus {
	t.Helper()
	ev := p.next(t, "registration "+string(st), func(e Event) bool {
		r, ok := e.(*RegistrationEvent)
		return ok && r.Status.State == st
	})
	return ev.(*RegistrationEvent).Status
}

func (p *phone) waitCall(t *testing.T, c *Call, st CallState) *CallEvent {
	t.Helper()
	ev := p.next(t, fmt.Sprintf("call state %s", st), func(e Event) bool {
		ce, ok := e.(*CallEvent)
		return ok && (c == nil || ce.Call == c) && ce.State == st
	})
	return ev.(*CallEvent)
}

func (p *phone) waitIncoming(t *testing.T) *Call {
	t.Helper()
	ev := p.next(t, "incoming call", func(e Event) bool { _, ok := e.(*IncomingCallEvent); return ok })
	return ev.(*IncomingCallEvent).Call
}

// ---- a scriptable SIP peer (registrar / far end) on raw UDP -----------------

// peer reads SIP from a vnet socket and answers through handle, which
// returns the responses to send. It keeps every request it saw.
type peer struct {
	t      *testing.T
	conn   net.PacketConn
	mu     sync.Mutex
	reqs   []*siplib.Request
	handle func(p *peer, req *siplib.Request, from net.Addr) []*siplib.Response
	done   chan struct{}
}

func newPeer(t *testing.T, n *vnet.Net, addr string, h func(p *peer, req *siplib.Request, from net.Addr) []*siplib.Response) *peer {
	t.Helper()
	c, err := n.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, conn: c, handle: h, done: make(chan struct{})}
	go p.run()
	t.Cleanup(func() { c.Close(); <-p.done })
	return p
}

func (p *peer) addr() netip.AddrPort { return netip.MustParseAddrPort(p.conn.LocalAddr().String()) }

func (p *peer) run() {
	defer close(p.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		msg, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		req, ok := msg.(*siplib.Request)
		if !ok {
			continue
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, req)
		p.mu.Unlock()
		if req.IsAck() {
			continue
		}
		for _, res := range p.handle(p, req, from) {
			p.conn.WriteTo([]byte(res.String()), from)
		}
	}
}

func (p *peer) requests(method siplib.RequestMethod) []*siplib.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*siplib.Request
	for _, r := range p.reqs {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// registrarScript is a digest registrar for the peer; override returns a
// response to send instead of the normal flow (nil: normal).
type registrarScript struct {
	realm, user, password, algorithm string
	granted                          func(asked int) int // expiry to grant
	override                         func(n int, req *siplib.Request) *siplib.Response
	staleOnce                        bool
	mu                               sync.Mutex
	count                            int
	nonces                           map[string]uint32 // nonce -> last nc seen
	ncs                              []uint32
}

func (rs *registrarScript) handle(p *peer, req *siplib.Request, from net.Addr) []*siplib.Response {
	if req.Method == siplib.OPTIONS {
		return []*siplib.Response{siplib.NewResponseFromRequest(req, 200, "OK", nil)}
	}
	if req.Method != siplib.REGISTER {
		return []*siplib.Response{siplib.NewResponseFromRequest(req, 501, "Not Implemented", nil)}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.count++
	if rs.nonces == nil {
		rs.nonces = map[string]uint32{}
	}
	if rs.override != nil {
		if res := rs.override(rs.count, req); res != nil {
			return []*siplib.Response{res}
		}
	}
	challenge := func(stale bool) []*siplib.Response {
		ch := digest.NewChallenge(rs.realm, rs.algorithm, stale)
		rs.nonces[ch.Nonce] = 0
		res := siplib.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(siplib.NewHeader("WWW-Authenticate", ch.String()))
		return []*siplib.Response{res}
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		return challenge(false)
	}
	a, err := digest.ParseAuthorization(h.Value())
	if err != nil {
		return challenge(false)
	}
	last, known := rs.nonces[a.Nonce]
	if !known || a.NC <= last {
		return challenge(false)
	}
	rs.nonces[a.Nonce] = a.NC
	rs.ncs = append(rs.ncs, a.NC)
	if !a.Verify(string(req.Method), req.Body(), rs.password) || a.Username != rs.user {
		return challenge(false)
	}
	if rs.staleOnce {
		rs.staleOnce = false
		delete(rs.nonces, a.Nonce)
		return challenge(true)
	}
	asked := 3600
	if e := req.GetHeader("Expires"); e != nil {
		fmt.Sscan(e.Value(), &asked)
	}
	grant := asked
	if rs.granted != nil && asked > 0 {
		grant = rs.granted(asked)
	}
	res := siplib.NewResponseFromRequest(req, 200, "OK", nil)
	if c := req.Contact(); c != nil {
		cc := c.Clone()
		cc.Params = siplib.NewParams()
		cc.Params.Add("expires", fmt.Sprint(grant))
		res.AppendHeader(cc)
	}
	res.AppendHeader(siplib.NewHeader("Expires", "7200")) // must lose to the contact param
	return []*siplib.Response{res}
}

func (rs *registrarScript) registers() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.count
}

// ---- audio --------------------------------------------------------------------

// talk runs a call's audio for d of fake time: it sends a tone of
// sendHz and returns what it received. A frame written before a
// DTLS-SRTP handshake has finished is not sent (media.ErrNotKeyed) and
// talk goes on: the callers look for the tone in what arrives later
// (tail). make test once saw the first frame of TestSRTPSuiteLists's
// "dtls 32 only" come before the handshake ended, 1 run in many
// hundred; the call itself was fine.
func talk(t *testing.T, c *Call, sendHz float64, d time.Duration) []int16 {
	t.Helper()
	m := c.Media()
	if m == nil {
		t.Errorf("%s: no media session", c)
		return nil
	}
	gen := tone.Sine(sendHz, 8000, -13)
	frame := make([]int16, 160)
	var got []int16
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range int(d / (20 * time.Millisecond)) {
		<-tick.C
		gen.NextFrame(frame)
		if err := m.WriteFrame(frame); err != nil && !errors.Is(err, media.ErrNotKeyed) {
			t.Errorf("WriteFrame: %v", err)
			return got
		}
		in := make([]int16, 160)
		m.NextFrame(in)
		got = append(got, in...)
	}
	return got
}

// talkBoth runs both calls' audio at once and returns what each received.
func talkBoth(t *testing.T, a, b *Call, aHz, bHz float64, d time.Duration) (gotA, gotB []int16) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gotA = talk(t, a, aHz, d) }()
	go func() { defer wg.Done(); gotB = talk(t, b, bHz, d) }()
	wg.Wait()
	return gotA, gotB
}

// tail drops the first part of a capture (jitter buffer fill).
func tail(s []int16, frac float64) []int16 {
	if len(s) == 0 {
		return make([]int16, 160)
	}
	return s[int(float64(len(s))*frac):]
}

func hasHeaderValue(m interface{ GetHeaders(string) []siplib.Header }, name, sub string) bool {
	for _, h := range m.GetHeaders(name) {
		if strings.Contains(strings.ToLower(h.Value()), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
