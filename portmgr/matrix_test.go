package portmgr_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// matrixResult is one cell of the NAT matrix.
type matrixResult struct {
	a, b       portmgrtest.NATKind
	viaA, viaB portmgr.Strategy
	ab, ba     time.Duration // first packet A->B, B->A after the remotes were set
	ok         bool
}

var (
	matrixMu  sync.Mutex
	matrixRes []matrixResult
)

// TestMediaMatrix: two phones' media mappings behind NATs of every type ×
// every type exchange UDP both ways, checked by content. Each side sends
// a 20 ms "RTP" stream to the other's advertised address as soon as it
// knows it (as after SDP offer/answer); early UDP opens the filters.
func TestMediaMatrix(t *testing.T) {
	for _, a := range portmgrtest.NATKinds {
		for _, b := range portmgrtest.NATKinds {
			t.Run(a.String()+"/"+b.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { mediaCase(t, a, b) })
			})
		}
	}
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if len(matrixRes) == len(portmgrtest.NATKinds)*len(portmgrtest.NATKinds) {
		var sb strings.Builder
		sb.WriteString("| A \\ B | " + strings.Join(kindNames(), " | ") + " |\n|---|---|---|---|---|\n")
		for i, r := range matrixRes {
			if i%4 == 0 {
				sb.WriteString("| " + r.a.String() + " |")
			}
			res := "FAIL"
			if r.ok {
				res = fmt.Sprintf("pass (%s/%s, %v/%v)", r.viaA, r.viaB, r.ab, r.ba)
			}
			sb.WriteString(" " + res + " |")
			if i%4 == 3 {
				sb.WriteString("\n")
			}
		}
		t.Logf("NAT matrix (strategy A/B, first packet A→B / B→A after remotes known):\n%s", sb.String())
	}
}

func kindNames() []string {
	var s []string
	for _, k := range portmgrtest.NATKinds {
		s = append(s, k.String())
	}
	return s
}

func mediaCase(t *testing.T, ka, kb portmgrtest.NATKind) {
	r := exchange(t, ka, kb, true)
	if !r.ab {
		t.Errorf("A (%v) -> B (%v): nothing arrived", ka, kb)
	}
	if !r.ba {
		t.Errorf("B (%v) -> A (%v): nothing arrived", kb, ka)
	}
	matrixMu.Lock()
	matrixRes = append(matrixRes, matrixResult{a: ka, b: kb, viaA: r.viaA, viaB: r.viaB, ab: r.tab, ba: r.tba, ok: r.ab && r.ba})
	matrixMu.Unlock()
}

// TestMatrixControlNoTURN: without a relay, symmetric to symmetric
// carries nothing either way: the relay is what makes that cell pass.
func TestMatrixControlNoTURN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := exchange(t, portmgrtest.Symmetric, portmgrtest.Symmetric, false)
		if r.ab || r.ba {
			t.Errorf("symmetric/symmetric without TURN: A->B %v B->A %v, want neither", r.ab, r.ba)
		}
		if r.viaA != portmgr.StrategySTUN {
			t.Errorf("via %v, want stun (best effort)", r.viaA)
		}
	})
}

type exchangeResult struct {
	viaA, viaB portmgr.Strategy
	ab, ba     bool
	tab, tba   time.Duration
}

func exchange(t *testing.T, ka, kb portmgrtest.NATKind, withTURN bool) exchangeResult {
	w := portmgrtest.NewWorld(t, withTURN)
	sa, sb := w.AddSite(ka, 0), w.AddSite(kb, 0)
	w.Start()
	ma, mb := phone(t, w, sa, nil), phone(t, w, sb, nil)
	ready(t, ma)
	ready(t, mb)
	ctx := context.Background()
	pa, err := ma.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := mb.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	wantVia := func(k portmgrtest.NATKind) portmgr.Strategy {
		if k == portmgrtest.Symmetric {
			return portmgr.StrategyTURN
		}
		return portmgr.StrategySTUN
	}
	if withTURN && (pa.Via() != wantVia(ka) || pb.Via() != wantVia(kb)) {
		t.Errorf("strategies %v/%v, want %v/%v", pa.Via(), pb.Via(), wantVia(ka), wantVia(kb))
	}
	start := time.Now()
	// Offer/answer: each learns the other's advertised address.
	if err := ma.UpdateRemote(pa, pb.External()); err != nil {
		t.Fatal(err)
	}
	if err := mb.UpdateRemote(pb, pa.External()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	send := func(c net.PacketConn, to netip.AddrPort, tag string) {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			_, _ = c.WriteTo([]byte(fmt.Sprintf("\x80rtp %s %d", tag, i)), net.UDPAddrFromAddrPort(to))
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}
	wg.Add(2)
	go send(pa.Conn, pb.External(), "from-A")
	go send(pb.Conn, pa.External(), "from-B")
	recv := func(c net.PacketConn, tag string) (time.Duration, bool) {
		buf := make([]byte, 1500)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return 0, false
			}
			if bytes.HasPrefix(buf[:n], []byte("\x80rtp "+tag)) {
				return time.Since(start), true
			}
		}
	}
	var ab, ba time.Duration
	var okAB, okBA bool
	var rw sync.WaitGroup
	rw.Add(2)
	go func() { defer rw.Done(); ab, okAB = recv(pb.Conn, "from-A") }()
	go func() { defer rw.Done(); ba, okBA = recv(pa.Conn, "from-B") }()
	rw.Wait()
	close(stop)
	wg.Wait()
	return exchangeResult{viaA: pa.Via(), viaB: pb.Via(), ab: okAB, ba: okBA, tab: ab, tba: ba}
}
