package resolve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var failZone = []string{
	`_sip._udp.fo.test. 60 IN SRV 10 0 5060 one.fo.test.`,
	`_sip._udp.fo.test. 60 IN SRV 20 0 5060 two.fo.test.`,
	`one.fo.test. 300 IN A 192.0.2.1`,
	`two.fo.test. 300 IN A 192.0.2.2`,
}

func pick(t *testing.T, s *Set) (string, bool) {
	t.Helper()
	tg, all, err := s.Pick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tg.Addr.String(), all
}

// TestSetFailover: a failed target is avoided for the hold and the next
// one used; with every target failed the one whose hold ends first is
// offered as such; after the hold the first comes back.
func TestSetFailover(t *testing.T) {
	srv := resolvetest.New(t, failZone...)
	r := newResolver(t, srv, func(c *Config) { c.Transports = []Transport{UDP} })
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	s := r.NewSet(Query{Host: "fo.test"}, SetConfig{Now: clk.Now, Hold: time.Minute})
	if got, all := pick(t, s); got != "192.0.2.1:5060" || all {
		t.Fatalf("first pick %s %v", got, all)
	}
	one, _, _ := s.Pick(context.Background())
	q := srv.Queries()
	s.Failed(one, 0)
	if got, all := pick(t, s); got != "192.0.2.2:5060" || all {
		t.Fatalf("after a failure: %s %v", got, all)
	}
	if srv.Queries() == q {
		t.Error("a failure did not make the set resolve again")
	}
	two, _, _ := s.Pick(context.Background())
	clk.add(10 * time.Second)
	s.Failed(two, 0)
	// Both avoided: one's hold ends first.
	if got, all := pick(t, s); got != "192.0.2.1:5060" || !all {
		t.Fatalf("all failed: %s %v", got, all)
	}
	st := s.State()
	if len(st.Targets) != 2 || st.Targets[0].AvoidUntil.IsZero() || st.Targets[1].AvoidUntil.IsZero() {
		t.Fatalf("state %+v", st)
	}
	// A Retry-After longer than the hold wins.
	s.Failed(two, 10*time.Minute)
	clk.add(time.Minute)
	if got, all := pick(t, s); got != "192.0.2.1:5060" || all {
		t.Fatalf("after one's hold: %s %v", got, all)
	}
	s.Failed(one, 0)
	if got, all := pick(t, s); got != "192.0.2.1:5060" || !all {
		t.Fatalf("two held by Retry-After: %s %v", got, all)
	}
	s.Succeeded(one)
	if got, all := pick(t, s); got != "192.0.2.1:5060" || all {
		t.Fatalf("after success: %s %v", got, all)
	}
	if a := s.Addrs(); len(a) != 2 {
		t.Errorf("addrs %v", a)
	}
}

// TestSetTTL: the answer is resolved again when its TTL runs out, and a
// failed re-resolution keeps the old targets.
func TestSetTTL(t *testing.T) {
	srv := resolvetest.New(t, failZone...)
	r := newResolver(t, srv, func(c *Config) { c.Transports = []Transport{UDP} })
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	s := r.NewSet(Query{Host: "fo.test"}, SetConfig{Now: clk.Now})
	pick(t, s)
	n := srv.Queries()
	clk.add(59 * time.Second)
	pick(t, s)
	if srv.Queries() != n {
		t.Fatal("resolved again before the TTL ran out")
	}
	// The zone moves: one is gone, three appears.
	srv.Remove("_sip._udp.fo.test", "SRV")
	srv.Add(t, `_sip._udp.fo.test. 60 IN SRV 10 0 5060 three.fo.test.`)
	srv.Add(t, `three.fo.test. 60 IN A 192.0.2.3`)
	clk.add(time.Second)
	if got, _ := pick(t, s); got != "192.0.2.3:5060" {
		t.Fatalf("after the TTL: %s", got)
	}
	// DNS goes down: the old answer stays in use.
	srv.SetDown(true)
	clk.add(61 * time.Second)
	if got, _ := pick(t, s); got != "192.0.2.3:5060" {
		t.Fatalf("DNS down: %s", got)
	}
	if st := s.State(); st.Err == "" {
		t.Error("state does not report the failed resolution")
	}
	n = srv.Queries()
	pick(t, s)
	if srv.Queries() != n {
		t.Error("a failed resolution was retried before RetryResolve")
	}
	// Nothing resolved yet and DNS down: Pick fails.
	s2 := r.NewSet(Query{Host: "fo.test"}, SetConfig{Now: clk.Now})
	if _, _, err := s2.Pick(context.Background()); err == nil {
		t.Fatal("Pick with DNS down and no answer succeeded")
	}
	srv.SetDown(false)
	if _, _, err := s2.Pick(context.Background()); err != nil {
		t.Fatalf("DNS back: %v", err)
	}
}

// TestSetStable: re-resolving keeps the target in use first among its
// equals, whatever the weighted draw says.
func TestSetStable(t *testing.T) {
	srv := resolvetest.New(t,
		`_sip._udp.eq.test. 60 IN SRV 10 50 5060 a.eq.test.`,
		`_sip._udp.eq.test. 60 IN SRV 10 50 5060 b.eq.test.`,
		`a.eq.test. 60 IN A 192.0.2.1`, `b.eq.test. 60 IN A 192.0.2.2`,
	)
	r := newResolver(t, srv, func(c *Config) { c.Transports = []Transport{UDP} })
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	s := r.NewSet(Query{Host: "eq.test"}, SetConfig{Now: clk.Now})
	r.rand = func(n int) int { return n - 1 } // b first
	first, _ := pick(t, s)
	var seen []string
	for i := range 6 {
		if i%2 == 0 {
			r.rand = func(int) int { return 0 }
		} else {
			r.rand = func(n int) int { return n - 1 }
		}
		clk.add(time.Minute)
		got, _ := pick(t, s)
		seen = append(seen, got)
	}
	for _, g := range seen {
		if g != first {
			t.Fatalf("moved between equal servers on re-resolution: first %s, then %v", first, seen)
		}
	}
}
