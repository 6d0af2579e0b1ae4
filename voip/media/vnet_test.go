package media

import (
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"

	"github.com/deskphone/phone/voip/codec"
)

// TestSymmetricRTPThroughSymmetricNAT is the one-way-audio case: phone A
// sits behind a symmetric NAT and advertises its private address in SDP.
// B must answer to the NAT mapping A's RTP comes from.
func TestSymmetricRTPThroughSymmetricNAT(t *testing.T) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.51.100.0/24", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	lan, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR: "192.168.1.0/24", StaticIPs: []string{"198.51.100.7"}, LoggerFactory: lf,
		NATType: &vnet.NATType{
			Mode:              vnet.NATModeNormal,
			MappingBehavior:   vnet.EndpointAddrPortDependent, // symmetric
			FilteringBehavior: vnet.EndpointAddrPortDependent, // port-restricted
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddRouter(lan); err != nil {
		t.Fatal(err)
	}
	netA, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"192.168.1.2"}})
	netB, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"198.51.100.20"}})
	if err := lan.AddNet(netA); err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(netB); err != nil {
		t.Fatal(err)
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	defer wan.Stop()

	ca, err := netA.ListenPacket("udp4", "192.168.1.2:4000")
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := netB.ListenPacket("udp4", "198.51.100.20:5000")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()

	rxA, rxB := make(chan struct{}, 100), make(chan struct{}, 100)
	a, err := New(Config{Conn: ca, Remote: cb.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMU,
		KeepaliveInterval: -1, rxHook: func() { rxA <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// B only knows A's SDP: the private address.
	b, err := New(Config{Conn: cb, Remote: ca.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: codec.PCMU,
		KeepaliveInterval: -1, rxHook: func() { rxB <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	tone := make([]int16, 160)
	(&sine{freq: 1000}).NextFrame(tone)
	b.WriteFrame(tone) // to the private address: lost in the WAN
	// A streams; B takes A's NAT mapping, which no SDP names, once it has
	// streamed alone for the probation time.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !b.Stats().Latched.IsValid() {
		a.WriteFrame(make([]int16, 160))
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("B never latched onto A's RTP")
		}
	}
	stB := b.Stats()
	if stB.Latched.Addr().String() != "198.51.100.7" || stB.Remote != stB.Latched {
		t.Fatalf("B latched %v, sends to %v; want A's NAT mapping on 198.51.100.7", stB.Latched, stB.Remote)
	}
	for range 3 {
		b.WriteFrame(tone)
	}
	deadline = time.After(10 * time.Second)
	for a.Stats().Received < 3 {
		select {
		case <-rxA:
		case <-deadline:
			t.Fatalf("A received %d of B's 3 packets after latching", a.Stats().Received)
		}
	}
	if st := a.Stats(); st.Received != 3 || st.Lost != 0 {
		t.Fatalf("A: %+v (the packet sent to the private address must not arrive)", st)
	}
}
