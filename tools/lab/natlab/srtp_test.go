package natlab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// SRTP with SDES keys against baresip's srtp module (issue 16). These
// need phoned's per-account config keys srtp and srtp_over_insecure
// (firmware/config; the lab signals over UDP, so the keys travel in the
// clear and the status must say so).

// callSecurity is calls[].srtp of phoned's status.
type callSecurity struct {
	Suite       string `json:"suite"`
	Keying      string `json:"keying"`
	Unprotected uint64 `json:"unprotected"`
	AuthFailed  uint64 `json:"auth_failed"`
	KeysInClear bool   `json:"keys_in_clear"`
}

// security returns the first call's srtp status, nil for a plain call.
func security(p *Phoned) (*callSecurity, error) {
	res, err := p.client.Get("http://127.0.0.1:8080/api/status")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var st struct {
		Calls []struct {
			SRTP *callSecurity `json:"srtp"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return nil, err
	}
	if len(st.Calls) == 0 {
		return nil, fmt.Errorf("no call in status")
	}
	return st.Calls[0].SRTP, nil
}

// srtpCalls: phoned (port-restricted NAT, srtp policy) calls baresip
// (mediaenc) and baresip calls phoned back; each call talks, both must
// hear each other, and the call's security in phoned's status must be
// what the policies make of it (secure: SDES with a suite and the
// keys-in-clear warning; else absent).
func (e *env) srtpCalls(t *testing.T, reg, policy, mediaenc string, secure bool) {
	name := shortName(t)
	e.callsRow(t, fmt.Sprintf("srtp %s phoned, baresip mediaenc=%q, both directions / %s", policy, mediaenc, kamName(reg)), func() (string, error) {
		_, p, b, err := e.phonedAndBaresip(t, name, reg, PhonedOptions{SRTP: policy}, BaresipOptions{MediaEnc: mediaenc})
		if err != nil {
			return "", err
		}
		var detail string
		check := func(dir string) error {
			sec, err := security(p)
			if err != nil {
				return fmt.Errorf("%s: status: %w", dir, err)
			}
			switch {
			case secure && (sec == nil || sec.Suite == "" || sec.Keying != "sdes" || !sec.KeysInClear):
				return fmt.Errorf("%s: call not shown as SRTP over insecure signalling: %+v", dir, sec)
			// baresip 1.0 sends one RTCP APP ("PING") in the clear at
			// the start of every call (docs/srtp.md): one packet that
			// fails authentication is baresip's, more are ours.
			case secure && (sec.Unprotected == 0 || sec.AuthFailed > 1):
				return fmt.Errorf("%s: SRTP packets: %+v", dir, sec)
			case !secure && sec != nil:
				return fmt.Errorf("%s: plain call shown as SRTP: %+v", dir, sec)
			}
			if sec != nil {
				detail += fmt.Sprintf("%s: %s; ", dir, sec.Suite)
			}
			return nil
		}
		if err := talkBothWays(p, b, reg, check); err != nil {
			return detail, err
		}
		p.Proc.Stop()
		b.Close()
		d, err := hears(heardCheck{"phoned", p.WAV, toneB}, heardCheck{"B", b.Recording(), toneP})
		return detail + d, err
	})
}

// srtpRefused: phoned with srtp required and a baresip without SRTP
// cannot talk: phoned's RTP/SAVP offer is refused, and baresip's plain
// offer gets 488 from phoned before it rings.
func (e *env) srtpRefused(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "srtp required phoned vs plain baresip: refused both ways / "+kamName(reg), func() (string, error) {
		s := e.site(t, PortRestricted)
		p, err := s.StartPhoned(name+"-p", PhonedOptions{Binary: e.phoned, User: e.user(), Registrar: reg, ToneHz: toneP, NAT: e.natYAML(), SRTP: "required"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Proc.Stop)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), reg, toneB)
		if err := registered(p, 1, b); err != nil {
			return "", err
		}
		ctx := context.Background()
		if err := p.Post("/api/call", map[string]any{"to": b.User}); err != nil {
			return "", err
		}
		time.Sleep(3 * time.Second)
		if b.WaitEvents(0, 1, "CALL_ESTABLISHED") {
			return "", fmt.Errorf("plain baresip took phoned's RTP/SAVP call")
		}
		_ = p.Post("/api/hangup", nil)
		if _, ok := p.WaitFor(ctx, 5*time.Second, PhoneState("idle")); !ok {
			return "", fmt.Errorf("phone not idle after the refused call")
		}
		_, closed := b.LastEvent("CALL_CLOSED") // baresip's end of the refused call above
		if err := b.Dial("sip:" + p.User + "@" + reg); err != nil {
			return "", err
		}
		ok := b.WaitEvents(8*time.Second, closed+1, "CALL_CLOSED")
		ev, _ := b.LastEvent("CALL_CLOSED")
		if !ok || !strings.Contains(ev.Param, "488") {
			return "", fmt.Errorf("baresip's plain call not refused with 488: %+v %v", ev, b.Events())
		}
		if st, _ := p.Status(); st != nil && st.Phone.State != "idle" {
			return "", fmt.Errorf("phone %s after refusing a plain call", st.Phone.State)
		}
		return "488 " + ev.Param, nil
	})
}

// talkBothWays has phoned call baresip (which answers by itself), talk,
// check("out") and hang up; then baresip calls phoned, which answers,
// talk and check("in"). The callers then stop both and compare what each
// heard.
func talkBothWays(p *Phoned, b *Baresip, reg string, check func(dir string) error) error {
	ctx := context.Background()
	if err := p.Post("/api/call", map[string]any{"to": b.User}); err != nil {
		return err
	}
	if !b.WaitEvents(8*time.Second, 1, "CALL_ESTABLISHED") {
		return fmt.Errorf("phoned's call not established: %v", b.Events())
	}
	time.Sleep(callsTalk)
	if err := check("out"); err != nil {
		return err
	}
	if err := p.Post("/api/hangup", nil); err != nil {
		return err
	}
	if _, ok := p.WaitFor(ctx, 5*time.Second, PhoneState("idle")); !ok {
		return fmt.Errorf("phone not idle after the first call")
	}
	if err := b.Dial("sip:" + p.User + "@" + reg); err != nil {
		return err
	}
	if _, ok := p.WaitFor(ctx, 6*time.Second, PhoneState("ringing")); !ok {
		return fmt.Errorf("phoned never rang: %v", b.Events())
	}
	if err := p.Post("/api/answer", nil); err != nil {
		return err
	}
	if !b.WaitEvents(8*time.Second, 2, "CALL_ESTABLISHED") {
		return fmt.Errorf("baresip's call not established: %v", b.Events())
	}
	time.Sleep(callsTalk)
	return check("in")
}

// phonedAndBaresip starts phoned behind a port-restricted NAT and
// baresip on no NAT, each as its own user on reg, and waits until both
// are registered. po and bo need only what the cell sets itself: the
// user, the registrar, phoned's NAT section, and the binary and tones
// when left empty, are filled in. A process that does not start ends the
// test; the error is the registration's.
func (e *env) phonedAndBaresip(t *testing.T, name, reg string, po PhonedOptions, bo BaresipOptions) (*Site, *Phoned, *Baresip, error) {
	t.Helper()
	s := e.site(t, PortRestricted)
	po.User, po.Registrar, po.NAT = e.user(), reg, e.natYAML()
	if po.Binary == "" {
		po.Binary = e.phoned
	}
	if po.ToneHz == 0 {
		po.ToneHz = toneP
	}
	p, err := s.StartPhoned(name+"-p", po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Proc.Stop)
	bo.User, bo.Registrar = e.user(), reg
	if bo.ToneHz == 0 {
		bo.ToneHz = toneB
	}
	b, err := e.site(t, NoNAT).StartBaresip(name+"-b", bo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return s, p, b, registered(p, 1, b)
}
