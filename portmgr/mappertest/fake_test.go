package mappertest_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

func ExampleFakeMapper() {
	fm := &mappertest.FakeMapper{External: netip.MustParseAddr("203.0.113.7")}
	defer fm.Close()
	mp, err := fm.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := mp.Addrs()
	fmt.Println(a.Local.Addr(), a.External.Addr(), a.External.Port() == a.Local.Port(), a.Via)
	// Output: 127.0.0.1 203.0.113.7 true static
}

func TestFakeMapper(t *testing.T) {
	fm := &mappertest.FakeMapper{External: netip.MustParseAddr("203.0.113.7")}
	defer fm.Close()
	ctx := context.Background()
	sip, err := fm.Map(ctx, portmgr.KindSIP, portmgr.UDP, netip.MustParseAddrPort("198.51.100.20:5060"))
	if err != nil {
		t.Fatal(err)
	}
	media, err := fm.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if sip.RTCPConn != nil || media.RTCPConn == nil || !media.ExternalRTCP().IsValid() {
		t.Errorf("RTCP: sip %v, media %v %v", sip.RTCPConn, media.RTCPConn, media.ExternalRTCP())
	}
	far := netip.MustParseAddrPort("198.51.100.30:40000")
	if err := fm.UpdateRemote(media, far); err != nil || media.Remote() != far {
		t.Errorf("UpdateRemote: %v, remote %v", err, media.Remote())
	}
	if u := fm.Updates(); len(u) != 1 || u[0].Mapping != media || u[0].Remote != far {
		t.Errorf("updates %+v", u)
	}
	moved := fm.SetExternal(portmgr.KindMedia, netip.MustParseAddr("203.0.113.8"))
	if len(moved) != 1 || media.External().Addr() != netip.MustParseAddr("203.0.113.8") || sip.External().Addr() != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("SetExternal moved %d: media %v sip %v", len(moved), media.External(), sip.External())
	}
	if err := media.SetAddrs(portmgr.Addrs{}); err != nil {
		t.Errorf("SetAddrs on a fake's mapping: %v", err)
	}
	if err := fm.Release(media); err != nil {
		t.Fatal(err)
	}
	if err := fm.Release(media); !errors.Is(err, portmgr.ErrUnknownMapping) {
		t.Errorf("double release: %v", err)
	}
	if _, err := media.Conn.WriteTo([]byte("x"), sip.Conn.LocalAddr()); err == nil {
		t.Error("released mapping's socket still open")
	}
	if maps, released := fm.Stats(); maps != 2 || released != 1 {
		t.Errorf("stats %d maps %d released", maps, released)
	}
	fm.MapErr = portmgr.ErrExhausted
	if _, err := fm.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); !errors.Is(err, portmgr.ErrExhausted) {
		t.Errorf("MapErr: %v", err)
	}
}

// A Manager's mappings change only inside the Manager.
func TestSetAddrsRefusesManaged(t *testing.T) {
	w := portmgrtest.NewWorld(t, false)
	site := w.AddSite(portmgrtest.Open, 0)
	w.Start()
	m := mappertest.NewManager(t, portmgr.Config{Net: site.Net, PoolSize: -1})
	mp, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.SetAddrs(portmgr.Addrs{}); !errors.Is(err, portmgr.ErrManaged) {
		t.Errorf("SetAddrs on a Manager's mapping: %v, want ErrManaged", err)
	}
	if a := mp.Addrs(); a.Local != mp.Local() || a.External != mp.External() || a.Via != mp.Via() {
		t.Errorf("Addrs %+v disagrees with the getters", a)
	}
}
