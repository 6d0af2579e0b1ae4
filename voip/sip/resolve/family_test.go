package resolve

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
)

// TestSetPrefersIPv6PassesOverUnusable: a name with AAAA and A records
// gives IPv6 first (RFC 8305 §4); when the phone has no IPv6 (Usable
// refuses it) Pick gives the IPv4 target at once; when IPv6 works but
// its target fails, Pick moves to IPv4; when no target is usable Pick
// still answers (the first, so the caller's error says why).
func TestSetPrefersIPv6PassesOverUnusable(t *testing.T) {
	srv := resolvetest.New(t,
		"ds.test. 300 IN AAAA 2001:db8::5",
		"ds.test. 300 IN A 192.0.2.5",
	)
	r := newResolver(t, srv, func(c *Config) { c.IPv6 = true; c.Transports = []Transport{UDP} })
	var v6ok, v4ok atomic.Bool
	v6ok.Store(true)
	v4ok.Store(true)
	usable := func(ip netip.Addr) bool {
		if ip.Is4() {
			return v4ok.Load()
		}
		return v6ok.Load()
	}
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	s := r.NewSet(Query{Host: "ds.test", Port: 5060}, SetConfig{Now: clk.Now, Hold: time.Minute, Usable: usable})
	if got, all := pick(t, s); got != "[2001:db8::5]:5060" || all {
		t.Fatalf("first pick %s %v: want IPv6", got, all)
	}
	v6ok.Store(false)
	if got, all := pick(t, s); got != "192.0.2.5:5060" || all {
		t.Fatalf("without IPv6: %s %v", got, all)
	}
	v6ok.Store(true)
	six, _, _ := s.Pick(context.Background())
	s.Failed(six, 0)
	if got, all := pick(t, s); got != "192.0.2.5:5060" || all {
		t.Fatalf("IPv6 target failed: %s %v", got, all)
	}
	clk.add(2 * time.Minute)
	v6ok.Store(false)
	v4ok.Store(false)
	if got, all := pick(t, s); got != "[2001:db8::5]:5060" || all {
		t.Fatalf("nothing usable: %s %v", got, all)
	}
}

// TestAAAAFailureKeepsA: a server that answers AAAA queries with
// SERVFAIL (or drops them) does not hide the name's A records; a name
// whose AAAA and A both fail still fails.
func TestAAAAFailureKeepsA(t *testing.T) {
	srv := resolvetest.New(t, "ds.test. 300 IN AAAA 2001:db8::5", "ds.test. 300 IN A 192.0.2.5")
	r := newResolver(t, srv, func(c *Config) { c.IPv6 = true; c.Transports = []Transport{UDP} })
	srv.SetServFail("AAAA")
	res, err := r.Resolve(context.Background(), Query{Host: "ds.test", Port: 5060})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(res.Targets); len(got) != 1 || got[0] != "udp 192.0.2.5:5060" {
		t.Errorf("targets %v, want the A record only", got)
	}
	srv.SetServFail("A")
	srv.Remove("ds.test", "AAAA")
	if _, err := r.Resolve(context.Background(), Query{Host: "ds.test", Port: 5060}); err == nil {
		t.Error("A failing: resolved anyway")
	}
}
