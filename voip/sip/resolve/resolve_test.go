package resolve

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
)

// zone is example.com with NAPTR records preferring TCP, SRV records of
// two priorities and their addresses.
var zone = []string{
	`example.com. 300 IN NAPTR 10 20 "s" "SIP+D2U" "" _sip._udp.example.com.`,
	`example.com. 300 IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp.example.com.`,
	`example.com. 300 IN NAPTR 20 10 "s" "SIPS+D2T" "" _sips._tcp.example.com.`,
	`example.com. 300 IN NAPTR 5 10 "s" "SIP+D2S" "" _sip._sctp.example.com.`,
	`_sip._udp.example.com. 120 IN SRV 10 50 5060 pbx1.example.com.`,
	`_sip._udp.example.com. 120 IN SRV 20 0 5062 pbx2.example.com.`,
	`_sip._tcp.example.com. 120 IN SRV 10 0 5070 pbx1.example.com.`,
	`_sips._tcp.example.com. 120 IN SRV 10 0 5071 pbx1.example.com.`,
	`_sip._sctp.example.com. 120 IN SRV 10 0 5080 pbx1.example.com.`,
	`pbx1.example.com. 60 IN A 192.0.2.1`,
	`pbx1.example.com. 60 IN AAAA 2001:db8::1`,
	`pbx2.example.com. 60 IN A 192.0.2.2`,
	`srvonly.test. 60 IN A 192.0.2.99`,
	`_sip._udp.srvonly.test. 30 IN SRV 10 0 5060 pbx2.example.com.`,
	`_sip._tcp.srvonly.test. 30 IN SRV 10 0 5070 pbx1.example.com.`,
	`plain.test. 45 IN A 192.0.2.7`,
	`plain.test. 45 IN A 192.0.2.8`,
	`alias.test. 45 IN CNAME plain.test.`,
}

func newResolver(t *testing.T, s *resolvetest.Server, mut func(*Config)) *Resolver {
	t.Helper()
	cfg := Config{Servers: []string{s.Addr()}, Timeout: 500 * time.Millisecond}
	if mut != nil {
		mut(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.rand = func(int) int { return 0 }
	return r
}

func addrs(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t.Transport)+" "+t.Addr.String())
	}
	return out
}

func TestResolveNAPTR(t *testing.T) {
	s := resolvetest.New(t, zone...)
	r := newResolver(t, s, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// NAPTR order 10 before 20, preference 10 (TCP) before 20 (UDP);
	// SCTP ignored; within UDP's SRV priority 10 before 20.
	want := []string{"tcp 192.0.2.1:5070", "udp 192.0.2.1:5060", "udp 192.0.2.2:5062", "tls 192.0.2.1:5071"}
	if got := addrs(res.Targets); !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
	if res.TTL != 60*time.Second {
		t.Errorf("TTL %v, want the smallest record's 60s", res.TTL)
	}
	if res.Targets[0].Name != "pbx1.example.com" {
		t.Errorf("name %q", res.Targets[0].Name)
	}
}

func TestResolveForcedTransport(t *testing.T) {
	s := resolvetest.New(t, zone...)
	r := newResolver(t, s, nil)
	for _, tc := range []struct {
		q    Query
		want []string
	}{
		{Query{Host: "example.com", Transport: UDP}, []string{"udp 192.0.2.1:5060", "udp 192.0.2.2:5062"}},
		{Query{Host: "example.com", Secure: true}, []string{"tls 192.0.2.1:5071"}},
		{Query{Host: "srvonly.test"}, []string{"udp 192.0.2.2:5060", "tcp 192.0.2.1:5070"}},
		{Query{Host: "srvonly.test", Transport: TCP}, []string{"tcp 192.0.2.1:5070"}},
		// No SRV for TLS: the host's own address at 5061.
		{Query{Host: "srvonly.test", Transport: TLS}, []string{"tls 192.0.2.99:5061"}},
		{Query{Host: "plain.test"}, []string{"udp 192.0.2.7:5060", "udp 192.0.2.8:5060"}},
		{Query{Host: "alias.test", Transport: TCP}, []string{"tcp 192.0.2.7:5060", "tcp 192.0.2.8:5060"}},
	} {
		res, err := r.Resolve(context.Background(), tc.q)
		if err != nil {
			t.Errorf("%v: %v", tc.q, err)
			continue
		}
		if got := addrs(res.Targets); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestResolveSkipsNAPTR: an IP literal asks nothing; an explicit port
// asks only for addresses (RFC 3263 §4.2).
func TestResolveSkipsNAPTR(t *testing.T) {
	s := resolvetest.New(t, zone...)
	r := newResolver(t, s, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "192.0.2.50"})
	if err != nil || !slices.Equal(addrs(res.Targets), []string{"udp 192.0.2.50:5060"}) || res.TTL != 0 {
		t.Fatalf("literal: %v %v", res, err)
	}
	res, err = r.Resolve(context.Background(), Query{Host: "192.0.2.50", Port: 5080, Secure: true})
	if err != nil || !slices.Equal(addrs(res.Targets), []string{"tls 192.0.2.50:5080"}) {
		t.Fatalf("sips literal: %v %v", res, err)
	}
	if n := s.Queries(); n != 0 {
		t.Fatalf("an IP literal made %d queries", n)
	}
	// example.com has NAPTR and SRV but no A record: with an explicit
	// port only the A query is made, and finds nothing.
	if _, err := r.Resolve(context.Background(), Query{Host: "example.com", Port: 5099}); !errors.Is(err, ErrNotFound) || s.Queries() != 1 {
		t.Fatalf("explicit port: %v, %d queries (want ErrNotFound after only the A query)", err, s.Queries())
	}
}

func TestResolveExplicitPortUsesA(t *testing.T) {
	s := resolvetest.New(t, zone...)
	r := newResolver(t, s, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "srvonly.test", Port: 5099})
	if err != nil || !slices.Equal(addrs(res.Targets), []string{"udp 192.0.2.99:5099"}) {
		t.Fatalf("%v %v", res, err)
	}
	if n := s.Queries(); n != 1 {
		t.Errorf("%d queries, want 1 (A only)", n)
	}
}

func TestResolveErrors(t *testing.T) {
	s := resolvetest.New(t, zone...)
	r := newResolver(t, s, nil)
	ctx := context.Background()
	if _, err := r.Resolve(ctx, Query{Host: "nothing.test"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}
	for _, q := range []Query{{}, {Host: "bad name.test"}, {Host: "a.test", Port: 70000}, {Host: "a.test", Secure: true, Transport: UDP}} {
		if _, err := r.Resolve(ctx, q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", q, err)
		}
	}
	if _, err := r.Resolve(ctx, Query{Host: "2001:db8::5"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("IPv6 literal without IPv6: %v", err)
	}
	s.SetDown(true)
	_, err := r.Resolve(ctx, Query{Host: "example.com"})
	if err == nil || !strings.Contains(err.Error(), "example.com") {
		t.Errorf("server down: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("server down: %v, want a timeout", err)
	}
}

func TestResolveTruncatedRetriesTCP(t *testing.T) {
	s := resolvetest.New(t, zone...)
	s.SetTruncate(true)
	r := newResolver(t, s, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "plain.test"})
	if err != nil || len(res.Targets) != 2 {
		t.Fatalf("%v %v", res, err)
	}
}

func TestResolveIPv6Order(t *testing.T) {
	s := resolvetest.New(t, zone...)
	s.Add(t, "pbx1.example.com. 60 IN A 192.0.2.3")
	r := newResolver(t, s, func(c *Config) { c.IPv6 = true })
	res, err := r.Resolve(context.Background(), Query{Host: "example.com", Transport: TCP})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp [2001:db8::1]:5070", "tcp 192.0.2.1:5070", "tcp 192.0.2.3:5070"}
	if got := addrs(res.Targets); !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	res, err = r.Resolve(context.Background(), Query{Host: "[2001:db8::9]"})
	if err != nil || !slices.Equal(addrs(res.Targets), []string{"udp [2001:db8::9]:5060"}) {
		t.Errorf("v6 literal: %v %v", res, err)
	}
}

// TestSRVWeights: within a priority, the RFC 2782 draw picks by running
// sum of weights; zero weights sort first.
func TestSRVWeights(t *testing.T) {
	s := resolvetest.New(t,
		`_sip._udp.w.test. 60 IN SRV 1 0 5060 z.w.test.`,
		`_sip._udp.w.test. 60 IN SRV 1 10 5060 a.w.test.`,
		`_sip._udp.w.test. 60 IN SRV 1 30 5060 b.w.test.`,
		`_sip._udp.w.test. 60 IN SRV 0 5 5060 first.w.test.`,
		`z.w.test. 60 IN A 192.0.2.10`, `a.w.test. 60 IN A 192.0.2.11`,
		`b.w.test. 60 IN A 192.0.2.12`, `first.w.test. 60 IN A 192.0.2.9`,
	)
	r := newResolver(t, s, func(c *Config) { c.Transports = []Transport{UDP} })
	for _, tc := range []struct {
		draw []int
		want []string
	}{
		// sum 40: draw 0 hits z (running 0), then sum 40 draw 40 -> b, then a.
		{[]int{0, 0, 40, 0}, []string{"192.0.2.9", "192.0.2.10", "192.0.2.12", "192.0.2.11"}},
		// draw 5 -> a (running 10), then b, then z.
		{[]int{0, 5, 0, 0}, []string{"192.0.2.9", "192.0.2.11", "192.0.2.10", "192.0.2.12"}},
	} {
		i := 0
		r.rand = func(n int) int { v := min(tc.draw[i], n-1); i++; return v }
		res, err := r.Resolve(context.Background(), Query{Host: "w.test"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, t := range res.Targets {
			got = append(got, t.Addr.Addr().String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("draw %v: %v, want %v", tc.draw, got, tc.want)
		}
	}
}

func TestResolvConfFallback(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(rc, []byte("# no nameserver yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	offline := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("offline")
	}}
	r, err := New(Config{ResolvConf: rc, Fallback: offline})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(context.Background(), Query{Host: "pbx.test"}); !errors.Is(err, ErrNoServer) {
		t.Errorf("no nameserver: %v, want ErrNoServer", err)
	}
	// A name in the hosts file still resolves through the fallback.
	res, err := r.Resolve(context.Background(), Query{Host: "localhost"})
	if err != nil || len(res.Targets) == 0 || !res.Targets[0].Addr.Addr().IsLoopback() || res.TTL != fallbackTTL {
		t.Errorf("localhost: %v %v", res, err)
	}
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353",
		"2001:db8::1": "[2001:db8::1]:53", "[2001:db8::1]:54": "[2001:db8::1]:54", "[2001:db8::1]": "[2001:db8::1]:53",
	} {
		if got, err := ParseServer(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "dns.example", "192.0.2.1:0", "192.0.2.1:x", "fe80::1%eth0"} {
		if _, err := ParseServer(in); !errors.Is(err, ErrBadServer) {
			t.Errorf("%q: %v, want ErrBadServer", in, err)
		}
	}
	if _, err := New(Config{Servers: []string{"nope"}}); !errors.Is(err, ErrBadServer) {
		t.Errorf("New with a bad server: %v", err)
	}
}

// TestResolveAdditional: addresses in the SRV answer's additional
// section are used without asking for them.
func TestResolveAdditional(t *testing.T) {
	s := resolvetest.New(t, zone...)
	s.SetAdditional(true)
	r := newResolver(t, s, func(c *Config) { c.Transports = []Transport{UDP} })
	res, err := r.Resolve(context.Background(), Query{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := addrs(res.Targets), []string{"udp 192.0.2.1:5060", "udp 192.0.2.2:5062"}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if n := s.Queries(); n != 2 {
		t.Errorf("%d queries, want NAPTR and SRV only", n)
	}
}

// TestResolveTTLFloor: a TTL of 0 is held for the 5 s floor, so a
// zone with TTL 0 does not make every request resolve again.
func TestResolveTTLFloor(t *testing.T) {
	s := resolvetest.New(t, `zero.test. 0 IN A 192.0.2.1`)
	r := newResolver(t, s, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "zero.test"})
	if err != nil || res.TTL != minTTL {
		t.Fatalf("%v %v", res, err)
	}
}
