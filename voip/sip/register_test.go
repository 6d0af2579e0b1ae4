package sip

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// regSetup starts a registrar peer at 10.0.0.1 and a phone at 10.0.0.2.
func regSetup(t *testing.T, rs *registrarScript, mut func(*Config)) (*world, *peer, *phone) {
	w := newWorld(t)
	sn := w.host("10.0.0.1")
	pn := w.host("10.0.0.2")
	w.start()
	reg := newPeer(t, sn, "10.0.0.1:5060", rs.handle)
	p := newPhone(t, pn, func(c *Config) {
		c.Account = Account{User: "alice", Password: "secret", Registrar: "10.0.0.1", Expires: time.Hour}
		if mut != nil {
			mut(c)
		}
	})
	return w, reg, p
}

func TestRegisterSHA256Stale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret", algorithm: "SHA-256", staleOnce: true}
		_, reg, p := regSetup(t, rs, nil)
		st := p.waitReg(t, RegRegistered)
		if st.Failures != 0 {
			t.Errorf("stale counted as failure: %+v", st)
		}
		regs := reg.requests(siplib.REGISTER)
		// no auth -> 401; auth -> 401 stale; auth with new nonce -> 200.
		if len(regs) != 3 {
			t.Fatalf("%d REGISTERs, want 3", len(regs))
		}
		if !hasHeaderValue(regs[2], "Authorization", "algorithm=SHA-256") {
			t.Errorf("no SHA-256 answer: %v", regs[2].GetHeader("Authorization"))
		}
		if regs[1].CallID().Value() != regs[2].CallID().Value() || regs[2].CSeq().SeqNo <= regs[1].CSeq().SeqNo {
			t.Error("REGISTERs not one series (same Call-ID, rising CSeq)")
		}
	})
}

func TestRegisterWrongPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "other", algorithm: "MD5"}
		_, reg, p := regSetup(t, rs, nil)
		st := p.waitReg(t, RegFailed)
		if st.Reason != "authentication failed" || st.Code != 401 {
			t.Errorf("status %+v", st)
		}
		if n := len(reg.requests(siplib.REGISTER)); n != 2 {
			t.Errorf("%d REGISTERs before giving up, want 2 (no loop)", n)
		}
		// The next attempt waits for the back-off (2 s ±20 %), not at once.
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if n := len(reg.requests(siplib.REGISTER)); n != 2 {
			t.Errorf("retried after %d REGISTERs within 1.5 s", n)
		}
	})
}

func TestRegisterForbiddenAndNotFound(t *testing.T) {
	for _, code := range []int{403, 404} {
		synctest.Test(t, func(t *testing.T) {
			rs := &registrarScript{override: func(n int, req *siplib.Request) *siplib.Response {
				return siplib.NewResponseFromRequest(req, code, "Nope", nil)
			}}
			_, _, p := regSetup(t, rs, nil)
			st := p.waitReg(t, RegFailed)
			if st.Code != code || st.Reason != "Nope" {
				t.Errorf("status %+v, want %d", st, code)
			}
		})
	}
}

func TestRegister423MinExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret", override: func(n int, req *siplib.Request) *siplib.Response {
			if e := req.GetHeader("Expires"); e != nil && e.Value() == "30" {
				res := siplib.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
				res.AppendHeader(siplib.NewHeader("Min-Expires", "300"))
				return res
			}
			return nil
		}}
		_, reg, p := regSetup(t, rs, func(c *Config) { c.Account.Expires = 30 * time.Second })
		st := p.waitReg(t, RegRegistered)
		if st.Expires != 300*time.Second {
			t.Errorf("granted %v, want 300s", st.Expires)
		}
		regs := reg.requests(siplib.REGISTER)
		if e := regs[len(regs)-1].GetHeader("Expires"); e.Value() != "300" {
			t.Errorf("last REGISTER asked %s", e.Value())
		}
	})
}

func TestRegister503RetryAfterAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		rs := &registrarScript{realm: "r", user: "alice", password: "secret", override: func(n int, req *siplib.Request) *siplib.Response {
			times = append(times, time.Now())
			switch n {
			case 1:
				res := siplib.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
				res.AppendHeader(siplib.NewHeader("Retry-After", "120"))
				return res
			case 2, 3, 4:
				return siplib.NewResponseFromRequest(req, 500, "Server Error", nil)
			}
			return nil
		}}
		_, _, p := regSetup(t, rs, nil)
		p.waitReg(t, RegRegistered)
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if len(times) < 5 {
			t.Fatalf("%d attempts", len(times))
		}
		if d := times[1].Sub(times[0]); d != 120*time.Second {
			t.Errorf("after 503 Retry-After: 120 waited %v", d)
		}
		// The 503 was failure 1; the 500s back off 4 s, 8 s, 16 s, each ±20 %.
		for i, want := range []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second} {
			d := times[i+2].Sub(times[i+1])
			if d < want*8/10 || d > want*12/10 {
				t.Errorf("back-off %d = %v, want %v ±20%%", i, d, want)
			}
		}
	})
}

func TestRegisterOutboundProxy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
		_, reg, p := regSetup(t, rs, func(c *Config) {
			c.Account.Registrar = "example.com"
			c.Account.OutboundProxy = "10.0.0.1:5060"
		})
		p.waitReg(t, RegRegistered)
		r := reg.requests(siplib.REGISTER)[0]
		if r.Recipient.Host != "example.com" {
			t.Errorf("Request-URI %s", r.Recipient.String())
		}
		rt := r.Route()
		if rt == nil || rt.Address.Host != "10.0.0.1" || !isLoose(rt.Address) {
			t.Errorf("Route = %v, want <sip:10.0.0.1:5060;lr>", rt)
		}
	})
}

// TestRegisteredHook: Config.Registered runs after every accepted
// REGISTER, refreshes that change nothing (and send no event) included,
// and not after a refused one.
func TestRegisteredHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
		var n atomic.Int32
		_, _, p := regSetup(t, rs, func(c *Config) {
			c.Account.Expires = 60 * time.Second
			c.Registered = func() { n.Add(1) }
		})
		p.waitReg(t, RegRegistered)
		synctest.Wait()
		if got := n.Load(); got != 1 {
			t.Fatalf("Registered ran %d times after the first registration, want 1", got)
		}
		time.Sleep(95 * time.Second) // refreshes at 30 s, 60 s and 90 s
		synctest.Wait()
		if got := n.Load(); got != 4 {
			t.Errorf("Registered ran %d times after three refreshes, want 4", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
		var n atomic.Int32
		_, _, p := regSetup(t, rs, func(c *Config) {
			c.Account.Password = "wrong"
			c.Registered = func() { n.Add(1) }
		})
		p.waitReg(t, RegFailed)
		synctest.Wait()
		if got := n.Load(); got != 0 {
			t.Errorf("Registered ran %d times with a refused password, want 0", got)
		}
	})
}

func TestRefreshAfter(t *testing.T) {
	for _, c := range []struct{ g, want time.Duration }{
		{3600 * time.Second, 3060 * time.Second},
		{60 * time.Second, 30 * time.Second},
		{120 * time.Second, 90 * time.Second},
		{20 * time.Second, 10 * time.Second},
		{time.Second, time.Second},
	} {
		if got := refreshAfter(c.g); got != c.want {
			t.Errorf("refreshAfter(%v) = %v, want %v", c.g, got, c.want)
		}
	}
}

// TestRegisterReplacesOldContact: when the port manager learns a new
// external SIP address, the next REGISTER carries the new Contact and
// removes the old binding with expires=0 in the same request (RFC 3261
// §10.2.2), so the registrar does not fork INVITEs to a dead address.
func TestRegisterReplacesOldContact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := &registrarScript{realm: "r", user: "alice", password: "secret"}
		_, reg, p := regSetup(t, rs, nil)
		first := p.waitReg(t, RegRegistered)
		p.pm.ObserveRport(netip.MustParseAddrPort("198.51.100.7:40001"))
		p.ua.Reregister()
		second := p.next(t, "registered with the new contact", func(ev Event) bool {
			r, ok := ev.(*RegistrationEvent)
			return ok && r.Status.State == RegRegistered && r.Status.Contact != first.Contact
		}).(*RegistrationEvent).Status
		if !strings.Contains(second.Contact, "198.51.100.7:40001") {
			t.Fatalf("new contact %s, want 198.51.100.7:40001", second.Contact)
		}
		var last *siplib.Request
		for _, r := range reg.requests(siplib.REGISTER) {
			if r.GetHeader("Authorization") != nil {
				last = r
			}
		}
		var got []string
		for _, h := range last.GetHeaders("Contact") {
			c := h.(*siplib.ContactHeader)
			e, _ := c.Params.Get("expires")
			got = append(got, c.Address.Host+":"+strconv.Itoa(c.Address.Port)+" expires="+e)
		}
		oldHost := first.ContactAddr.String()
		want := []string{"198.51.100.7:40001 expires=3600", oldHost + " expires=0"}
		if !slices.Equal(got, want) {
			t.Fatalf("Contacts of the re-REGISTER = %q, want %q", got, want)
		}
		// The refresh after that carries the new contact only.
		n := rs.registers()
		p.ua.Reregister()
		for i := 0; i < 100 && rs.registers() == n; i++ {
			time.Sleep(100 * time.Millisecond) // fake time
		}
		rr := reg.requests(siplib.REGISTER)
		if len(rr) == n {
			t.Fatal("no refresh REGISTER after Reregister")
		}
		if cs := rr[len(rr)-1].GetHeaders("Contact"); len(cs) != 1 {
			t.Fatalf("refresh has %d Contacts, want 1", len(cs))
		}
	})
}
