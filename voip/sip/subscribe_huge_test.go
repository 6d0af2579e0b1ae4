package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/dialoginfo"
)

// TestHugeNotifyBodies: over TCP, where a NOTIFY may be large, a message
// summary over 16 KiB gets 400 and changes nothing, and a good NOTIFY
// after it still applies; a dialog-info document over 64 KiB is beyond
// the SIP parser's message size and changes nothing either.
func TestHugeNotifyBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"), TCP: netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: portmgr.Range{Min: 47160, Max: 47169}, MediaPorts: portmgr.Range{Min: 47170, Max: 47269}},
		func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Transport: "tcp",
				Registrar: srv.TCPAddr().String()}
		})
	p.wait = 20 * time.Second
	p.waitReg(t, RegRegistered)
	mwi, err := p.ua.WatchMWI("")
	if err != nil {
		t.Fatal(err)
	}
	blf, err := p.ua.WatchBLF([]string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		if mwi.Status().State == SubActive && blf[0].Status().State == SubActive && len(srv.Subscriptions()) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling real time: loopback sockets
	}
	if len(srv.Subscriptions()) != 2 {
		t.Fatalf("event server holds %+v", srv.Subscriptions())
	}
	ctx := context.Background()
	codes, err := srv.Notify(ctx, "dialog", "bob", dialogType, dialogBody(1, `<dialog id="d1" direction="recipient"><state>confirmed</state></dialog>`))
	codesAre(t, "busy", codes, err, 200)
	p.next(t, "busy", func(e Event) bool { ds, ok := e.(*DialogStateEvent); return ok && ds.State == dialoginfo.Busy })
	// A message summary over 16 KiB (msgsummary's limit) is read and
	// refused.
	codes, err = srv.Notify(ctx, "message-summary", "alice", mwiType,
		[]byte("Messages-Waiting: yes\r\n"+strings.Repeat("X-Pad: 0123456789012345678901234567890123456789\r\n", 400)))
	codesAre(t, "huge message summary", codes, err, 400)
	for _, e := range p.pending() {
		switch e.(type) {
		case *DialogStateEvent, *MWIEvent:
			t.Errorf("a refused NOTIFY was reported: %+v", e)
		}
	}
	if st := blf[0].Status(); st.State != SubActive {
		t.Errorf("a refused NOTIFY changed the subscription: %+v", st)
	}
	codes, err = srv.Notify(ctx, "dialog", "bob", dialogType, dialogBody(2, ""))
	codesAre(t, "idle", codes, err, 200)
	p.next(t, "idle", func(e Event) bool { ds, ok := e.(*DialogStateEvent); return ok && ds.State == dialoginfo.Idle })

	// A dialog-info document over 64 KiB makes a SIP message beyond what
	// the SIP parser reads (sipgo's 65535 bytes): it is never answered,
	// the stream cannot be resynchronised and the connection is closed.
	// The lamp keeps its state, and the line registers again on a new
	// connection within seconds.
	before := srv.Bindings("alice")
	if len(before) != 1 {
		t.Fatalf("bindings before: %+v", before)
	}
	pad := strings.Repeat("<!-- padding padding padding -->", (dialoginfo.MaxSize/32)+64)
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	codes, err = srv.Notify(short, "dialog", "bob", dialogType, dialogBody(3, pad))
	if err == nil {
		t.Errorf("huge dialog-info answered %v", codes)
	}
	for _, e := range p.pending() {
		if _, ok := e.(*DialogStateEvent); ok {
			t.Errorf("a huge NOTIFY was reported: %+v", e)
		}
	}
	start := time.Now()
	for {
		b := srv.Bindings("alice")
		if len(b) == 1 && b[0].Source != before[0].Source {
			t.Logf("registered again from %v (was %v) %.1f s after the huge NOTIFY failed", b[0].Source, before[0].Source, time.Since(start).Seconds())
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("not registered again on a new connection 20 s after the connection closed: %+v", b)
		}
		time.Sleep(20 * time.Millisecond) // polling real time: loopback sockets
	}
}
