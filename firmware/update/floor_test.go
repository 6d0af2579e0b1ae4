package update

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFloorRefusesOlderThanCommitted: a token holder cannot install a
// signed build older than the last committed one, allow-downgrade or not:
// not on a fresh phone (the factory build is committed), not after an
// update was committed, not after a later trial rolled back. A factory
// reset (LowerFloor) lowers the floor; the next commit sets it again.
func TestFloorRefusesOlderThanCommitted(t *testing.T) {
	priv, pub := testKey(t, 1)
	install := func(a *Agent, version string, bt int64, allow bool) error {
		payload := []byte("root " + version)
		_, err := a.Install(nil, bytes.NewReader(bundle(t, priv, updateManifest("qemu-arm64", version, bt, payload), payload)), allow)
		return err
	}
	agent := func(p *phone, booted, version string, bt int64) *Agent {
		a, err := NewAgent(Config{Board: "qemu-arm64", Version: version, BuildTime: bt, PublicKey: pub, Token: testToken,
			Slots: p.slots, StatePath: p.state, Booted: booted, MaxSlotSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	p := newPhone(t, pub, "v1.0.0", 100)

	// Fresh phone running the factory v1.0.0.
	if err := install(p.agent, "v0.9.0", 50, true); !errors.Is(err, ErrBelowFloor) {
		t.Fatalf("fresh phone, v0.9.0 with allow-downgrade: %v, want ErrBelowFloor", err)
	}
	// v1.1.0 installed, booted on trial, committed: the floor is v1.1.0.
	if err := install(p.agent, "v1.1.0", 200, false); err != nil {
		t.Fatal(err)
	}
	slot, _, _ := Boot(p.state)
	if err := Commit(p.state, slot); err != nil {
		t.Fatal(err)
	}
	st, _ := ReadState(p.state)
	if st.Floor == nil || st.Floor.Version != "v1.1.0" || st.Floor.BuildTime != 200 {
		t.Fatalf("floor after commit: %+v", st.Floor)
	}
	a := agent(p, slot, "v1.1.0", 200)
	for _, v := range []string{"v1.0.0", "v1.0.9"} {
		if err := install(a, v, 150, true); !errors.Is(err, ErrBelowFloor) {
			t.Fatalf("%s with allow-downgrade after v1.1.0 was committed: %v, want ErrBelowFloor", v, err)
		}
	}
	// A v1.2.0 trial that rolls back leaves the floor at v1.1.0.
	if err := install(a, "v1.2.0", 300, false); err != nil {
		t.Fatal(err)
	}
	Boot(p.state) // the trial boot
	if slot2, trial, _ := Boot(p.state); trial || slot2 != slot {
		t.Fatalf("no rollback: %s %v", slot2, trial)
	}
	if err := install(a, "v1.0.0", 100, true); !errors.Is(err, ErrBelowFloor) {
		t.Fatalf("after a rollback: %v, want ErrBelowFloor", err)
	}
	// The same build again, and newer ones, are fine.
	if err := install(a, "v1.1.0", 200, false); err != nil {
		t.Fatalf("reinstall of the floor build: %v", err)
	}

	// A factory reset lowers the floor: the owner may go back.
	if err := LowerFloor(p.state); err != nil {
		t.Fatal(err)
	}
	if err := install(a, "v1.0.0", 100, false); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("after a reset, without allow-downgrade: %v, want ErrDowngrade", err)
	}
	if err := install(a, "v1.0.0", 100, true); err != nil {
		t.Fatalf("after a reset, with allow-downgrade: %v", err)
	}
	slot3, _, _ := Boot(p.state)
	if err := Commit(p.state, slot3); err != nil {
		t.Fatal(err)
	}
	a = agent(p, slot3, "v1.0.0", 100)
	if err := install(a, "v0.9.0", 50, true); !errors.Is(err, ErrBelowFloor) {
		t.Fatalf("once v1.0.0 is committed again: %v, want ErrBelowFloor", err)
	}
}

// TestFloorLostFailsClosed: a record without a floor (written before
// floors, or by an older boot stage) takes the committed slot's build.
func TestFloorLostFailsClosed(t *testing.T) {
	s := &State{Committed: SlotB, Slots: map[string]SlotInfo{SlotB: {Version: "v2.0.0", BuildTime: 20}}}
	if f, ok := s.floor(SlotB, "v2.0.0", 20); !ok || f.Version != "v2.0.0" {
		t.Fatalf("floor %+v %v", f, ok)
	}
	s.Floor = &Floor{}
	if _, ok := s.floor(SlotB, "v2.0.0", 20); ok {
		t.Fatal("a lowered floor still holds")
	}
}

// TestStatusNeedsToken: GET /update/status answers the token holder only.
func TestStatusNeedsToken(t *testing.T) {
	_, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	srv := httptest.NewServer(p.agent)
	defer srv.Close()
	for _, tok := range []string{"", "wrong", testToken + "x"} {
		req, _ := http.NewRequest("GET", srv.URL+"/update/status", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), "v1.0.0") {
			t.Fatalf("token %q: %d %s", tok, resp.StatusCode, b)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/update/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("right token: %d", resp.StatusCode)
	}
}

// safety bounds how long a test waits for the agent to act; the timeouts
// under test are milliseconds, so reaching it means the agent held on
// (a hang guard, not a timed assert).
const safety = 20 * time.Second

// stalledPush sends the headers of a push and the first n bytes of b,
// then sends nothing more (the connection stays open).
func stalledPush(t *testing.T, addr, token string, b []byte, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /update HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", addr, token, len(b))
	if _, err := c.Write(b[:n]); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer reads the agent's answer on c until it closes c.
func answer(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(safety))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the agent still holds the push after %v (read %q)", safety, b)
	}
	return string(b)
}

// TestStalledBodyReleasesLock: a push whose body stops (in the bundle
// header or in the payload) is answered 408 after StallTimeout and gives
// up the push lock: the next push goes through.
func TestStalledBodyReleasesLock(t *testing.T) {
	for _, where := range []string{"header", "payload"} {
		t.Run(where, func(t *testing.T) {
			priv, pub := testKey(t, 1)
			p := newPhone(t, pub, "v1.0.0", 100)
			p.agent.cfg.StallTimeout = 50 * time.Millisecond
			srv := httptest.NewServer(p.agent)
			defer srv.Close()
			payload := bytes.Repeat([]byte("slow root "), 1000)
			b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
			n := 20
			if where == "payload" {
				n = len(b) - 100
			}
			c := stalledPush(t, srv.Listener.Addr().String(), testToken, b, n)
			if got := answer(t, c); !strings.HasPrefix(got, "HTTP/1.1 408") {
				t.Fatalf("stalled push: %q", got)
			}
			if st, _ := ReadState(p.state); st.Trial != "" {
				t.Fatalf("a stalled push changed the state: %+v", st)
			}
			if code, res := post(t, srv.URL+"/update", bytes.NewReader(b), testToken); code != 200 {
				t.Fatalf("next push: %d %v", code, res)
			}
		})
	}
}

// TestBodyTimeoutBoundsTrickle: a body that keeps sending, too slowly,
// is cut at BodyTimeout even though it never stalls for StallTimeout.
func TestBodyTimeoutBoundsTrickle(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	p.agent.cfg.BodyTimeout = 50 * time.Millisecond
	srv := httptest.NewServer(p.agent)
	defer srv.Close()
	payload := bytes.Repeat([]byte("slow root "), 1000)
	b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
	c := stalledPush(t, srv.Listener.Addr().String(), testToken, b, 100)
	// Trickle a byte at a time from a goroutine until the agent hangs up.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 100; i < len(b); i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}()
	got := answer(t, c)
	close(stop)
	<-done
	if !strings.HasPrefix(got, "HTTP/1.1 408") {
		t.Fatalf("trickled push: %q", got)
	}
}

// TestUnauthorizedPushTakesNoLock: while a push is under way, a push
// without the token is refused as unauthorized (it neither waits for nor
// learns about the other push), and the push under way is unaffected.
func TestUnauthorizedPushTakesNoLock(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	locked := make(chan struct{}, 1)
	p.agent.locked = locked
	srv := httptest.NewServer(p.agent)
	t.Cleanup(srv.Close) // after the stalled connection is closed
	payload := bytes.Repeat([]byte("root "), 1000)
	b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
	c := stalledPush(t, srv.Listener.Addr().String(), testToken, b, 100)
	// Wait until the first push holds the lock.
	select {
	case <-locked:
	case <-time.After(safety):
		t.Fatal("the first push never took the lock")
	}
	if code, res := post(t, srv.URL+"/update", bytes.NewReader(b), testToken); code != http.StatusConflict {
		t.Fatalf("second push with the token: %d %v, want 409", code, res)
	}
	if code, res := post(t, srv.URL+"/update", bytes.NewReader(b), "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("push with a wrong token: %d %v", code, res)
	}
	if _, err := c.Write(b[100:]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(safety))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push under way: %s", resp.Status)
	}
}
