package sip

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/voip/sdp"
)

// suites sets a line's SRTP policy, keying and suite list.
func suites(p sdp.Policy, k sdp.Keying, list ...string) func(*Config) {
	return func(c *Config) {
		c.SRTP, c.SRTPKeying, c.SRTPOverInsecure, c.SRTPSuites = p, k, true, list
	}
}

// offeredSuites are the suites of our offer's a=crypto lines, in order.
func offeredSuites(c *Call) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if c.localSDP == nil {
		return nil
	}
	cs, _ := c.localSDP.Media[0].Cryptos()
	for _, k := range cs {
		out = append(out, k.Suite)
	}
	return out
}

// TestSRTPSuiteLists: each line's SRTPSuites decide its offer (only the
// listed suites, in order) and the suite its answer takes (the first of
// the offer's that it lists), for SDES and for DTLS-SRTP profiles; with
// none in common a required line refuses the call (488, or a failed
// handshake ends it) and an optional one talks plain.
func TestSRTPSuiteLists(t *testing.T) {
	const (
		gcm  = sdp.SuiteAEADAES128GCM
		s80  = sdp.SuiteAES128CMSHA1_80
		s32  = sdp.SuiteAES128CMSHA1_32
		req  = sdp.SRTPRequired
		opt  = sdp.SRTPOptional
		sdes = sdp.KeyingSDES
		dtls = sdp.KeyingDTLS
	)
	for _, tc := range []struct {
		name    string
		a, b    func(*Config)
		offered []string // alice's a=crypto suites; nil: not checked
		code    int      // alice's call ends with this (-1: after the answer)
		suite   string   // negotiated; "" plain
	}{
		{"sdes 32 only", suites(req, sdes, s32), suites(req, sdes), []string{s32}, 0, s32},
		{"sdes offerer order wins", suites(req, sdes, s32, s80), suites(req, sdes, s80, s32), []string{s32, s80}, 0, s32},
		{"sdes answerer takes the first it lists", suites(req, sdes), suites(req, sdes, s80), []string{gcm, s80, s32}, 0, s80},
		{"sdes none in common required", suites(req, sdes, gcm), suites(req, sdes, s80, s32), nil, 488, ""},
		{"sdes none in common optional", suites(opt, sdes, gcm), suites(opt, sdes, s32), nil, 0, ""},
		{"dtls 32 only", suites(req, dtls, s32), suites(req, dtls), nil, 0, s32},
		{"dtls 80 over gcm", suites(req, dtls, s80, gcm), suites(req, dtls, s80), nil, 0, s80},
		{"dtls none in common", suites(req, dtls, gcm), suites(req, dtls, s80), nil, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, a, b := pair(t, tc.a, tc.b)
				ca := dial(t, a)
				if tc.code > 0 {
					if ev := a.waitCall(t, ca, StateEnded); ev.Code != tc.code {
						t.Fatalf("ended %d %q, want %d", ev.Code, ev.Reason, tc.code)
					}
					return
				}
				cb := b.waitIncoming(t)
				if tc.offered != nil && !slices.Equal(offeredSuites(ca), tc.offered) {
					t.Fatalf("offered %v, want %v", offeredSuites(ca), tc.offered)
				}
				if err := cb.Answer(); err != nil {
					t.Fatal(err)
				}
				if tc.code < 0 {
					ev := a.waitCall(t, ca, StateEnded)
					b.waitCall(t, cb, StateEnded)
					if !strings.HasPrefix(ev.Reason, "SRTP refused") && !strings.HasPrefix(cb.EndReason(), "SRTP refused") {
						t.Fatalf("ended %q / %q, want SRTP refused", ev.Reason, cb.EndReason())
					}
					return
				}
				a.waitCall(t, ca, StateTalking)
				gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
				if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
					t.Fatal("no audio both ways")
				}
				for who, c := range map[string]*Call{"alice": ca, "bob": cb} {
					sec := c.Stats().SRTP
					if tc.suite == "" && sec != nil || tc.suite != "" && (sec == nil || sec.Suite != tc.suite) {
						t.Fatalf("%s's security %+v, want %q", who, sec, tc.suite)
					}
				}
				ca.Hangup()
				b.waitCall(t, cb, StateEnded)
			})
		})
	}
}

// TestSRTPSuitesConfig: an unknown or repeated suite is a bad Config.
func TestSRTPSuitesConfig(t *testing.T) {
	for _, list := range [][]string{{"AES_256_CM_HMAC_SHA1_80"}, {sdp.SuiteAES128CMSHA1_80, sdp.SuiteAES128CMSHA1_80}} {
		c := Config{Mapper: &countMapper{}, SRTP: sdp.SRTPRequired, SRTPOverInsecure: true, SRTPSuites: list}
		if err := c.setDefaults(); err == nil {
			t.Errorf("%v accepted", list)
		}
	}
	c := Config{Mapper: &countMapper{}}
	if err := c.setDefaults(); err != nil || !slices.Equal(c.SRTPSuites, sdp.Suites) {
		t.Fatalf("default suites %v %v", c.SRTPSuites, err)
	}
}
