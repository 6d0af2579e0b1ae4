package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/vnet"
)

// rawInvite is an INVITE for ruriUser at the phone (10.0.0.2) from
// src, offering PCMU.
func rawInvite(src, ruriUser, callID string) []byte {
	body := "v=0\r\no=- 1 1 IN IP4 " + src + "\r\ns=-\r\nc=IN IP4 " + src + "\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	return []byte(fmt.Sprintf("INVITE sip:%[2]s@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP %[1]s:5070;branch=z9hG4bK%[3]s\r\n"+
		"Max-Forwards: 70\r\nFrom: \"The Bank\" <sip:bank@%[1]s>;tag=f%[3]s\r\nTo: <sip:%[2]s@10.0.0.2>\r\nCall-ID: %[3]s\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:x@%[1]s:5070>\r\nContent-Type: application/sdp\r\nContent-Length: %[4]d\r\n\r\n%[5]s",
		src, ruriUser, callID, len(body), body))
}

// admitWorld is a registrar at 10.0.0.1, the phone (alice) at 10.0.0.2
// registered with it, and a stranger host at 10.0.0.9.
func admitWorld(t *testing.T, mut func(*Config)) (reg, stranger *vnet.Net, p *phone) {
	w := newWorld(t)
	sn := w.host("10.0.0.1")
	pn := w.host("10.0.0.2")
	xn := w.host("10.0.0.9")
	w.start()
	rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
	newPeer(t, sn, "10.0.0.1:5060", rs.handle)
	p = newPhone(t, pn, func(c *Config) {
		c.Account = Account{User: "alice", Password: "secret", Registrar: "10.0.0.1", Expires: time.Hour}
		if mut != nil {
			mut(c)
		}
	})
	p.waitReg(t, RegRegistered)
	return sn, xn, p
}

func listen(t *testing.T, n *vnet.Net, addr string) net.PacketConn {
	t.Helper()
	c, err := n.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var phoneAddr = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}

func incomingCount(p *phone) int {
	n := 0
	for len(p.evs) > 0 {
		if _, ok := (<-p.evs).(*IncomingCallEvent); ok {
			n++
		}
	}
	return n
}

// TestStrangerInviteForbidden: an INVITE sent straight to a registered
// phone by a host that is not its registrar gets 403 and does not ring,
// whatever caller ID it claims; the same INVITE from the registrar's
// address rings, and one naming a user that is not ours gets 404.
func TestStrangerInviteForbidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rn, xn, p := admitWorld(t, nil)
		stranger := listen(t, xn, "10.0.0.9:5070")
		stranger.WriteTo(rawInvite("10.0.0.9", "alice", "stranger-1"), phoneAddr)
		if codes := readCodes(t, stranger, 5*time.Second); !slices.Contains(codes, 403) || slices.Contains(codes, 180) {
			t.Fatalf("stranger's INVITE got %v, want 403 and no ringing", codes)
		}
		if n := incomingCount(p); n != 0 {
			t.Fatalf("the stranger's INVITE rang the phone (%d incoming calls)", n)
		}

		proxy := listen(t, rn, "10.0.0.1:5070")
		proxy.WriteTo(rawInvite("10.0.0.1", "bob", "wrong-user"), phoneAddr)
		if codes := readCodes(t, proxy, 5*time.Second); !slices.Contains(codes, 404) {
			t.Fatalf("INVITE for another user got %v, want 404", codes)
		}
		proxy.WriteTo(rawInvite("10.0.0.1", "alice", "from-proxy"), phoneAddr)
		if codes := readCodes(t, proxy, 5*time.Second); !slices.Contains(codes, 180) {
			t.Fatalf("INVITE from the registrar got %v, want 180", codes)
		}
		if n := incomingCount(p); n != 1 {
			t.Fatalf("%d incoming calls, want 1 (from the registrar)", n)
		}
	})
}

// TestAllowAndAcceptAny: a peer in Config.Allow, or any peer under
// AcceptAny, may ring the phone directly.
func TestAllowAndAcceptAny(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"allow": func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.8/30")} },
		"any":   func(c *Config) { c.AcceptFrom = AcceptAny },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, xn, p := admitWorld(t, mut)
				c := listen(t, xn, "10.0.0.9:5070")
				c.WriteTo(rawInvite("10.0.0.9", "alice", "allowed-1"), phoneAddr)
				if codes := readCodes(t, c, 5*time.Second); !slices.Contains(codes, 180) {
					t.Fatalf("allowed peer's INVITE got %v, want 180", codes)
				}
				if n := incomingCount(p); n != 1 {
					t.Fatalf("%d incoming calls, want 1", n)
				}
			})
		})
	}
}

// TestRingTimeout: an incoming call nobody answers ends after the ring
// timeout (60 s by default) with 480 at both ends, and a new call rings.
func TestRingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		start := time.Now()
		c1 := dial(t, a)
		b.waitIncoming(t)
		ev := a.waitCall(t, c1, StateEnded)
		if ev.Code != 480 {
			t.Fatalf("unanswered call ended with %d %q, want 480", ev.Code, ev.Reason)
		}
		if d := time.Since(start); d < 60*time.Second || d > 65*time.Second {
			t.Errorf("rang for %s, want the default ring timeout of 60s", d)
		}
		dial(t, a)
		b.waitIncoming(t)
	})
}

// TestBusyWhileRingingEnds: with one call allowed, a second call gets
// 486 while the first rings, and once the ring timeout (set short here)
// ended the first, the next call rings.
func TestBusyWhileRingingEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, func(c *Config) { c.MaxCalls = 1; c.RingTimeout = 20 * time.Second })
		c1 := dial(t, a)
		cb := b.waitIncoming(t)
		c2 := dial(t, a)
		if ev := a.waitCall(t, c2, StateEnded); ev.Code != 486 {
			t.Errorf("second call while the first rang: %d %q, want 486", ev.Code, ev.Reason)
		}
		if ev := a.waitCall(t, c1, StateEnded); ev.Code != 480 {
			t.Fatalf("unanswered call ended with %d %q, want 480", ev.Code, ev.Reason)
		}
		// B sends the 480 before it lets the call go; a redial in that
		// instant would still be busy.
		b.waitCall(t, cb, StateEnded)
		dial(t, a)
		b.waitIncoming(t)
	})
}

// TestAdmissionStats: refusals are counted.
func TestAdmissionStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rn, xn, p := admitWorld(t, nil)
		listen(t, xn, "10.0.0.9:5070").WriteTo(rawInvite("10.0.0.9", "alice", "s-1"), phoneAddr)
		listen(t, rn, "10.0.0.1:5070").WriteTo(rawInvite("10.0.0.1", "bob", "s-2"), phoneAddr)
		time.Sleep(time.Second)
		if st := p.ua.AdmissionStats(); st.Forbidden != 1 || st.NotFound != 1 {
			t.Errorf("stats %+v, want 1 forbidden and 1 not found", st)
		}
	})
}

// countMapper counts media mappings.
type countMapper struct {
	portmgr.Mapper
	media atomic.Int32
}

func (m *countMapper) Map(ctx context.Context, k portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	if k == portmgr.KindMedia {
		m.media.Add(1)
	}
	return m.Mapper.Map(ctx, k, tr, remote)
}

// TestBusyBeforeMedia: INVITEs beyond MaxCalls get 486 before any media
// port is mapped for them.
func TestBusyBeforeMedia(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cm *countMapper
		_, xn, p := admitWorld(t, func(c *Config) {
			c.AcceptFrom = AcceptAny
			c.MaxCalls = 1
			cm = &countMapper{Mapper: c.Mapper}
			c.Mapper = cm
		})
		c := listen(t, xn, "10.0.0.9:5070")
		for i := range 6 {
			c.WriteTo(rawInvite("10.0.0.9", "alice", fmt.Sprintf("burst-%d", i)), phoneAddr)
			time.Sleep(10 * time.Millisecond) // fake time: keeps the order
		}
		codes := readCodes(t, c, 5*time.Second)
		if !slices.Contains(codes, 180) || !slices.Contains(codes, 486) {
			t.Fatalf("codes %v, want one 180 and 486 for the rest", codes)
		}
		if n := cm.media.Load(); n != 1 {
			t.Errorf("%d media mappings for 6 INVITEs, want 1", n)
		}
		if n := incomingCount(p); n != 1 {
			t.Errorf("%d incoming calls, want 1", n)
		}
	})
}

// TestRateLimitDropsFlood: a burst of OPTIONS from one stranger is
// answered only up to the source's burst; the rest are dropped unread,
// while the registrar's own requests are never limited.
func TestRateLimitDropsFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rn, xn, p := admitWorld(t, nil)
		send := func(c net.PacketConn, src string, n int) int {
			for i := range n {
				opt := fmt.Sprintf("OPTIONS sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP %s:5070;branch=z9hG4bKo%d\r\n"+
					"Max-Forwards: 70\r\nFrom: <sip:x@%s>;tag=1\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: opt-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", src, i, src, i)
				c.WriteTo([]byte(opt), phoneAddr)
				time.Sleep(time.Millisecond) // fake time: a steady 1000/s, which vnet's queue carries
			}
			got := 0
			buf := make([]byte, 4096)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, _, err := c.ReadFrom(buf); err != nil {
					return got
				}
				got++
			}
		}
		const rate = 50 // the default
		n := 3 * 2 * rate
		// In n ms the bucket refills by n/1000*rate tokens on top of its burst.
		most := 2*rate + n*rate/1000 + 1
		if got := send(listen(t, xn, "10.0.0.9:5070"), "10.0.0.9", n); got > most || got == 0 {
			t.Errorf("stranger's %d OPTIONS got %d answers, want at most %d (burst and refill)", n, got, most)
		}
		if got := send(listen(t, rn, "10.0.0.1:5070"), "10.0.0.1", n); got != n {
			t.Errorf("registrar's %d OPTIONS got %d answers, want all", n, got)
		}
		if st := p.ua.AdmissionStats(); st.RateLimited == 0 {
			t.Errorf("stats %+v: nothing counted as rate limited", st)
		}
	})
}

// TestStatelessAnswers: requests that open no call (OPTIONS, REGISTER,
// a stray BYE, a refused INVITE) leave no server transaction behind once
// answered, so a flood holds no state for Timer J's 32 s.
func TestStatelessAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, xn, p := admitWorld(t, func(c *Config) { c.RateLimit = -1 })
		c := listen(t, xn, "10.0.0.9:5070")
		for i := range 20 {
			for _, m := range []string{"OPTIONS", "REGISTER", "BYE"} {
				to := "<sip:alice@10.0.0.2>"
				if m == "BYE" {
					to += ";tag=nope"
				}
				req := fmt.Sprintf("%s sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK%s%d\r\n"+
					"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=1\r\nTo: %s\r\nCall-ID: s-%s-%d\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n", m, m, i, to, m, i, m)
				c.WriteTo([]byte(req), phoneAddr)
			}
			c.WriteTo(rawInvite("10.0.0.9", "alice", fmt.Sprintf("refused-%d", i)), phoneAddr)
		}
		codes := readCodes(t, c, 2*time.Second)
		for _, want := range []int{200, 405, 481, 403} {
			if !slices.Contains(codes, want) {
				t.Errorf("codes %v lack %d", codes, want)
			}
		}
		synctest.Wait()
		if n := p.ua.adm.txs.Load(); n != 0 {
			t.Errorf("%d server transactions held after the answers, want 0", n)
		}
	})
}

// TestHostileAdmissionCorpus replays testdata/hostile over UDP to a phone
// registered as alice: each message gets the final response its name
// gives, from whichever address it came, and none rings the phone.
func TestHostileAdmissionCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "admission", "*.sip"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile corpus: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sip")
		parts := strings.SplitN(name, "_", 3)
		if len(parts) != 3 {
			t.Fatalf("%s: name is not <source>_<code>_<what>.sip", f)
		}
		want, err := strconv.Atoi(parts[1])
		if err != nil {
			t.Fatalf("%s: code %q", f, parts[1])
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				rn := w.host("10.0.0.1")
				pn := w.host("10.0.0.2")
				xn := w.host("10.0.0.9")
				w.start()
				rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
				newPeer(t, rn, "10.0.0.1:5060", rs.handle)
				p := newPhone(t, pn, func(c *Config) {
					c.Account = Account{User: "alice", Password: "secret", Registrar: "10.0.0.1", Expires: time.Hour}
				})
				p.waitReg(t, RegRegistered)
				// Both ends listen on 5070: a forged Via may aim the answer at either.
				stranger := listen(t, xn, "10.0.0.9:5070")
				proxy := listen(t, rn, "10.0.0.1:5070")
				from := stranger
				if parts[0] == "proxy" {
					from = proxy
				}
				before := len(w.sipStarts())
				if _, err := from.WriteTo(data, phoneAddr); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				var finals []string
				for _, l := range w.sipStarts()[before:] {
					if f := strings.Fields(l); len(f) >= 2 && f[0] == "SIP/2.0" && f[1] >= "200" {
						finals = append(finals, f[1])
					}
				}
				if len(finals) == 0 || finals[0] != strconv.Itoa(want) {
					t.Errorf("final responses %v, want %d", finals, want)
				}
				if n := incomingCount(p); n != 0 {
					t.Errorf("%d incoming calls, want none", n)
				}
				if st := p.ua.Registration(); st.State != RegRegistered {
					t.Errorf("registration %s after the message, want registered", st.State)
				}
			})
		})
	}
}

// TestInDialogFromFarEndDirect: a call that came through the registrar
// is answered, and the far end's BYE, sent straight from its own address
// (no Record-Route: the proxy left the path), still ends it.
func TestInDialogFromFarEndDirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rn, xn, p := admitWorld(t, nil)
		proxy := listen(t, rn, "10.0.0.1:5070")
		far := listen(t, xn, "10.0.0.9:5070")
		proxy.WriteTo(rawInvite("10.0.0.1", "alice", "via-proxy"), phoneAddr)
		c := p.waitIncoming(t)
		if err := c.Answer(); err != nil {
			t.Fatal(err)
		}
		var toTag string
		buf := make([]byte, 65535)
		for toTag == "" {
			proxy.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := proxy.ReadFrom(buf)
			if err != nil {
				t.Fatal("no 200 to the INVITE")
			}
			m, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
			if res, ok := m.(*siplib.Response); err == nil && ok && res.StatusCode == 200 {
				toTag, _ = res.To().Params.Get("tag")
			}
		}
		bye := fmt.Sprintf("BYE sip:alice@10.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKbye1\r\n"+
			"Max-Forwards: 70\r\nFrom: \"The Bank\" <sip:bank@10.0.0.1>;tag=fvia-proxy\r\nTo: <sip:alice@10.0.0.2>;tag=%s\r\n"+
			"Call-ID: via-proxy\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n", toTag)
		far.WriteTo([]byte(bye), phoneAddr)
		if codes := readCodes(t, far, 5*time.Second); !slices.Contains(codes, 200) {
			t.Fatalf("far end's direct BYE got %v, want 200", codes)
		}
		p.waitCall(t, c, StateEnded)
	})
}

// TestServerTxCap: beyond MaxServerTx open transactions a request gets
// 503 with Retry-After, statelessly.
func TestServerTxCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, xn, p := admitWorld(t, func(c *Config) { c.AcceptFrom = AcceptAny; c.MaxServerTx = 1 })
		c := listen(t, xn, "10.0.0.9:5070")
		c.WriteTo(rawInvite("10.0.0.9", "alice", "holds-a-tx"), phoneAddr) // rings: its transaction stays open
		p.waitIncoming(t)
		opt := "OPTIONS sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKcap\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=1\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: cap\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		c.WriteTo([]byte(opt), phoneAddr)
		if codes := readCodes(t, c, 5*time.Second); !slices.Contains(codes, 503) {
			t.Fatalf("OPTIONS beyond the cap got %v, want 503", codes)
		}
		if st := p.ua.AdmissionStats(); st.Overloaded != 1 {
			t.Errorf("stats %+v, want 1 overloaded", st)
		}
	})
}

// TestRateLimitIPv6Prefix: a stranger on an IPv6 LAN owns a whole /64 and
// can send each request from a new address in it; the rate limit must
// count the /64 as one source, or every address gets a fresh burst and
// the flood passes unchecked (and fills the source table, so the
// stranger then shares a bucket with every new legitimate source).
func TestRateLimitIPv6Prefix(t *testing.T) {
	a := newAdmission(&Config{RateLimit: 10})
	frozen := time.Now()
	a.now = func() time.Time { return frozen }
	req := []byte("OPTIONS sip:x@[2001:db8::1] SIP/2.0\r\n\r\n")
	passed := 0
	for i := range 200 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 7, 0xaa, 0xbb, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		p := siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 5060))}
		if a.admitDatagram(p, req) {
			passed++
		}
	}
	if passed > 20 { // the burst is twice the rate
		t.Errorf("%d of 200 requests from one /64 passed a limit of 10/s with bursts of 20", passed)
	}
	if len(a.buckets) != 1 {
		t.Errorf("one /64 took %d rate buckets, want 1", len(a.buckets))
	}
	// Another /64 is another source.
	other := netip.MustParseAddr("2001:db8:0:8::1")
	p := siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(other, 5060))}
	if !a.admitDatagram(p, req) {
		t.Error("a request from another /64 was rate limited")
	}
	// IPv4 (also when it arrives IPv4-mapped) stays per address.
	for _, s := range []string{"192.0.2.1", "192.0.2.2", "::ffff:192.0.2.3"} {
		p := siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(s), 5060))}
		if !a.admitDatagram(p, req) {
			t.Errorf("the first request from %s was rate limited", s)
		}
	}
}

// TestTrustedWaitsForResolve: while a request from a stranger has the UA
// resolve its proxy again, a request from the proxy's address is not
// refused because the answer is not in yet: it waits for it.
func TestTrustedWaitsForResolve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		proxy := netip.MustParseAddr("10.0.0.1")
		resolving := make(chan struct{})
		release := make(chan struct{})
		cfg := Config{Account: Account{User: "alice", Registrar: "pbx.invalid"}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		u := &UA{cfg: cfg, ctx: ctx, log: slog.New(slog.DiscardHandler), adm: newAdmission(&cfg)}
		u.adm.resolve = func() []netip.Addr {
			close(resolving)
			<-release
			return []netip.Addr{proxy}
		}

		stranger := make(chan bool)
		go func() { stranger <- u.fromTrusted(netip.MustParseAddr("10.0.0.9")) }()
		<-resolving // the stranger's request is resolving the proxy
		fromProxy := make(chan bool, 1)
		go func() { fromProxy <- u.fromTrusted(proxy) }()
		synctest.Wait()
		close(release)
		if !<-fromProxy {
			t.Error("a request from the proxy's address was refused while a resolve was under way")
		}
		if <-stranger {
			t.Error("the stranger was trusted")
		}
	})
}

// TestRateLimitCountsResponses: a datagram that merely starts like a
// response ("SIP/2.0 ") costs a parse and a goroutine in sipgo as a
// request does, so from a source other than the proxy it counts against
// the same limit; the proxy's responses still always pass.
func TestRateLimitCountsResponses(t *testing.T) {
	a := newAdmission(&Config{RateLimit: 10})
	frozen := time.Now()
	a.now = func() time.Time { return frozen }
	a.setTrusted([]netip.Addr{netip.MustParseAddr("10.0.0.1")})
	res := []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx\r\n\r\n")
	from := func(s string) siplib.TransportReadProps {
		return siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s))}
	}
	passed := 0
	for range 200 {
		if a.admitDatagram(from("10.0.0.9:5060"), res) {
			passed++
		}
	}
	if passed > 20 {
		t.Errorf("%d of 200 fake responses from a stranger passed a limit of 10/s with bursts of 20", passed)
	}
	for i := range 200 {
		if !a.admitDatagram(from("10.0.0.1:5060"), res) {
			t.Fatalf("response %d from the proxy was rate limited", i)
		}
	}
}

// TestRateLimitAggregate: a stranger who spoofs a new source address for
// every datagram (trivial on a LAN) gets a fresh burst each time; the
// sources other than the proxy are also limited together, so such a flood
// is still bounded, while the proxy's traffic passes.
func TestRateLimitAggregate(t *testing.T) {
	a := newAdmission(&Config{RateLimit: 1})
	frozen := time.Now()
	a.now = func() time.Time { return frozen }
	a.setTrusted([]netip.Addr{netip.MustParseAddr("10.0.0.1")})
	req := []byte("OPTIONS sip:alice@10.0.0.2 SIP/2.0\r\n\r\n")
	passed := 0
	for i := range 2000 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		p := siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 5060))}
		if a.admitDatagram(p, req) {
			passed++
		}
	}
	if max := 2 * untrustedShare; passed > max {
		t.Errorf("%d of 2000 requests from 2000 sources passed; the sources together may send %d at once", passed, max)
	}
	p := siplib.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:5060"))}
	if !a.admitDatagram(p, req) {
		t.Error("the proxy's request was rate limited by a flood from others")
	}
}
