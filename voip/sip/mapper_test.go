package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	siplib "github.com/emiago/sipgo/sip"
)

// TestCallAdvertisesMapping is a unit test of the UA over a fake port
// manager (no vnet world): an outgoing call's INVITE carries the SIP
// mapping's external address in Via and Contact and the media mapping's
// in the SDP (c=, m=, a=rtcp), never the loopback address the sockets
// are bound to; a rejected call releases its media mapping.
func TestCallAdvertisesMapping(t *testing.T) {
	ext := netip.MustParseAddr("203.0.113.7")
	fm := &mappertest.FakeMapper{External: ext}
	t.Cleanup(func() { _ = fm.Close() })
	ua, err := New(Config{Mapper: fm, Account: Account{User: "a"}, CloseTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The far end: a loopback socket that rejects every INVITE with 486
	// once the test has looked at the mappings (the rejection releases
	// the media mapping).
	far, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { far.Close() })
	invites := make(chan *siplib.Request, 4)
	reject := make(chan struct{})
	var once sync.Once
	rejectNow := func() { once.Do(func() { close(reject) }) }
	t.Cleanup(rejectNow)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := far.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			req, ok := msg.(*siplib.Request)
			if !ok || req.Method != siplib.INVITE {
				continue
			}
			select {
			case invites <- req:
			default:
			}
			<-reject
			res := siplib.NewResponseFromRequest(req, 486, "Busy Here", nil)
			res.AppendHeader(siplib.NewHeader("To", req.To().Value()+";tag=far"))
			far.WriteTo([]byte(res.String()), from)
		}
	}()

	c, err := ua.Dial(context.Background(), "sip:b@"+far.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	var inv *siplib.Request
	select {
	case inv = <-invites:
	case <-time.After(30 * time.Second):
		t.Fatal("no INVITE reached the far end")
	}

	sipMaps := fm.Live(portmgr.KindSIP)
	media := fm.Live(portmgr.KindMedia)
	if len(sipMaps) != 1 || len(media) != 1 {
		t.Fatalf("live mappings: %d SIP, %d media; want 1 and 1", len(sipMaps), len(media))
	}
	sa, ma := sipMaps[0].Addrs(), media[0].Addrs()
	if !sa.Local.Addr().IsLoopback() || sa.External.Addr() != ext || ma.External.Addr() != ext {
		t.Fatalf("fake mappings %+v %+v, want loopback sockets advertising %v", sa, ma, ext)
	}
	if via := inv.Via(); via == nil || via.Host != ext.String() || via.Port != int(sa.External.Port()) {
		t.Errorf("Via %v, want sent-by %v", inv.Via(), sa.External)
	}
	if ct := inv.Contact(); ct == nil || ct.Address.Host != ext.String() || ct.Address.Port != int(sa.External.Port()) {
		t.Errorf("Contact %v, want %v", inv.Contact(), sa.External)
	}
	body := string(inv.Body())
	for _, want := range []string{
		"c=IN IP4 " + ext.String() + "\r\n",
		fmt.Sprintf("m=audio %d ", ma.External.Port()),
		fmt.Sprintf("a=rtcp:%d", ma.ExternalRTCP.Port()),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("offer lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Errorf("offer advertises the loopback address:\n%s", body)
	}

	rejectNow()
	// The final CallEvent comes after the release.
	deadline := time.After(30 * time.Second)
	for ended := false; !ended; {
		select {
		case ev := <-ua.Events():
			ce, ok := ev.(*CallEvent)
			ended = ok && ce.Call == c && ce.State == StateEnded
		case <-deadline:
			t.Fatalf("call still %s after the 486", c.State())
		}
	}
	if n := len(fm.Live(portmgr.KindMedia)); n != 0 {
		t.Errorf("%d media mappings still live after the call ended", n)
	}
}
