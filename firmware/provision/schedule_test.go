package provision

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The loop's timers: the first check after the boot jitter, then, with
// no server, every NoServerPoll (give or take a tenth); Kick checks at
// once; Close stops the goroutine (synctest fails on a leak).
func TestScheduleBootJitterAndPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked atomic.Int32
		p, err := New(Config{Store: newMemStore(), MAC: testMAC, BootJitter: 30 * time.Second,
			DHCP: func() string { asked.Add(1); return "" },
			Rand: func(n int64) int64 { return n - 1 }}) // the latest moment allowed
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Start()
		time.Sleep(30*time.Second - time.Millisecond)
		synctest.Wait()
		if asked.Load() != 0 {
			t.Fatal("checked before the boot jitter ran out")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if asked.Load() != 1 || p.Status().State != StateOff {
			t.Fatalf("asked %d, status %+v", asked.Load(), p.Status())
		}
		// Next: NoServerPoll + a tenth of it (Rand at its top).
		time.Sleep(NoServerPoll + NoServerPoll/10 - time.Millisecond)
		synctest.Wait()
		if asked.Load() != 1 {
			t.Fatalf("polled early: %d", asked.Load())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if asked.Load() != 2 {
			t.Fatalf("did not poll: %d", asked.Load())
		}
		p.Kick()
		synctest.Wait()
		if asked.Load() != 3 {
			t.Fatalf("Kick did not check: %d", asked.Load())
		}
		p.Close()
		p.Close()
	})
}

// A new server URL (provision.url set on the web page, a new lease) is
// used within NoServerPoll, not at the end of a day's interval.
func TestScheduleServerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		c := st.cur.Clone()
		c.Provision.URL = "http://127.0.0.1:1/a" // refused at once: the check fails, retried in a minute
		st.cur = c
		p, err := New(Config{Store: st, MAC: testMAC, BootJitter: time.Second, Rand: func(int64) int64 { return 0 }})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Start()
		time.Sleep(time.Second)
		synctest.Wait()
		if s := p.Status(); s.State != StateError || s.URL != "http://127.0.0.1:1/a" {
			t.Fatalf("first check: %+v", s)
		}
		st.mu.Lock()
		c = st.cur.Clone()
		c.Provision.URL = "http://127.0.0.1:1/b"
		st.cur = c
		st.mu.Unlock()
		time.Sleep(NoServerPoll)
		synctest.Wait()
		if s := p.Status(); s.URL != "http://127.0.0.1:1/b" {
			t.Fatalf("the new URL was not checked within %s: %+v", NoServerPoll, s)
		}
	})
}

func TestSpreadBounds(t *testing.T) {
	lo := &Provisioner{cfg: Config{Rand: func(int64) int64 { return 0 }}}
	hi := &Provisioner{cfg: Config{Rand: func(n int64) int64 { return n - 1 }}}
	for _, tc := range []struct{ d, min, max time.Duration }{
		{24 * time.Hour, 23 * time.Hour, 25 * time.Hour},
		{time.Hour, 54 * time.Minute, 66 * time.Minute},
		{720 * time.Hour, 719 * time.Hour, 721 * time.Hour},
	} {
		if got := lo.spread(tc.d); got != tc.min {
			t.Errorf("spread(%s) low = %s, want %s", tc.d, got, tc.min)
		}
		if got := hi.spread(tc.d); got >= tc.max || got < tc.max-time.Nanosecond {
			t.Errorf("spread(%s) high = %s, want just under %s", tc.d, got, tc.max)
		}
	}
}

// 10,000 phones that boot in the same second (power back after a cut)
// ask over the whole boot window: with the default 30 s, about 333 a
// second, the busiest second well under twice that. (Seeded, so the
// figure is the same every run.)
func TestFleetBootSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := &Provisioner{cfg: Config{Rand: r.Int64N}}
	var perSecond [30]int
	for range 10000 {
		perSecond[p.jitter(DefaultBootJitter)/time.Second]++
	}
	busiest := 0
	for _, n := range perSecond {
		busiest = max(busiest, n)
	}
	t.Logf("10000 phones, boot jitter %s: busiest second %d requests (mean %d)", DefaultBootJitter, busiest, 10000/30)
	if busiest > 450 {
		t.Errorf("busiest second has %d requests", busiest)
	}
}
