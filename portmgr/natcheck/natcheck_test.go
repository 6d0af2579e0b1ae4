package natcheck_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/natcheck"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		kind      portmgrtest.NATKind
		typ       string
		mapping   natcheck.Behavior
		filtering natcheck.Behavior
	}{
		{portmgrtest.Open, "open", natcheck.EndpointIndependent, natcheck.EndpointIndependent},
		{portmgrtest.FullCone, "full-cone", natcheck.EndpointIndependent, natcheck.EndpointIndependent},
		{portmgrtest.RestrictedCone, "restricted-cone", natcheck.EndpointIndependent, natcheck.AddressDependent},
		{portmgrtest.PortRestrictedCone, "port-restricted-cone", natcheck.EndpointIndependent, natcheck.AddressAndPortDependent},
		{portmgrtest.Symmetric, "symmetric", natcheck.AddressAndPortDependent, natcheck.AddressAndPortDependent},
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, false)
				site := w.AddSite(c.kind, 0)
				w.Start()
				res, err := natcheck.Run(context.Background(), natcheck.Config{
					Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Type(); got != c.typ {
					t.Errorf("type %q, want %q", got, c.typ)
				}
				if res.Mapping != c.mapping || res.Filtering != c.filtering {
					t.Errorf("mapping %v filtering %v, want %v %v", res.Mapping, res.Filtering, c.mapping, c.filtering)
				}
				if res.Mapped.Addr() != site.Public {
					t.Errorf("mapped %v, want IP %v", res.Mapped, site.Public)
				}
				// vnet hairpins through the WAN router, so a packet from
				// the same LAN passes only an endpoint-independent filter.
				wantHairpin := c.kind == portmgrtest.Open || c.kind == portmgrtest.FullCone
				if res.Hairpinning != wantHairpin || res.ALG {
					t.Errorf("hairpin %v alg %v, want hairpin %v, no ALG", res.Hairpinning, res.ALG, wantHairpin)
				}
			})
		})
	}
}

func TestPlainServerUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		w.STUN.Plain = true
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		res, err := natcheck.Run(context.Background(), natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Type() != "unknown" || !res.NATed || res.Mapped.Addr() != site.Public {
			t.Errorf("got %+v type %s", res, res.Type())
		}
	})
}

func TestNoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		w.STUN.Silent.Store(true)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		start := time.Now()
		_, err := natcheck.Run(context.Background(), natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
		if err == nil {
			t.Fatal("no error from a silent server")
		}
		// RFC 8489 §6.2.1 with RTO 500 ms, Rc 7, Rm 16: 39.5 s.
		if d := time.Since(start); d != 39500*time.Millisecond {
			t.Errorf("gave up after %v, want 39.5s", d)
		}
		if n := w.STUN.Requests.Load(); n != 7 {
			t.Errorf("%d requests, want Rc=7", n)
		}
	})
}

func TestLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		lt, bounded, err := natcheck.Lifetime(context.Background(),
			natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if lt != 25*time.Second || !bounded {
			t.Errorf("lifetime %v bounded %v, want 25s (30 s NAT timer) bounded", lt, bounded)
		}
	})
}
