package portmgr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/pion/stun/v3"
)

var registrarAddr = netip.MustParseAddrPort("198.51.100.50:5060")

func listenRegistrar(t *testing.T, n interface {
	ListenPacket(string, string) (net.PacketConn, error)
}) net.PacketConn {
	t.Helper()
	c, err := n.ListenPacket("udp4", registrarAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// registrarWorld is a phone's site behind a port-restricted NAT with
// 30 s bindings and a registrar listening on the public side.
func registrarWorld(t *testing.T) (*portmgrtest.World, *portmgrtest.Site, net.PacketConn) {
	w := portmgrtest.NewWorld(t, false)
	site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
	regNet := w.PublicNet(registrarAddr.Addr().String())
	w.Start()
	return w, site, listenRegistrar(t, regNet)
}

// readUntil reads c until a datagram starting with prefix arrives or the
// deadline passes; it also counts the CRLF keepalives it saw.
func readUntil(c net.PacketConn, prefix string, d time.Duration) (from net.Addr, crlfs int, ok bool) {
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		n, f, err := c.ReadFrom(buf)
		if err != nil {
			return nil, crlfs, false
		}
		if bytes.Equal(buf[:n], []byte("\r\n\r\n")) {
			crlfs++
			continue
		}
		if bytes.HasPrefix(buf[:n], []byte(prefix)) {
			return f, crlfs, true
		}
	}
}

// TestIdleSurvives: behind a port-restricted NAT with a 30 s mapping
// lifetime, the SIP flow still receives from the registrar after ten idle
// minutes thanks to keepalives; with keepalives off it does not.
func TestIdleSurvives(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "keepalives", false: "no-keepalives"}[keep]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, site, reg := registrarWorld(t)
				m := phone(t, w, site, func(c *portmgr.Config) {
					if !keep {
						c.SIPKeepalive = portmgr.KeepaliveOff
						c.STUNServers = nil
					}
				})
				ready(t, m)
				sip := mapSIP(t, m)
				if _, err := sip.Conn.WriteTo([]byte("REGISTER"), net.UDPAddrFromAddrPort(registrarAddr)); err != nil {
					t.Fatal(err)
				}
				from, _, ok := readUntil(reg, "REGISTER", time.Second)
				if !ok {
					t.Fatal("registrar got no REGISTER")
				}
				_, crlfs, _ := readUntil(reg, "never", 10*time.Minute)
				if _, err := reg.WriteTo([]byte("INVITE"), from); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				_ = sip.Conn.SetReadDeadline(time.Now().Add(time.Second))
				n, _, err := sip.Conn.ReadFrom(buf)
				got := err == nil && string(buf[:n]) == "INVITE"
				if got != keep {
					t.Errorf("INVITE after 10 idle minutes arrived=%v, want %v (%d CRLF keepalives, interval %v)",
						got, keep, crlfs, m.Report().Keepalive)
				}
				// The ping follows the change check (5 s), so a NAT that
				// flushes its state but keeps the port hears the
				// registrar again within that time (TestNATFlushKeepsPorts).
				if keep && (crlfs < 110 || crlfs > 130) {
					t.Errorf("%d CRLF keepalives in 10 min, want about 120 (every 5 s)", crlfs)
				}
				if !keep && crlfs != 0 {
					t.Errorf("%d keepalives with keepalives off", crlfs)
				}
			})
		})
	}
}

// TestPingFollowsNextHop: a SIP flow mapped before its next hop is
// known has nothing to ping (its CRLF job sleeps, pingIdle, so an idle
// phone is not woken for it); once UpdateRemote names the registrar the
// pings start within a change check, not a pingIdle later, and stop
// when the next hop is taken away again. TestPingJobSleeps looks at the
// job itself.
func TestPingFollowsNextHop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, site, reg := registrarWorld(t)
		m := phone(t, w, site, nil)
		ready(t, m)
		sip, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		if err := m.UpdateRemote(sip, registrarAddr); err != nil {
			t.Fatal(err)
		}
		_, crlfs, _ := readUntil(reg, "never", 6*time.Second)
		if crlfs == 0 {
			t.Fatal("no CRLF ping within 6 s of the next hop becoming known")
		}
		_, crlfs, _ = readUntil(reg, "never", time.Minute)
		if crlfs < 11 || crlfs > 13 {
			t.Errorf("%d CRLF pings in a minute, want about 12 (every 5 s)", crlfs)
		}
		if err := m.UpdateRemote(sip, netip.AddrPort{}); err != nil {
			t.Fatal(err)
		}
		if _, crlfs, _ = readUntil(reg, "never", 10*time.Minute); crlfs != 0 {
			t.Errorf("%d CRLF pings in 10 min after the next hop was dropped, want none", crlfs)
		}
	})
}

// TestNATReboot: the NAT drops everything long enough to forget its
// bindings; once it is back, the SIP flow's new external address is
// detected and reported within seconds.
func TestNATReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		m := phone(t, w, site, nil)
		ready(t, m)
		sip := mapSIP(t, m)
		media, err := m.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.MustParseAddrPort("198.51.100.60:30000"))
		if err != nil {
			t.Fatal(err)
		}
		oldMedia := media.External()
		old := sip.External()
		drain(m)
		site.Down(true)
		time.Sleep(45 * time.Second) // past the 30 s lifetime: bindings gone
		site.Down(false)
		back := time.Now()
		for {
			select {
			case ev := <-m.Events():
				if ev.Kind != portmgr.EventExternalChanged || ev.Mapping != sip {
					continue
				}
				if ev.Old != old || ev.New == old || ev.New.Addr() != site.Public || sip.External() != ev.New {
					t.Errorf("event %+v (old %v, now %v)", ev, old, sip.External())
				}
				if d := time.Since(back); d > 10*time.Second {
					t.Errorf("detected %v after the NAT came back, want within 10 s", d)
				}
				if m.Report().ExternalSIP != ev.New {
					t.Errorf("report still shows %v", m.Report().ExternalSIP)
				}
				// The call's media mapping is relearnt too.
				for {
					select {
					case ev := <-m.Events():
						if ev.Mapping == media {
							if ev.Old != oldMedia || ev.New == oldMedia || media.External() != ev.New {
								t.Errorf("media event %+v (old %v)", ev, oldMedia)
							}
							return
						}
					case <-time.After(30 * time.Second):
						t.Fatal("media mapping not relearnt after the reboot")
					}
				}
			case <-time.After(time.Minute):
				t.Fatal("no EventExternalChanged within a minute of the NAT coming back")
			}
		}
	})
}

// quietPhone is a started manager at site without the background
// binding-lifetime probe (whose traffic the tests below do not expect).
func quietPhone(t *testing.T, w *portmgrtest.World, site *portmgrtest.Site) *portmgr.Manager {
	t.Helper()
	m := phone(t, w, site, func(c *portmgr.Config) { c.DisableLifetimeProbe = true })
	ready(t, m)
	return m
}

// mapSIP maps the SIP flow to the registrar, failing the test if it
// cannot.
func mapSIP(t *testing.T, m *portmgr.Manager) *portmgr.Mapping {
	t.Helper()
	sip, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, registrarAddr)
	if err != nil {
		t.Fatal(err)
	}
	return sip
}

func drain(m *portmgr.Manager) {
	for {
		select {
		case <-m.Events():
		default:
			return
		}
	}
}

// TestEarlyUDP: the caller sits behind a port-restricted NAT and sends no
// media before answer; the callee plays early media as soon as it has the
// caller's address. Early UDP from the caller's media socket, sent when
// the callee's address arrives (UpdateRemote), opens the caller's NAT so
// the early media gets in; without it, nothing does.
func TestEarlyUDP(t *testing.T) {
	for _, early := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[early]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, false)
				caller := w.AddSite(portmgrtest.PortRestrictedCone, 0)
				callee := w.AddSite(portmgrtest.FullCone, 0)
				w.Start()
				// Media keepalives stay out of the way (an idle pair's
				// first keepalive, an indication to the far end, would
				// open the NAT too): only early UDP is compared.
				ma := phone(t, w, caller, func(c *portmgr.Config) {
					c.DisableEarlyUDP = !early
					c.Keepalive = time.Hour
				})
				mb := phone(t, w, callee, nil)
				ready(t, ma)
				ready(t, mb)
				ctx := context.Background()
				pa, _ := ma.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
				pb, _ := mb.Map(ctx, portmgr.KindMedia, portmgr.UDP, pa.External())
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { // the callee's announcement, 20 ms packets
					defer close(done)
					for i := 0; ; i++ {
						_, _ = pb.Conn.WriteTo([]byte("\x80early media"), net.UDPAddrFromAddrPort(pa.External()))
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				}()
				time.Sleep(100 * time.Millisecond)
				start := time.Now()
				if err := ma.UpdateRemote(pa, pb.External()); err != nil { // the 183's SDP
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				_ = pa.Conn.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, _, err := pa.Conn.ReadFrom(buf)
				got := err == nil && string(buf[:n]) == "\x80early media"
				close(stop)
				<-done
				if got != early {
					t.Fatalf("early media arrived=%v, want %v", got, early)
				}
				if early {
					if d := time.Since(start); d > 100*time.Millisecond {
						t.Errorf("early media after %v, want within 100 ms", d)
					}
				}
			})
		})
	}
}

// TestSTUNResponseChecks: a STUN server that answers every request with a
// response carrying the wrong transaction ID and one from an unexpected
// source (both with bogus addresses) before, from the third request on,
// the right one: the bogus ones are ignored and the transaction goes on
// retransmitting until the right one arrives.
func TestSTUNResponseChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.Open, 0)
		evil := w.PublicNet("198.51.100.66")
		w.Start()
		main, err := evil.ListenPacket("udp4", "198.51.100.66:3478")
		if err != nil {
			t.Fatal(err)
		}
		side, err := evil.ListenPacket("udp4", "198.51.100.66:3479")
		if err != nil {
			t.Fatal(err)
		}
		var requests int
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 1500)
			for {
				n, from, err := main.ReadFrom(buf)
				if err != nil {
					return
				}
				req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
				if req.Decode() != nil || req.Type != stun.BindingRequest {
					continue
				}
				requests++
				ua := from.(*net.UDPAddr)
				bogus := &stun.XORMappedAddress{IP: net.IPv4(6, 6, 6, 6), Port: 666}
				wrongID := stun.MustBuild(stun.TransactionID, stun.BindingSuccess, bogus, stun.Fingerprint)
				_, _ = main.WriteTo(wrongID.Raw, from)
				wrongSrc := stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
					&stun.XORMappedAddress{IP: net.IPv4(7, 7, 7, 7), Port: 777}, stun.Fingerprint)
				_, _ = side.WriteTo(wrongSrc.Raw, from)
				if requests >= 3 {
					good := stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
						&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}, stun.Fingerprint)
					_, _ = main.WriteTo(good.Raw, from)
				}
			}
		}()
		var seen []*stun.Message
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.STUNServers = []string{"198.51.100.66:3478"}
			c.DisableLifetimeProbe = true
		})
		m.SetSTUNHandler(func(_ *portmgr.Mapping, msg []byte, _ net.Addr) {
			x := &stun.Message{Raw: msg}
			if x.Decode() == nil {
				seen = append(seen, x)
			}
		})
		sip := mapSIP(t, m)
		ready(t, m)
		if got, want := sip.External(), sip.Local(); got != want || sip.Via() != portmgr.StrategySTUN {
			t.Errorf("external %v via %v, want %v via stun", got, sip.Via(), want)
		}
		if requests < 3 {
			t.Errorf("%d requests: the bogus responses ended the transaction", requests)
		}
		if len(seen) == 0 {
			t.Errorf("the ignored responses never reached the STUN handler")
		}
		_ = main.Close()
		_ = side.Close()
		<-done
	})
}

// TestSTUNFailover: the first server is dead; the second answers.
func TestSTUNFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.STUNServers = []string{"198.51.100.99:3478", w.STUNServer().String()}
		})
		start := time.Now()
		sip := mapSIP(t, m)
		if sip.Via() != portmgr.StrategyLocal || time.Since(start) > time.Second {
			t.Errorf("Map waited %v / via %v: it must return the best known address within SIPMapWait", time.Since(start), sip.Via())
		}
		ready(t, m)
		if sip.External().Addr() != site.Public || sip.Via() != portmgr.StrategySTUN {
			t.Errorf("external %v via %v", sip.External(), sip.Via())
		}
		if r := m.Report(); r.STUNServer != w.STUNServer().String() {
			t.Errorf("report server %q", r.STUNServer)
		}
		ev := <-m.Events()
		if ev.Kind != portmgr.EventExternalChanged || ev.Mapping != sip || ev.New != sip.External() {
			t.Errorf("event %+v", ev)
		}
	})
}

// TestRportAndALG: the registrar reports another address than STUN found
// on an endpoint-independent NAT: the mapping follows the registrar, and
// an ALG is reported; a rewritten Contact is reported too.
func TestRportAndALG(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		m := quietPhone(t, w, site)
		sip := mapSIP(t, m)
		drain(m)
		if r := m.Report(); r.ALGSeen {
			t.Fatal("ALG before any evidence")
		}
		m.ObserveRport(sip.External()) // agreement: nothing happens
		select {
		case ev := <-m.Events():
			t.Fatalf("event on agreement: %+v", ev)
		default:
		}
		seen := netip.AddrPortFrom(site.Public, 1234)
		m.ObserveRport(seen)
		kinds := map[portmgr.EventKind]bool{}
		for range 2 {
			ev := <-m.Events()
			kinds[ev.Kind] = true
		}
		if !kinds[portmgr.EventALG] || !kinds[portmgr.EventExternalChanged] {
			t.Errorf("events %v", kinds)
		}
		if sip.External() != seen || sip.Via() != portmgr.StrategyRport {
			t.Errorf("external %v via %v, want %v via rport", sip.External(), sip.Via(), seen)
		}
		r := m.Report()
		if !r.ALGSeen || r.ExternalSIP != seen || r.Strategy != portmgr.StrategyRport {
			t.Errorf("report %+v", r)
		}
		m.ObserveContact(sip.External(), sip.External()) // echoed as sent: nothing
		m.ObserveContact(sip.External(), netip.MustParseAddrPort("203.0.113.250:5060"))
		// The ALG was already reported (one EventALG per manager); the
		// report now says what the Contact came back as.
		if d := m.Report().ALGDetail; !strings.Contains(d, "203.0.113.250:5060") {
			t.Errorf("ALG detail %q", d)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		_ = json.Unmarshal(b, &back)
		for _, k := range []string{"type", "mapping", "filtering", "external_sip", "strategy", "binding_lifetime_s", "gateway_found", "alg_seen"} {
			if _, ok := back[k]; !ok {
				t.Errorf("report JSON lacks %q: %s", k, b)
			}
		}
		if back["type"] != "full-cone" || back["mapping"] != "endpoint-independent" {
			t.Errorf("report JSON %s", b)
		}
	})
}

// TestGatewayLeases: with a PCP gateway on the LAN, media mappings get
// gateway leases, renewed at half-life and deleted on Release and Close.
func TestGatewayLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		gwNet := site.AddLANHost(t, site.GatewayIP())
		w.Start()
		fake := &portmgrtest.FakePCP{Net: gwNet, Addr: netip.AddrPortFrom(site.GatewayIP(), 5351), External: site.Public}
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.EnableGateway = true
			c.GatewayLifetime = 2 * time.Minute
			c.PoolSize = 1
		})
		ready(t, m)
		if r := m.Report(); !r.GatewayFound || r.Gateway != "pcp" {
			t.Fatalf("report %+v", r)
		}
		mp, err := m.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		if mp.Via() != portmgr.StrategyGateway || mp.External().Addr() != site.Public || mp.ExternalRTCP().Addr() != site.Public {
			t.Fatalf("mapping via %v ext %v/%v", mp.Via(), mp.External(), mp.ExternalRTCP())
		}
		r0 := fake.Renews.Load()
		time.Sleep(5*time.Minute + time.Second)
		// Two leases (RTP, RTCP) per pair, for the mapping and for the
		// pool's replacement pair; the SIP flow has one more when the
		// gateway was found before its address was learnt (the two run
		// side by side at start, so either may finish first). Every
		// lease is renewed every 60 s: 5 times in the 5 minutes, give or
		// take the pool's fill time.
		held := fake.Leases()
		if held != 4 && held != 5 {
			t.Errorf("%d leases held, want 4 (two pairs) or 5 (and the SIP flow)", held)
		}
		if got := fake.Renews.Load() - r0; got < int64(4*held) || got > int64(5*held) {
			t.Errorf("%d renewals in 5 min for %d leases at 60 s, want %d..%d", got, held, 4*held, 5*held)
		}
		if fake.Lapsed.Load() != 0 {
			t.Errorf("%d renewals came after the lease had lapsed", fake.Lapsed.Load())
		}
		d0 := fake.Deletes.Load()
		if err := m.Release(mp); err != nil {
			t.Fatal(err)
		}
		if got := fake.Deletes.Load() - d0; got != 2 {
			t.Errorf("Release deleted %d leases, want 2", got)
		}
		if fake.Leases() != held-2 {
			t.Errorf("%d leases held after Release, want %d", fake.Leases(), held-2)
		}
		_ = m.Close()
		if fake.Leases() != 0 {
			t.Errorf("%d leases left after Close", fake.Leases())
		}
	})
}

// TestHoldSurvives: two media mappings behind port-restricted NATs with
// 30 s bindings talk, then go silent for ten minutes (hold); the media
// keepalives keep both NATs open, so the first packet after the hold gets
// through. With the keepalive interval stretched to an hour it does not.
func TestHoldSurvives(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "keepalives", false: "hourly"}[keep]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, false)
				sa := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
				sb := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
				w.Start()
				mod := func(c *portmgr.Config) {
					c.DisableLifetimeProbe = true
					if !keep {
						c.Keepalive = time.Hour
					}
				}
				ma, mb := phone(t, w, sa, mod), phone(t, w, sb, mod)
				ready(t, ma)
				ready(t, mb)
				ctx := context.Background()
				pa, _ := ma.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
				pb, _ := mb.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
				_ = ma.UpdateRemote(pa, pb.External())
				_ = mb.UpdateRemote(pb, pa.External())
				time.Sleep(200 * time.Millisecond) // early UDP opens both NATs
				// Talk a little: both directions work.
				for _, dir := range []struct {
					from, to *portmgr.Mapping
				}{{pa, pb}, {pb, pa}} {
					_, _ = dir.from.Conn.WriteTo([]byte("\x80talk"), net.UDPAddrFromAddrPort(dir.to.External()))
					buf := make([]byte, 64)
					_ = dir.to.Conn.SetReadDeadline(time.Now().Add(time.Second))
					if _, _, err := dir.to.Conn.ReadFrom(buf); err != nil {
						t.Fatalf("before hold: %v", err)
					}
				}
				p0, _ := ma.KeepaliveStats()
				time.Sleep(10 * time.Minute) // hold: no media either way
				p1, _ := ma.KeepaliveStats()
				_, _ = pb.Conn.WriteTo([]byte("\x80resume"), net.UDPAddrFromAddrPort(pa.External()))
				buf := make([]byte, 64)
				_ = pa.Conn.SetReadDeadline(time.Now().Add(time.Second))
				n, _, err := pa.Conn.ReadFrom(buf)
				got := err == nil && string(buf[:n]) == "\x80resume"
				if got != keep {
					t.Errorf("packet after a 10 min hold arrived=%v, want %v (%d keepalive packets)", got, keep, p1-p0)
				}
			})
		})
	}
}

// TestSTUNKeepaliveMode: with KeepaliveSTUN the SIP flow's keepalive is a
// Binding request to the next hop itself (RFC 5626 §4.4.2), here a
// STUN-capable registrar, sent at the change-check interval (it is the
// check too); ten idle minutes behind a 30 s NAT keep the same mapping,
// with no change reported.
func TestSTUNKeepaliveMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.SIPKeepalive = portmgr.KeepaliveSTUN
			c.DisableLifetimeProbe = true
			c.PoolSize = -1
		})
		ready(t, m)
		sip, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, w.STUNServer())
		if err != nil {
			t.Fatal(err)
		}
		ext := sip.External()
		drain(m)
		r0 := w.STUN.Requests.Load()
		time.Sleep(10 * time.Minute)
		if n := w.STUN.Requests.Load() - r0; n < 118 || n > 122 {
			t.Errorf("%d Binding requests in 10 min, want about 120 (one per ChangeCheck, 5 s)", n)
		}
		if sip.External() != ext {
			t.Errorf("mapping moved: %v -> %v", ext, sip.External())
		}
		select {
		case ev := <-m.Events():
			t.Errorf("unexpected event %+v", ev)
		default:
		}
	})
}

// TestContactALG: a Contact that comes back rewritten in the 200 OK to
// REGISTER is reported as an ALG, once.
func TestContactALG(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		m := quietPhone(t, w, site)
		sip := mapSIP(t, m)
		drain(m)
		m.ObserveContact(sip.External(), sip.External())
		if m.Report().ALGSeen {
			t.Fatal("ALG reported for an unchanged Contact")
		}
		rewritten := netip.MustParseAddrPort("203.0.113.250:5060")
		m.ObserveContact(sip.External(), rewritten)
		m.ObserveContact(sip.External(), rewritten)
		ev := <-m.Events()
		if ev.Kind != portmgr.EventALG || ev.New != rewritten {
			t.Errorf("event %+v", ev)
		}
		select {
		case ev := <-m.Events():
			t.Errorf("second event %+v", ev)
		default:
		}
		if r := m.Report(); !r.ALGSeen || !strings.Contains(r.ALGDetail, rewritten.String()) {
			t.Errorf("report %+v", r)
		}
	})
}

// TestRportRewrittenByALG is the lab's SIP ALG finding: a Linux
// nf_nat_sip NAT rewrites the Via received/rport of the 200 OK to
// REGISTER to the phone's own LAN address (and the echoed Contact with
// it). A public registrar cannot have seen that address: the manager
// reports an ALG, keeps advertising the STUN-learnt address and emits no
// change. The same goes for a private address that is not ours while
// STUN saw a public one; a registrar on the LAN, though, does see our
// LAN address, and it is adopted as before.
func TestRportRewrittenByALG(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		m := quietPhone(t, w, site)
		ctx := context.Background()
		sip := mapSIP(t, m)
		ext := sip.External()
		if ext.Addr() != site.Public || sip.Via() != portmgr.StrategySTUN {
			t.Fatalf("SIP external %v via %v before the REGISTER", ext, sip.Via())
		}
		drain(m)

		private := netip.AddrPortFrom(site.LocalIP, sip.Local().Port())
		m.ObserveRport(private)
		m.ObserveContact(ext, private) // the echoed Contact, rewritten back too
		ev := <-m.Events()
		if ev.Kind != portmgr.EventALG || ev.New != private {
			t.Errorf("event %+v, want EventALG for %v", ev, private)
		}
		select {
		case ev := <-m.Events():
			t.Errorf("second event %+v: the rewritten rport must not count as a change", ev)
		default:
		}
		if sip.External() != ext || sip.Via() != portmgr.StrategySTUN {
			t.Errorf("SIP external %v via %v after the rewritten rport, want %v via stun", sip.External(), sip.Via(), ext)
		}
		r := m.Report()
		if !r.ALGSeen || r.ExternalSIP != ext || r.Strategy != portmgr.StrategySTUN {
			t.Errorf("report %+v", r)
		}

		m.ObserveRport(netip.MustParseAddrPort("192.168.77.5:5060"))
		if sip.External() != ext {
			t.Errorf("a private rport not ours was adopted: %v", sip.External())
		}
		if d := m.Report().ALGDetail; !strings.Contains(d, "192.168.77.5:5060") || !strings.Contains(d, ext.String()) {
			t.Errorf("ALG detail %q", d)
		}

		// Control: a registrar on the LAN sees our LAN address, rightly.
		lanReg := netip.AddrPortFrom(site.GatewayIP(), 5060)
		lan, err := m.Map(ctx, portmgr.KindSIP, portmgr.UDP, lanReg)
		if err != nil {
			t.Fatal(err)
		}
		drain(m)
		m.ObserveRportFor(lan, lan.Local())
		if lan.External() != lan.Local() || lan.Via() != portmgr.StrategyRport {
			t.Errorf("LAN registrar: external %v via %v, want %v via rport", lan.External(), lan.Via(), lan.Local())
		}
	})
}

// TestNATRebootNoOutage is the lab's NAT reboot finding: the NAT flushes
// its bindings and moves its ports while the phone is registered, with
// no outage, so every keepalive still gets through and only the mapped
// port tells. The SIP flow's change check (a STUN request every
// ChangeCheck, 5 s) notices it within that time, well inside the 10 s
// a NAT reboot may cost before the phone is reachable again, instead of at
// the next 20 s keepalive.
func TestNATRebootNoOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		m := quietPhone(t, w, site)
		sip := mapSIP(t, m)
		old := sip.External()
		time.Sleep(47 * time.Second) // some idle time, at an arbitrary phase of the timers
		drain(m)
		w.STUN.PortShift.Store(1000) // the reboot
		rebooted := time.Now()
		want := netip.AddrPortFrom(old.Addr(), old.Port()+1000)
		for {
			select {
			case ev := <-m.Events():
				if ev.Mapping != sip || ev.Kind != portmgr.EventExternalChanged {
					continue
				}
				if ev.Old != old || ev.New != want || sip.External() != want {
					t.Errorf("event %+v, want %v -> %v", ev, old, want)
				}
				if d := time.Since(rebooted); d > portmgr.DefaultChangeCheck {
					t.Errorf("reboot noticed after %v, want within %v", d, portmgr.DefaultChangeCheck)
				}
				return
			case <-time.After(time.Minute):
				t.Fatal("reboot not noticed within a minute")
			}
		}
	})
}

// TestRelayedCallSurvivesOutage: a relayed call (a phone behind a
// symmetric NAT) whose path to the TURN server goes dark, as the lab's
// did when its router changed MAC or as a Wi-Fi drop does, carries media
// both ways again once the path is back. After a short outage the NAT
// kept its bindings and the same allocation carries on; after one long
// enough for the NAT to forget them (a new external port, which the TURN
// server takes for a new client) the mapping moves to a new allocation
// and says so with a change event, so the UA re-INVITEs.
func TestRelayedCallSurvivesOutage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		outage time.Duration
		moves  bool
	}{{"short", 10 * time.Second, false}, {"bindings-lost", 45 * time.Second, true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, true)
				site := w.AddSite(portmgrtest.Symmetric, 30*time.Second)
				peerAddr := netip.MustParseAddrPort("198.51.100.60:30000")
				peer, err := w.PublicNet(peerAddr.Addr().String()).ListenPacket("udp4", peerAddr.String())
				if err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				w.Start()
				m := quietPhone(t, w, site)
				ctx := context.Background()
				mapSIP(t, m)
				mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, peerAddr)
				if err != nil {
					t.Fatal(err)
				}
				if mp.Via() != portmgr.StrategyTURN {
					t.Fatalf("media mapping via %v, want turn", mp.Via())
				}
				// talk sends one datagram each way, retried every 20 ms for
				// up to 10 s, and reports whether both arrived: the phone's
				// through the relay from its advertised address, the peer's
				// to that address.
				talk := func(tag string) bool {
					relay := mp.External()
					gotPeer, gotPhone := false, false
					buf := make([]byte, 1500)
					for i := 0; i < 500 && !(gotPeer && gotPhone); i++ {
						_, _ = mp.Conn.WriteTo([]byte("\x80phone "+tag), net.UDPAddrFromAddrPort(peerAddr))
						_, _ = peer.WriteTo([]byte("\x80peer "+tag), net.UDPAddrFromAddrPort(relay))
						_ = peer.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
						for {
							n, from, err := peer.ReadFrom(buf)
							if err != nil {
								break
							}
							if string(buf[:n]) == "\x80phone "+tag && from.String() == relay.String() {
								gotPeer = true
							}
						}
						_ = mp.Conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
						for {
							n, _, err := mp.Conn.ReadFrom(buf)
							if err != nil {
								break
							}
							if string(buf[:n]) == "\x80peer "+tag {
								gotPhone = true
							}
						}
					}
					return gotPeer && gotPhone
				}
				if !talk("before") {
					t.Fatalf("no media both ways through the relay %v before the outage", mp.External())
				}
				drain(m)
				before := mp.External()
				site.Down(true)
				time.Sleep(tc.outage)
				site.Down(false)
				if site.Dropped.Load() == 0 {
					t.Fatal("the outage dropped nothing: the test would prove nothing")
				}
				if !tc.moves {
					if !talk("after") {
						t.Fatalf("no media both ways within 10 s of a %v outage (relay %v)", tc.outage, mp.External())
					}
					if mp.External() != before {
						t.Errorf("relay moved %v -> %v after a %v outage that kept the NAT's bindings", before, mp.External(), tc.outage)
					}
					return
				}
				deadline := time.After(20 * time.Second)
				for mp.External() == before {
					select {
					case ev := <-m.Events():
						if ev.Mapping == mp && (ev.Old != before || ev.New != mp.External()) {
							t.Errorf("event %+v, mapping now %v", ev, mp.External())
						}
					case <-deadline:
						t.Fatalf("relay still %v 20 s after the NAT lost its bindings", before)
					}
				}
				if mp.Via() != portmgr.StrategyTURN || mp.External().Addr() != portmgrtest.TURNAddr {
					t.Errorf("after the outage the mapping is %v via %v, want a new relay", mp.External(), mp.Via())
				}
				if !talk("after") {
					t.Fatalf("no media both ways through the new relay %v", mp.External())
				}
			})
		})
	}
}

// TestSeveralSIPMappings: a phone with two lines holds two SIP flows from
// one manager, each with its own socket, external address, observations
// and events; releasing the newer one leaves the report, ObserveRport and
// ObserveContact on the one still held rather than on nothing.
func TestSeveralSIPMappings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		m := quietPhone(t, w, site)
		a := mapSIP(t, m)
		b, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.AddrPortFrom(registrarAddr.Addr(), registrarAddr.Port()+1))
		if err != nil {
			t.Fatal(err)
		}
		drain(m)
		if a.Local() == b.Local() || a.Conn == b.Conn {
			t.Fatalf("two lines share a SIP socket: %v %v", a.Local(), b.Local())
		}
		if b.External().Addr() != site.Public {
			t.Errorf("second flow external %v, want the public IP %v", b.External(), site.Public)
		}

		rewritten := netip.MustParseAddrPort("203.0.113.250:5060")
		m.ObserveContactFor(a, a.External(), rewritten)
		if ev := <-m.Events(); ev.Kind != portmgr.EventALG || ev.Mapping != a {
			t.Errorf("ALG event %+v, want one naming the first flow", ev)
		}

		bExt := b.External()
		seen := netip.AddrPortFrom(site.Public, 1234)
		m.ObserveRportFor(a, seen)
		// On this endpoint-independent NAT the registrar disagreeing with
		// STUN is an ALG too: both events name the first flow.
		for range 2 {
			ev := <-m.Events()
			if ev.Mapping != a || (ev.Kind == portmgr.EventExternalChanged && ev.New != seen) {
				t.Errorf("event %+v, want one of the first flow (external now %v)", ev, seen)
			}
		}
		if a.External() != seen || b.External() != bExt {
			t.Errorf("externals %v %v, want %v and unchanged %v", a.External(), b.External(), seen, bExt)
		}

		if err := m.Release(b); err != nil {
			t.Fatal(err)
		}
		if r := m.Report(); r.ExternalSIP != seen || r.Strategy != portmgr.StrategyRport {
			t.Errorf("report after releasing the newer flow: %v via %v, want the held flow's %v via rport", r.ExternalSIP, r.Strategy, seen)
		}
		again := netip.AddrPortFrom(site.Public, 4321)
		m.ObserveRport(again)
		if a.External() != again {
			t.Errorf("ObserveRport after the newer flow's release: first flow %v, want %v", a.External(), again)
		}
	})
}

// TestLifetimeReport: behind a NAT that forgets idle bindings after 30 s
// but re-creates them on the same port (the lab's Linux NAT), the report
// says 25 s, measured through RESPONSE-PORT, once the 45 s probe has
// expired (the old probe said 300 s there).
func TestLifetimeReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, time.Hour)
		site.ExpireIdle(30 * time.Second)
		w.Start()
		m := phone(t, w, site, func(*portmgr.Config) {})
		ready(t, m)
		time.Sleep(50 * time.Second)
		r := m.Report()
		if r.BindingLifetime != 25 || !r.Measured || r.LifetimeMethod != "response-port" || r.Keepalive != 20 {
			t.Errorf("report lifetime %v s measured %v method %q keepalive %v s, want 25 s measured by response-port, keepalive 20 s",
				r.BindingLifetime, r.Measured, r.LifetimeMethod, r.Keepalive)
		}
	})
}
