package media

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/voip/codec"
)

// pushConn is a memConn that pushes its datagrams as the port manager's
// mapping sockets do (Receive): a reader goroutine of the socket calls
// the installed fn. It counts ReadFrom calls, which a session should not
// make on it.
type pushConn struct {
	*memConn
	reads atomic.Int64

	mu       sync.RWMutex
	fn       func([]byte, netip.AddrPort)
	closedFn func()
	done     chan struct{}
}

func newPushConn(c *memConn) *pushConn {
	p := &pushConn{memConn: c, done: make(chan struct{})}
	go p.read()
	return p
}

func (p *pushConn) read() {
	defer close(p.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := p.memConn.ReadFrom(buf)
		if err != nil {
			p.mu.Lock()
			cb := p.closedFn
			p.fn, p.closedFn = nil, nil
			p.mu.Unlock()
			if cb != nil {
				cb()
			}
			return
		}
		p.mu.RLock()
		if p.fn != nil {
			p.fn(buf[:n], from.(*net.UDPAddr).AddrPort())
		}
		p.mu.RUnlock()
	}
}

func (p *pushConn) ReadFrom(b []byte) (int, net.Addr, error) {
	p.reads.Add(1)
	return p.memConn.ReadFrom(b)
}

func (p *pushConn) Receive(fn func([]byte, netip.AddrPort), closed func()) func() {
	p.mu.Lock()
	p.fn, p.closedFn = fn, closed
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.fn, p.closedFn = nil, nil
		p.mu.Unlock()
	}
}

// close closes the socket and waits for its reader.
func (p *pushConn) close() {
	p.memConn.Close()
	<-p.done
}

// TestPushedCall: on sockets that push datagrams (the port manager's),
// a call works both ways without the session reading the sockets itself,
// and Close removes the receivers and closes the DTMF channel.
func TestPushedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pa, pb := newPushConn(n.listen("10.0.0.1:4000")), newPushConn(n.listen("10.0.0.2:5000"))
		defer pa.close()
		defer pb.close()
		a, err := New(Config{Conn: pa, Remote: pb.addr, Codec: codec.PCMU, DTMFPayloadType: 101})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(Config{Conn: pb, Remote: pa.addr, Codec: codec.PCMU, DTMFPayloadType: 101})
		if err != nil {
			t.Fatal(err)
		}
		_, outB := runCall(t, a, b, 3*time.Second)
		if st := b.Stats(); st.Received < 140 {
			t.Fatalf("B received %d packets in 3 s", st.Received)
		}
		dominant(t, outB.Samples(8000), 440)
		a.Close()
		b.Close()
		if pa.reads.Load()+pb.reads.Load() != 0 {
			t.Fatalf("the sessions read pushing sockets %d times", pa.reads.Load()+pb.reads.Load())
		}
		if _, ok := <-a.DTMF(); ok {
			t.Fatal("DTMF channel open after Close")
		}
		pa.mu.RLock()
		installed := pa.fn != nil
		pa.mu.RUnlock()
		if installed {
			t.Fatal("receiver still installed after Close")
		}
	})
}

// TestPushedSocketClosedEndsDTMF: a pushing socket closed under the
// session (the port manager released it) closes the DTMF channel, as a
// reader of our own ending would.
func TestPushedSocketClosedEndsDTMF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pc := newPushConn(n.listen("10.0.0.1:4000"))
		s, err := New(Config{Conn: pc, Remote: netip.MustParseAddrPort("10.0.0.2:5000"), Codec: codec.PCMU, DTMFPayloadType: 101})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		pc.close()
		if _, ok := <-s.DTMF(); ok {
			t.Fatal("DTMF channel open after the socket closed")
		}
	})
}

// TestFirstPacketAtOnce: Run sends the first RTP packet when it starts
// (after the 200 OK or ACK), not one frame time later when the device
// has its first frame; the device's frames follow on the same grid.
func TestFirstPacketAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithCancel(t.Context())
		in := haltest.NewAudioIn(hal.Narrowband, &sine{freq: 440})
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, in) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		<-done
		sent := c.sentPkts()
		if len(sent) < 3 {
			t.Fatalf("%d packets in 50 ms", len(sent))
		}
		if d := sent[0].at.Sub(start); d != 0 {
			t.Fatalf("first RTP %v after Run, want at once", d)
		}
		ps := rtpSent(t, c)
		if !ps[0].Marker || ps[1].Marker || ps[1].Timestamp-ps[0].Timestamp != 160 || ps[1].SequenceNumber != ps[0].SequenceNumber+1 {
			t.Fatalf("first packets %+v then %+v: want a talkspurt start and the next frame 160 later", ps[0].Header, ps[1].Header)
		}
		if d := sent[1].at.Sub(start); d != 20*time.Millisecond {
			t.Fatalf("second RTP %v after Run, want at the first frame time", d)
		}
	})
}

// TestSequentialCallsLeaveNothing: calls through the port manager one
// after the other (map, two sessions, packets, close, release) leave no
// goroutines behind, call after call.
func TestSequentialCallsLeaveNothing(t *testing.T) {
	m := loopbackManager(t)
	oneCall(t, m, 5)
	g0 := runtime.NumGoroutine()
	for range 20 {
		oneCall(t, m, 5)
	}
	// A goroutine of the port manager's may still be ending when a call
	// returns, so the count is not exact; one left per call is 20 more.
	if g := runtime.NumGoroutine(); g >= g0+5 {
		t.Fatalf("%d goroutines after 20 calls, %d after the first", g, g0)
	}
}
