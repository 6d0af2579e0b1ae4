package ice_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	pionice "github.com/pion/ice/v4"

	"github.com/deskphone/phone/voip/ice"
	"github.com/deskphone/phone/voip/sdp"
)

// TestPionPeer checks our agent against pion/ice v4 (the library issue
// 14 names) as the far end, on loopback UDP, in both roles: pion's agent
// gathers a host candidate, ours checks it from our socket and answers
// pion's checks, a pair is selected on both sides, and data flows both
// ways over it.
func TestPionPeer(t *testing.T) {
	for _, weControl := range []bool{true, false} {
		name := "pion-controls"
		if weControl {
			name = "we-control"
		}
		t.Run(name, func(t *testing.T) { pionPeer(t, weControl) })
	}
}

func pionPeer(t *testing.T, weControl bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not a timed assert
	defer cancel()
	lo := net.IPv4(127, 0, 0, 1)
	pa, err := pionice.NewAgentWithOptions(
		pionice.WithNetworkTypes([]pionice.NetworkType{pionice.NetworkTypeUDP4}),
		pionice.WithCandidateTypes([]pionice.CandidateType{pionice.CandidateTypeHost}),
		pionice.WithIncludeLoopback(),
		pionice.WithIPFilter(func(ip net.IP) bool { return ip.Equal(lo) }),
		pionice.WithMulticastDNSMode(pionice.MulticastDNSModeDisabled),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	cands := make(chan pionice.Candidate, 8)
	if err := pa.OnCandidate(func(c pionice.Candidate) {
		if c != nil {
			cands <- c
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := pa.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	var pc pionice.Candidate
	select {
	case pc = <-cands:
	case <-ctx.Done():
		t.Fatal("pion gathered no candidate")
	}
	theirs, err := sdp.ParseCandidate(pc.Marshal())
	if err != nil {
		t.Fatalf("pion's candidate %q: %v", pc.Marshal(), err)
	}

	// Our side: one loopback socket, its reader demultiplexing STUN to
	// the agent as the port manager does.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: lo})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ufrag, pwd := ice.NewCredentials()
	rufrag, rpwd, err := pa.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	selected := make(chan netip.AddrPort, 4)
	ag, err := ice.New(ice.Config{
		Write: func(b []byte, to netip.AddrPort) error {
			_, err := conn.WriteToUDPAddrPort(b, to)
			return err
		},
		LocalUfrag: ufrag, LocalPwd: pwd, Controlling: weControl,
		Remote:   sdp.ICE{Ufrag: rufrag, Pwd: rpwd, Candidates: []sdp.Candidate{theirs}},
		Default:  theirs.Addr,
		OnSelect: func(s ice.Selection) { selected <- s.Remote },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	data := make(chan []byte, 16)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			if ag.HandleSTUN(buf[:n], from) {
				continue
			}
			select {
			case data <- append([]byte(nil), buf[:n]...):
			default:
			}
		}
	}()
	defer func() { conn.Close(); <-readerDone }()

	mine := pionice.CandidateHostConfig{Network: "udp", Address: local.Addr().String(), Port: int(local.Port()), Component: 1,
		Priority: ice.LocalPriority(sdp.CandHost, 1), Foundation: "1"}
	hc, err := pionice.NewCandidateHost(&mine)
	if err != nil {
		t.Fatal(err)
	}
	if err := pa.AddRemoteCandidate(hc); err != nil {
		t.Fatal(err)
	}
	var pconn *pionice.Conn
	if weControl {
		pconn, err = pa.Accept(ctx, ufrag, pwd)
	} else {
		pconn, err = pa.Dial(ctx, ufrag, pwd)
	}
	if err != nil {
		t.Fatalf("pion: %v", err)
	}
	var sel netip.AddrPort
	select {
	case sel = <-selected:
	case <-ctx.Done():
		t.Fatal("our agent selected nothing")
	}
	if sel != theirs.Addr {
		t.Errorf("selected %v, want pion's %v", sel, theirs.Addr)
	}
	if _, err := pconn.Write([]byte("from pion")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-data:
		if string(b) != "from pion" {
			t.Errorf("got %q", b)
		}
	case <-ctx.Done():
		t.Fatal("nothing from pion on the selected pair")
	}
	if _, err := conn.WriteToUDPAddrPort([]byte("from us"), sel); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = pconn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := pconn.Read(buf)
	if err != nil || string(buf[:n]) != "from us" {
		t.Errorf("pion read %q, %v", buf[:n], err)
	}
	t.Logf("selected %v after %d checks of ours", sel, ag.Checks())
}
