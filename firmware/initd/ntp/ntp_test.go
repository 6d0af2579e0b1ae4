package ntp

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// ntpFake is an SNTP server behind injected connections: its clock is
// the local clock plus skew, each way takes oneWay, and it can drop
// requests, send a stray packet first, kiss, or claim to be
// unsynchronised. It counts requests per server address.
type ntpFake struct {
	skew, oneWay time.Duration
	drop         int
	stray        bool
	kiss         map[string]bool
	unsync       bool
	mu           sync.Mutex
	requests     map[string]int
}

func (f *ntpFake) dial(_ context.Context, addr string) (net.Conn, error) {
	return &ntpConn{f: f, addr: addr, in: make(chan []byte, 4), dl: make(chan struct{})}, nil
}

type ntpConn struct {
	net.Conn // not used: the methods below are what the client calls
	f        *ntpFake
	addr     string
	in       chan []byte
	dl       chan struct{}
	dlOnce   sync.Once
}

func (c *ntpConn) Write(b []byte) (int, error) {
	req, err := Parse(b)
	if err != nil || req.Mode != ntpModeClient {
		return 0, errors.New("fake: not a client request")
	}
	f := c.f
	f.mu.Lock()
	f.requests[c.addr]++
	drop := f.drop > 0
	if drop {
		f.drop--
	}
	f.mu.Unlock()
	if drop {
		return len(b), nil
	}
	time.AfterFunc(f.oneWay, func() {
		now := time.Now().Add(f.skew)
		resp := &Packet{Version: 4, Mode: ntpModeServer, Stratum: 2, Origin: req.Transmit,
			Receive: Timestamp(now), Transmit: Timestamp(now)}
		switch {
		case f.kiss[c.addr]:
			resp.Stratum, resp.RefID = 0, [4]byte{'R', 'A', 'T', 'E'}
		case f.unsync:
			resp.Leap = ntpLIAlarm
		}
		if f.stray {
			stray := *resp
			stray.Origin++
			c.deliver(stray.Marshal())
		}
		c.deliver(resp.Marshal())
	})
	return len(b), nil
}

func (c *ntpConn) deliver(b []byte) {
	time.AfterFunc(c.f.oneWay, func() {
		select {
		case c.in <- b:
		default:
		}
	})
}

func (c *ntpConn) Read(b []byte) (int, error) {
	select {
	case p := <-c.in:
		return copy(b, p), nil
	case <-c.dl:
		return 0, errors.New("fake: deadline")
	}
}

func (c *ntpConn) SetReadDeadline(t time.Time) error {
	if !t.After(time.Now()) {
		c.dlOnce.Do(func() { close(c.dl) })
	}
	return nil
}

func (c *ntpConn) Close() error { return nil }

func newFake(skew time.Duration) *ntpFake {
	return &ntpFake{skew: skew, oneWay: 20 * time.Millisecond, kiss: map[string]bool{}, requests: map[string]int{}}
}

func near(a, b time.Duration) bool { d := a - b; return d < time.Microsecond && d > -time.Microsecond }

// TestNTPStep: a clock 90 s behind is stepped once to the server's time;
// offset and delay come from the four timestamps.
func TestNTPStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(90 * time.Second)
		var set []time.Time
		c := &Client{Servers: []string{"pool.example"}, Dial: f.dial,
			SetClock: func(t time.Time) error { set = append(set, t); return nil },
			Slew:     func(time.Duration) error { t.Error("slewed a 90 s offset"); return nil }}
		s, err := c.Sync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !near(s.Offset, 90*time.Second) || !near(s.Delay, 40*time.Millisecond) || s.Stratum != 2 || s.Server != "pool.example" {
			t.Fatalf("sample %+v", s)
		}
		if len(set) != 1 || !near(time.Until(set[0]), 90*time.Second) {
			t.Fatalf("clock set to %v (now %v)", set, time.Now())
		}
		if f.requests["pool.example:123"] != 1 {
			t.Fatalf("requests %v", f.requests)
		}
	})
}

// TestNTPSmallOffset: 50 ms is slewed, not stepped; a clock 70 s ahead is
// stepped back.
func TestNTPSmallOffset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(50 * time.Millisecond)
		var slewed []time.Duration
		c := &Client{Servers: []string{"10.0.0.1:1123"}, Dial: f.dial,
			SetClock: func(time.Time) error { t.Error("stepped a 50 ms offset"); return nil },
			Slew:     func(d time.Duration) error { slewed = append(slewed, d); return nil }}
		if _, err := c.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(slewed) != 1 || !near(slewed[0], 50*time.Millisecond) || f.requests["10.0.0.1:1123"] != 1 {
			t.Fatalf("slewed %v, requests %v", slewed, f.requests)
		}
		f.skew = -70 * time.Second
		var set []time.Time
		c.SetClock = func(t time.Time) error { set = append(set, t); return nil }
		if _, err := c.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(set) != 1 || !near(time.Until(set[0]), -70*time.Second) {
			t.Fatalf("set %v", set)
		}
	})
}

// TestNTPRetries: two lost requests cost two timeouts; a stray packet
// (another origin) is skipped.
func TestNTPRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(time.Hour)
		f.drop, f.stray = 2, true
		c := &Client{Servers: []string{"a"}, Dial: f.dial, SetClock: func(time.Time) error { return nil }}
		start := time.Now()
		s, err := c.Sync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 4*time.Second+40*time.Millisecond {
			t.Fatalf("took %v, want 2 timeouts of 2 s and one 40 ms round trip", got)
		}
		if f.requests["a:123"] != 3 || !near(s.Offset, time.Hour) {
			t.Fatalf("requests %v, sample %+v", f.requests, s)
		}
	})
}

// TestNTPFailover: a kiss-o'-death ends the tries of that server at once;
// an unsynchronised server is tried Tries times and then fails.
func TestNTPFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(10 * time.Second)
		f.kiss["a:123"] = true
		set := 0
		c := &Client{Servers: []string{"a", "b"}, Dial: f.dial, SetClock: func(time.Time) error { set++; return nil }}
		s, err := c.Sync(t.Context())
		if err != nil || s.Server != "b" || set != 1 || f.requests["a:123"] != 1 || f.requests["b:123"] != 1 {
			t.Fatalf("err %v sample %+v set %d requests %v", err, s, set, f.requests)
		}

		u := newFake(10 * time.Second)
		u.unsync = true
		c = &Client{Servers: []string{"u"}, Dial: u.dial, SetClock: func(time.Time) error { set++; return nil }}
		if _, err := c.Sync(t.Context()); !errors.Is(err, ErrBadPacket) {
			t.Fatalf("unsynchronised server: %v", err)
		}
		if u.requests["u:123"] != 3 || set != 1 {
			t.Fatalf("requests %v set %d", u.requests, set)
		}
		if _, err := (&Client{}).Sync(t.Context()); !errors.Is(err, ErrNoServer) {
			t.Fatalf("no servers: %v", err)
		}
	})
}

// TestNTPRun: failed syncs are retried after 8 s, then 16 s; after a good
// one Run waits Interval. No servers: Run returns at once.
func TestNTPRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		(&Client{}).Run(t.Context(), func(Sample) { t.Error("synced without servers") })

		f := newFake(time.Minute)
		f.drop = 6 // two whole syncs of three tries
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		var at []time.Duration
		c := &Client{Servers: []string{"a"}, Dial: f.dial, SetClock: func(time.Time) error { return nil }, Interval: 10 * time.Minute}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx, func(Sample) {
				at = append(at, time.Since(start))
				if len(at) == 2 {
					cancel()
				}
			})
		}()
		<-done
		// 6 s of timeouts, 8 s; 6 s, 16 s; then 40 ms; then 10 min later.
		want := []time.Duration{36*time.Second + 40*time.Millisecond, 10*time.Minute + 36*time.Second + 80*time.Millisecond}
		if len(at) != 2 || at[0] != want[0] || at[1] != want[1] {
			t.Fatalf("synced at %v, want %v", at, want)
		}
	})
}

// TestNTPLoopback runs one exchange over real UDP on loopback against an
// in-process server whose clock is an hour ahead.
func TestNTPLoopback(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer pc.Close()
	served := make(chan error, 1)
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			served <- err
			return
		}
		req, err := Parse(buf[:n])
		if err != nil {
			served <- err
			return
		}
		now := time.Now().Add(time.Hour)
		resp := &Packet{Version: 4, Mode: ntpModeServer, Stratum: 1, RefID: [4]byte{'G', 'P', 'S', 0},
			Origin: req.Transmit, Receive: Timestamp(now), Transmit: Timestamp(now)}
		_, err = pc.WriteTo(resp.Marshal(), from)
		served <- err
	}()
	var set time.Time
	c := &Client{Servers: []string{pc.LocalAddr().String()}, Timeout: 10 * time.Second, Tries: 1,
		SetClock: func(t time.Time) error { set = t; return nil }}
	s, err := c.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if d := s.Offset - time.Hour; d > time.Second || d < -time.Second || set.IsZero() {
		t.Fatalf("sample %+v, set %v", s, set)
	}
}

func TestNTPTime(t *testing.T) {
	for _, s := range []string{"1970-01-01T00:00:00Z", "2000-02-29T12:34:56.5Z", "2036-02-07T06:28:15Z", "2036-02-07T06:28:17Z", "2040-06-01T00:00:00.25Z"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		got := Time(Timestamp(want))
		if d := got.Sub(want); d > time.Nanosecond || d < -time.Nanosecond {
			t.Errorf("%s: round trip %v", s, got)
		}
	}
	// 2036-02-07T06:28:16Z is the era boundary: seconds field 0.
	if got := Time(0); !got.Equal(time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)) {
		t.Errorf("Time(0) = %v", got)
	}
}

func TestParseShort(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 47)} {
		if _, err := Parse(b); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%d bytes: %v", len(b), err)
		}
	}
	p := &Packet{Leap: 1, Version: 4, Mode: 4, Stratum: 3, RefID: [4]byte{1, 2, 3, 4}, Origin: 5, Receive: 6, Transmit: 7}
	got, err := Parse(append(p.Marshal(), make([]byte, 20)...)) // an extension field is ignored
	if err != nil || *got != *p {
		t.Fatalf("round trip %+v %v", got, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add((&Packet{Version: 4, Mode: 4, Stratum: 2, Origin: 1, Receive: 2, Transmit: 3}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(p.Marshal())
		if err != nil || *again != *p {
			t.Fatalf("round trip: %+v %v", again, err)
		}
		now := time.Unix(1700000000, 0)
		if s, err := sampleFrom("x", p, now, now.Add(time.Millisecond)); err == nil && s.Delay < 0 {
			t.Fatalf("negative delay %v", s.Delay)
		}
	})
}
