package resolve

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// FuzzResolveAnswer feeds arbitrary DNS answers (the same bytes for every
// query) through NAPTR, SRV and address processing: no panic, a bounded
// target list, and only usable addresses with a port.
func FuzzResolveAnswer(f *testing.F) {
	seed := func(rrs ...string) {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeNAPTR)
		m.Response = true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "example.com", uint8(0))
	}
	seed(`example.com. 60 IN NAPTR 10 10 "s" "SIP+D2U" "" example.com.`,
		`example.com. 60 IN SRV 1 1 5060 example.com.`, `example.com. 60 IN A 192.0.2.1`)
	seed(`example.com. 60 IN SRV 0 0 0 .`, `example.com. 60 IN AAAA 2001:db8::1`)
	seed(`example.com. 60 IN CNAME example.com.`)
	f.Fuzz(func(t *testing.T, answer []byte, host string, flags uint8) {
		r, err := New(Config{Servers: []string{"192.0.2.53"}, IPv6: flags&1 != 0})
		if err != nil {
			t.Fatal(err)
		}
		r.exchange = func(_ context.Context, name string, qtype uint16) (*message, error) {
			m, err := parseMessage(answer)
			if err != nil {
				return nil, err
			}
			// Every owner name is the question's, so records match.
			for i := range m.Answer {
				m.Answer[i].Name = name
			}
			for i := range m.Extra {
				m.Extra[i].Name = name
			}
			return m, nil
		}
		q := Query{Host: host, Secure: flags&2 != 0}
		if flags&4 != 0 {
			q.Transport = TCP
		}
		res, err := r.Resolve(context.Background(), q)
		if err != nil {
			return
		}
		if len(res.Targets) > maxTargets {
			t.Fatalf("%d targets", len(res.Targets))
		}
		for _, tg := range res.Targets {
			if !tg.Addr.IsValid() || tg.Addr.Port() == 0 || !usable(tg.Addr.Addr()) {
				t.Fatalf("bad target %v", tg)
			}
			if tg.Addr.Addr().Is6() && flags&1 == 0 {
				t.Fatalf("IPv6 target %v with IPv6 off", tg)
			}
			if q.Secure && tg.Transport != TLS {
				t.Fatalf("sips query gave %v", tg)
			}
		}
	})
}

// FuzzParseServer: any string is an address or ErrBadServer, and a
// parsed one parses again to itself.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53", "2001:db8::1", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := ParseServer(s)
		if err != nil {
			return
		}
		again, err := ParseServer(hp)
		if err != nil || again != hp {
			t.Fatalf("%q -> %q -> %q %v", s, hp, again, err)
		}
	})
}
