package sip

import (
	"context"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	siplib "github.com/emiago/sipgo/sip"
)

func TestRegisterDigestMD5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		srvNet := w.host("10.0.0.1")
		phNet := w.host("10.0.0.2")
		w.start()
		rs := &registrarScript{realm: "test", user: "alice", password: "secret", algorithm: "MD5",
			granted: func(int) int { return 120 }}
		reg := newPeer(t, srvNet, "10.0.0.1:5060", rs.handle)
		p := newPhone(t, phNet, func(c *Config) {
			c.Account = Account{User: "alice", Password: "secret", Registrar: reg.addr().String(), Expires: time.Hour}
		})
		st := p.waitReg(t, RegRegistered)
		if st.Expires != 120*time.Second {
			t.Errorf("granted expiry = %v, want 120s (the contact's expires param, not Expires or what we asked)", st.Expires)
		}
		// Refresh: min(85%, g-30s) = 90s; it reuses the nonce with nc=2.
		time.Sleep(91 * time.Second)
		synctest.Wait()
		regs := reg.requests(siplib.REGISTER)
		if len(regs) != 3 {
			t.Fatalf("REGISTERs after refresh = %d, want 3 (challenge, auth, refresh)", len(regs))
		}
		for _, r := range regs {
			v := r.Via()
			if _, ok := v.Params.Get("rport"); !ok {
				t.Errorf("Via without rport: %s", v.Value())
			}
			if v.Host != "10.0.0.2" || v.Port != 5060 {
				t.Errorf("Via sent-by = %s:%d, want the mapping's 10.0.0.2:5060", v.Host, v.Port)
			}
			if c := r.Contact(); c == nil || c.Address.Host != "10.0.0.2" || c.Address.Port != 5060 {
				t.Errorf("Contact = %v", c)
			}
		}
		if got := rs.ncs; len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("nonce counts = %v, want [1 2]", got)
		}
		p.ua.Close()
		regs = reg.requests(siplib.REGISTER)
		last := regs[len(regs)-1]
		if e := last.GetHeader("Expires"); e == nil || e.Value() != "0" {
			t.Errorf("Close did not un-REGISTER: last REGISTER Expires = %v", e)
		}
		// Only the expected flows crossed the vnet: SIP 10.0.0.2:5060 <-> 10.0.0.1:5060.
		for f := range w.flows() {
			if f != "10.0.0.2:5060->10.0.0.1:5060" && f != "10.0.0.1:5060->10.0.0.2:5060" {
				t.Errorf("unexpected flow %s", f)
			}
		}
	})
}

// TestCallAudio: A calls B directly; B answers; each hears the other's
// tone; A hangs up and B sees the BYE.
func TestCallAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		an := w.host("10.0.0.2")
		bn := w.host("10.0.0.3")
		w.start()
		a := newPhone(t, an, func(c *Config) { c.Account.User = "a" })
		b := newPhone(t, bn, func(c *Config) { c.Account.User = "b" })
		ca, err := a.ua.Dial(context.Background(), "sip:b@10.0.0.3:5060")
		if err != nil {
			t.Fatal(err)
		}
		cb := b.waitIncoming(t)
		a.waitCall(t, ca, StateRinging)
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Error("A does not hear B's 1 kHz tone")
		}
		if !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("B does not hear A's 440 Hz tone")
		}
		if tone.Contains(tail(gotA, 0.5), 440, 8000) {
			t.Error("A hears its own tone")
		}
		if st := ca.Stats(); st.Codec != "PCMU" || st.RTP == nil || st.RTP.Received == 0 {
			t.Errorf("stats = %+v", st)
		}
		if err := ca.Hangup(); err != nil {
			t.Fatal(err)
		}
		ev := b.waitCall(t, cb, StateEnded)
		if ev.Reason != "remote hangup" {
			t.Errorf("B end reason = %q", ev.Reason)
		}
		<-ca.Done()
		synctest.Wait()
		if n := len(a.ua.Calls()) + len(b.ua.Calls()); n != 0 {
			t.Errorf("%d calls left", n)
		}
	})
}

var _ = net.IPv4len
var _ = strings.Contains
