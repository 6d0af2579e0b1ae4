package provision

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// With ChangeNotified and no server, nothing runs after the first check
// (an idle phone is not woken every NoServerPoll) until ServerChanged;
// a ServerChanged that changes nothing starts no check.
func TestNotifiedNoServerWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked atomic.Int32
		url := ""
		p, err := New(Config{Store: newMemStore(), MAC: testMAC, BootJitter: time.Second, ChangeNotified: true,
			DHCP: func() string { asked.Add(1); return url },
			Rand: func(int64) int64 { return 0 }})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Start()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := asked.Load(); n != 1 || p.Status().State != StateOff {
			t.Fatalf("first check: asked %d, %+v", n, p.Status())
		}
		if s := p.Status(); !s.NextCheck.IsZero() {
			t.Fatalf("next check %v, want none", s.NextCheck)
		}
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if n := asked.Load(); n != 1 {
			t.Fatalf("looked again %d times in a day without a change", n-1)
		}
		p.ServerChanged() // still none: looked at, not checked
		synctest.Wait()
		if n := asked.Load(); n != 2 || p.Status().State != StateOff {
			t.Fatalf("after a ServerChanged with no server: asked %d, %+v", n, p.Status())
		}
		url = "http://127.0.0.1:1/p" // refused at once: the check fails
		p.ServerChanged()
		synctest.Wait()
		if s := p.Status(); s.URL != url || s.State != StateError {
			t.Fatalf("a new server was not checked at once: %+v", s)
		}
	})
}

// With ChangeNotified and a server, a URL changed in the store is
// checked when ServerChanged says so, and not found by a poll.
func TestNotifiedServerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		c := st.cur.Clone()
		c.Provision.URL = "http://127.0.0.1:1/a"
		st.cur = c
		p, err := New(Config{Store: st, MAC: testMAC, BootJitter: time.Second, ChangeNotified: true,
			Rand: func(int64) int64 { return 0 }})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Start()
		time.Sleep(time.Second)
		synctest.Wait()
		if s := p.Status(); s.URL != "http://127.0.0.1:1/a" {
			t.Fatalf("first check: %+v", s)
		}
		st.mu.Lock()
		c = st.cur.Clone()
		c.Provision.URL = "http://127.0.0.1:1/b"
		st.cur = c
		st.mu.Unlock()
		time.Sleep(NoServerPoll + time.Second)
		synctest.Wait()
		if s := p.Status(); s.URL != "http://127.0.0.1:1/a" {
			t.Fatalf("polled for the URL although notified: %+v", s)
		}
		p.ServerChanged()
		synctest.Wait()
		if s := p.Status(); s.URL != "http://127.0.0.1:1/b" {
			t.Fatalf("the new URL was not checked at once: %+v", s)
		}
	})
}
