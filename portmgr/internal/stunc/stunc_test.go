package stunc

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/stun/v3"
)

// vectors holds the RFC 5769 sample messages (provenance in its README.md).
var vectors = filepath.Join("testdata", "rfc5769")

// TestRFC5769Responses decodes the RFC 5769 §2.2 and §2.3 sample
// responses through Handle, as answers to a pending transaction.
func TestRFC5769Responses(t *testing.T) {
	cases := []struct {
		file string
		want netip.AddrPort
	}{
		{"sample_ipv4_response.bin", netip.MustParseAddrPort("192.0.2.1:32853")},
		{"sample_ipv6_response.bin", netip.MustParseAddrPort("[2001:db8:1234:5678:11:2233:4455:6677]:32853")},
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(vectors, c.file))
		if err != nil {
			t.Fatalf("RFC 5769 vector missing: %v", err)
		}
		var id [stun.TransactionIDSize]byte
		copy(id[:], b[8:20]) // b7e7a701bc34d686fa87dfae
		server := netip.MustParseAddrPort("198.51.100.1:3478")
		cl := &Client{}
		tx := &txn{accept: func(f netip.AddrPort) bool { return f == server }, res: make(chan *stun.Message, 1), from: make(chan netip.AddrPort, 1)}
		cl.txns = map[[stun.TransactionIDSize]byte]*txn{id: tx}
		if !cl.Handle(b, server) {
			t.Fatalf("%s: not matched", c.file)
		}
		r, err := decode(<-tx.res, <-tx.from)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if r.Mapped != c.want {
			t.Errorf("%s: mapped %v, want %v", c.file, r.Mapped, c.want)
		}
		var sw stun.Software
		if err := sw.GetFrom(r.Msg); err != nil || sw.String() != "test vector" {
			t.Errorf("%s: SOFTWARE %q %v", c.file, sw, err)
		}
		if err := stun.Fingerprint.Check(r.Msg); err != nil {
			t.Errorf("%s: FINGERPRINT: %v", c.file, err)
		}
		if err := stun.NewShortTermIntegrity("VOkJxbRl1RmTxUk/WvJxBt").Check(r.Msg); err != nil {
			t.Errorf("%s: MESSAGE-INTEGRITY: %v", c.file, err)
		}
	}
}

// TestRFC5769RequestIgnored: a request (§2.1) is not a response; Handle
// leaves it alone even with its transaction ID pending.
func TestRFC5769RequestIgnored(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(vectors, "sample_request.bin"))
	if err != nil {
		t.Fatalf("RFC 5769 vector missing: %v", err)
	}
	var id [stun.TransactionIDSize]byte
	copy(id[:], b[8:20])
	cl := &Client{txns: map[[stun.TransactionIDSize]byte]*txn{id: {accept: func(netip.AddrPort) bool { return true }}}}
	if cl.Handle(b, netip.MustParseAddrPort("192.0.2.9:1")) {
		t.Error("a Binding request was taken as a response")
	}
}

// TestRetransmission checks the RFC 8489 §6.2.1 schedule: requests at 0,
// 500, 1500, 3500, 7500, 15500 and 31500 ms, failure at 39500 ms.
func TestRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var at []time.Duration
		cl := &Client{Write: func([]byte, netip.AddrPort) error {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
			return nil
		}}
		_, err := cl.Binding(context.Background(), Request{To: netip.MustParseAddrPort("198.51.100.1:3478")})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != 39500*time.Millisecond {
			t.Errorf("timed out after %v, want 39.5s", d)
		}
		want := []time.Duration{0, 500, 1500, 3500, 7500, 15500, 31500}
		if len(at) != len(want) {
			t.Fatalf("sent at %v", at)
		}
		for i := range want {
			if at[i] != want[i]*time.Millisecond {
				t.Errorf("request %d at %v, want %v ms", i, at[i], want[i])
			}
		}
	})
}

// TestWithin: a transaction bounded by Within keeps the retransmission
// schedule of its own RTO and gives up when the bound is reached, not
// after the RFC 8489 Rc/Rm schedule.
func TestWithin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		cl := &Client{Write: func([]byte, netip.AddrPort) error {
			at = append(at, time.Since(start))
			return nil
		}}
		_, err := cl.Binding(context.Background(), Request{To: netip.MustParseAddrPort("198.51.100.1:3478"),
			RTO: 100 * time.Millisecond, Within: 500 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("gave up after %v, want 500ms", d)
		}
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}
		if len(at) != len(want) {
			t.Fatalf("sent at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Errorf("request %d at %v, want %v", i, at[i], want[i])
			}
		}
	})
}

// TestRTT: the response carries the time since the first request.
func TestRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server := netip.MustParseAddrPort("198.51.100.1:3478")
		cl := &Client{}
		cl.Write = func(b []byte, _ netip.AddrPort) error {
			req := &stun.Message{Raw: append([]byte(nil), b...)}
			if err := req.Decode(); err != nil {
				return err
			}
			go func() {
				time.Sleep(40 * time.Millisecond) // the simulated path delay
				resp, _ := BindingResponse(req, netip.MustParseAddrPort("203.0.113.5:40000"))
				cl.Handle(resp, server)
			}()
			return nil
		}
		r, err := cl.Binding(context.Background(), Request{To: server})
		if err != nil {
			t.Fatal(err)
		}
		if r.RTT != 40*time.Millisecond {
			t.Errorf("RTT %v, want 40ms", r.RTT)
		}
	})
}

// TestMatching: a response with the wrong transaction ID, or with the
// right one from the wrong source, is ignored; the right one completes.
func TestMatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server := netip.MustParseAddrPort("198.51.100.1:3478")
		reqs := make(chan []byte, 10)
		cl := &Client{Write: func(b []byte, _ netip.AddrPort) error { reqs <- append([]byte(nil), b...); return nil }}
		done := make(chan *Response, 1)
		go func() {
			r, err := cl.Binding(context.Background(), Request{To: server})
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		raw := <-reqs
		req := &stun.Message{Raw: raw}
		if err := req.Decode(); err != nil {
			t.Fatal(err)
		}
		mapped := netip.MustParseAddrPort("203.0.113.5:40000")
		wrongID, _ := BindingResponse(&stun.Message{TransactionID: [12]byte{1, 2, 3}}, netip.MustParseAddrPort("6.6.6.6:666"))
		if cl.Handle(wrongID, server) {
			t.Error("wrong transaction ID accepted")
		}
		right, _ := BindingResponse(req, mapped)
		if cl.Handle(right, netip.MustParseAddrPort("198.51.100.2:3478")) {
			t.Error("response from an unexpected source accepted")
		}
		if !cl.Handle(right, server) {
			t.Fatal("the right response was not accepted")
		}
		if r := <-done; r == nil || r.Mapped != mapped || r.PlainMapped != mapped {
			t.Errorf("response %+v", r)
		}
		if cl.Handle(right, server) {
			t.Error("a duplicate response matched a finished transaction")
		}
	})
}

func TestErrorResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server := netip.MustParseAddrPort("198.51.100.1:3478")
		reqs := make(chan []byte, 10)
		cl := &Client{Write: func(b []byte, _ netip.AddrPort) error { reqs <- append([]byte(nil), b...); return nil }}
		errc := make(chan error, 1)
		go func() {
			_, err := cl.Binding(context.Background(), Request{To: server, Change: ChangeIP})
			errc <- err
		}()
		req := &stun.Message{Raw: <-reqs}
		if err := req.Decode(); err != nil {
			t.Fatal(err)
		}
		if ChangeRequestOf(req) != ChangeIP {
			t.Errorf("CHANGE-REQUEST %x", ChangeRequestOf(req))
		}
		resp := stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingError,
			stun.ErrorCodeAttribute{Code: 420, Reason: []byte("Unknown Attribute")})
		cl.Handle(resp.Raw, server)
		if err := <-errc; !errors.Is(err, ErrErrorResponse) {
			t.Errorf("err %v", err)
		}
	})
}

// FuzzHandle: arbitrary datagrams never panic, with or without a pending
// transaction whose ID they might carry.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"sample_ipv4_response.bin", "sample_ipv6_response.bin", "sample_request.bin"} {
		b, err := os.ReadFile(filepath.Join(vectors, name))
		if err != nil {
			f.Fatalf("RFC 5769 vector missing: %v", err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var id [stun.TransactionIDSize]byte
		if len(b) >= 20 {
			copy(id[:], b[8:20])
		}
		tx := &txn{accept: func(netip.AddrPort) bool { return true }, res: make(chan *stun.Message, 1), from: make(chan netip.AddrPort, 1)}
		cl := &Client{txns: map[[stun.TransactionIDSize]byte]*txn{id: tx}}
		if cl.Handle(b, netip.MustParseAddrPort("192.0.2.1:3478")) {
			_, _ = decode(<-tx.res, <-tx.from)
		}
		_, _ = AnswerBinding(b, netip.MustParseAddrPort("192.0.2.1:5060"))
		m := &stun.Message{Raw: b}
		if m.Decode() == nil {
			_ = ChangeRequestOf(m)
			_, _ = ResponsePortOf(m)
		}
	})
}

// TestResponsePort: RESPONSE-PORT (RFC 5780 §7.5) round-trips, and a
// malformed one (wrong length) is not taken.
func TestResponsePort(t *testing.T) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, ResponsePort(40123), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	d := &stun.Message{Raw: m.Raw}
	if err := d.Decode(); err != nil {
		t.Fatal(err)
	}
	if p, ok := ResponsePortOf(d); !ok || p != 40123 {
		t.Errorf("RESPONSE-PORT %d %v, want 40123", p, ok)
	}
	bad := stun.New()
	bad.Type = stun.BindingRequest
	bad.Add(stun.AttrResponsePort, []byte{1, 2})
	bad.WriteHeader()
	if _, ok := ResponsePortOf(bad); ok {
		t.Error("a 2-byte RESPONSE-PORT was taken")
	}
	if _, ok := ResponsePortOf(stun.New()); ok {
		t.Error("RESPONSE-PORT found in a message without one")
	}
}
