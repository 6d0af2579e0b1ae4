package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/history"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/dialoginfo"
)

// dialogInfo is a full-state dialog-info document (RFC 4235) for user
// at the test domain with one dialog in state (none for ""), as a
// server sends it for a busy lamp: the watched user is the recipient.
func dialogInfo(version int, user, state string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:%s@127.0.0.1">`, version, user)
	if state != "" {
		fmt.Fprintf(&b, `
 <dialog id="d1" call-id="ringing-call-%s" local-tag="callee-tag" remote-tag="caller-tag" direction="recipient">
  <state>%s</state>
  <remote><identity>sip:1004@127.0.0.1</identity></remote>
 </dialog>`, user, state)
	}
	b.WriteString("\n</dialog-info>\n")
	return []byte(b.String())
}

// lamp returns the status of the busy lamp key named key.
func (tp *testPhone) lamp(key string) phone.LampStatus {
	for _, l := range tp.d.Status().Phone.Lamps {
		if l.Key == key {
			return l
		}
	}
	return phone.LampStatus{}
}

// placed reports whether the history holds a placed call to remote.
func (tp *testPhone) placed(remote string) bool {
	return slices.ContainsFunc(tp.d.store.history.List(phone.KindPlaced, 0), func(e history.Entry) bool {
		return strings.Contains(e.Remote, remote)
	})
}

// TestBLFKeys: phone A (1001) watches 1002 on blf1 and 1003 on blf2
// (with a pickup code); the PBX's dialog NOTIFYs light the lamps
// (ringing, busy, idle), a malformed one is refused 400 and changes
// nothing, a subscription the server ends turns its lamp unknown, and
// the keys call the user, pick up by Replaces, or dial the pickup code.
func TestBLFKeys(t *testing.T) {
	p, phones := office(t, 2, func(i int, c *config.Config) {
		if i == 0 {
			c.BLF = []config.BLFKey{
				{Key: "blf1", User: "1002", Label: "Bob"},
				{Key: "blf2", User: "1003", PickupCode: "*8"},
			}
		}
	})
	a, b := phones[0], phones[1]
	waitFor(t, "A subscribed to 1002 and 1003", 10*time.Second, func() bool {
		n := 0
		for _, s := range p.Subscriptions() {
			if s.Event == "dialog" && (s.User == "1002" || s.User == "1003") {
				n++
			}
		}
		return n == 2
	})
	if l := a.lamp("blf1"); l.State != phone.LampUnknown || l.Label != "Bob" || l.User != "1002" {
		t.Errorf("blf1 before any NOTIFY: %+v", l)
	}
	ctx := context.Background()
	notify := func(user string, body []byte, want int) {
		t.Helper()
		codes, err := p.Notify(ctx, "dialog", user, dialoginfo.MediaType, body)
		if err != nil || len(codes) != 1 || codes[0] != want {
			t.Fatalf("NOTIFY %s: %v %v, want %d", user, codes, err, want)
		}
	}
	v := 1
	led := a.d.board.Indicator.(*haltest.Indicator)
	for _, st := range []struct {
		dialog, lamp string
		led          hal.Pattern
	}{
		{dialoginfo.Early, phone.LampRinging, hal.BlinkFast}, {dialoginfo.Confirmed, phone.LampBusy, hal.On}, {"", phone.LampIdle, hal.Off},
	} {
		notify("1002", dialogInfo(v, "1002", st.dialog), 200)
		v++
		waitFor(t, "blf1 "+st.lamp, 5*time.Second, func() bool {
			return a.lamp("blf1").State == st.lamp && led.Get(hal.LEDBLF1) == st.led
		})
	}
	notify("1003", dialogInfo(1, "1003", dialoginfo.Confirmed), 200)
	waitFor(t, "blf2 busy", 5*time.Second, func() bool { return a.lamp("blf2").State == phone.LampBusy })
	if got := a.d.Status().Lines[0].Subscriptions; len(got) != 2 || got[0].Event != "dialog" || got[0].State != "active" {
		t.Errorf("line 0 subscriptions: %+v", got)
	}

	// Broken XML, a DOCTYPE, a state RFC 4235 does not have: 400, the lamp keeps its state.
	for _, bad := range [][]byte{
		[]byte("<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"9\" state=\"full\""),
		[]byte("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"9\" state=\"full\" entity=\"sip:1003@x\"/>"),
		dialogInfo(9, "1003", "exploded"),
	} {
		notify("1003", bad, 400)
	}
	if l := a.lamp("blf2"); l.State != phone.LampBusy {
		t.Errorf("blf2 after malformed NOTIFYs: %+v", l)
	}

	// The server ends 1003's subscription for good: its lamp is unknown.
	if err := p.Terminate(ctx, "dialog", "1003", "noresource"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "blf2 unknown", 5*time.Second, func() bool { return a.lamp("blf2").State == phone.LampUnknown })

	// Idle: the key calls the user.
	a.keys.Press(hal.KeyBLF1)
	waitFor(t, "blf1 calls 1002", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	hangupAll(t, a, b)

	// Ringing with the dialog identified: the key sends an INVITE with
	// Replaces, which B refuses 481 (it did not initiate that dialog,
	// RFC 3891 §3): A's call fails and B never rings.
	notify("1002", dialogInfo(v, "1002", dialoginfo.Early), 200)
	waitFor(t, "blf1 ringing with pickup", 5*time.Second, func() bool {
		l := a.lamp("blf1")
		return l.State == phone.LampRinging && l.Pickup
	})
	a.keys.Press(hal.KeyBLF1)
	waitFor(t, "the pickup fails 481", 10*time.Second, func() bool {
		return slices.ContainsFunc(a.d.store.history.List(phone.KindPlaced, 0), func(e history.Entry) bool {
			return strings.Contains(e.Remote, "1002") && e.Code == 481
		})
	})
	if b.callIn("1001", "incoming") {
		t.Error("the pickup rang B")
	}
	hangupAll(t, a, b)
}

// TestBLFPickupCode: blf2 with a pickup code, while 1003 rings, dials
// the code and the user.
func TestBLFPickupCode(t *testing.T) {
	p, phones := office(t, 1, func(i int, c *config.Config) {
		c.BLF = []config.BLFKey{{Key: "blf2", User: "1003", PickupCode: "*8"}}
	})
	a := phones[0]
	waitFor(t, "A subscribed to 1003", 10*time.Second, func() bool {
		return slices.ContainsFunc(p.Subscriptions(), func(s pbx.EventSub) bool { return s.Event == "dialog" && s.User == "1003" })
	})
	if _, err := p.Notify(context.Background(), "dialog", "1003", dialoginfo.MediaType, dialogInfo(1, "1003", dialoginfo.Early)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "blf2 ringing", 5*time.Second, func() bool { l := a.lamp("blf2"); return l.State == phone.LampRinging && l.Pickup })
	a.keys.Press(hal.KeyBLF2)
	waitFor(t, "A dialled *81003", 10*time.Second, func() bool { return a.placed("*81003") })
	hangupAll(t, a)
}

// TestBLFResourceList: a line with blf_list subscribes once to the list
// (RFC 4662) instead of once per key, and each key follows the list's
// entry for its user; a key on a disabled account is left out.
func TestBLFResourceList(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "blf-1001": "x"})
	off := pbxAccount(p, "1009", "pw1009", "")
	off.Enabled = false
	on := pbxAccount(p, "1001", "pw1001", "")
	on.BLFList = "blf-1001"
	a := startLines(t, []config.Account{off, on}, 30860, hzA, func(c *config.Config) {
		c.BLF = []config.BLFKey{
			{Key: "blf1", Line: 1, User: "1002"},
			{Key: "blf2", Line: 1, User: "1003"},
			{Key: "blf3", Line: 0, User: "1004"}, // disabled account: left out
		}
	})
	waitFor(t, "A subscribed to its list", 10*time.Second, func() bool {
		return a.registered() && slices.ContainsFunc(p.Subscriptions(), func(s pbx.EventSub) bool { return s.Event == "dialog" && s.User == "blf-1001" })
	})
	if subs := p.Subscriptions(); len(subs) != 1 {
		t.Errorf("subscriptions %+v, want the list's only", subs)
	}
	if ls := a.d.Status().Phone.Lamps; len(ls) != 2 || ls[0].Line != 0 || ls[1].Key != "blf2" {
		t.Errorf("lamps %+v", ls)
	}
	part := func(cid, user, dialog string) string {
		return "--b1\r\nContent-ID: <" + cid + ">\r\nContent-Type: application/dialog-info+xml\r\n\r\n" +
			`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:` + user + `@127.0.0.1">` +
			dialog + "</dialog-info>\r\n"
	}
	body := "--b1\r\nContent-ID: <root@x>\r\nContent-Type: application/rlmi+xml\r\n\r\n" +
		`<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:blf-1001@127.0.0.1" version="0" fullState="true">` +
		`<resource uri="sip:1002@127.0.0.1"><instance id="i2" state="active" cid="p2@x"/></resource>` +
		`<resource uri="sip:1003@127.0.0.1"><instance id="i3" state="active" cid="p3@x"/></resource></list>` + "\r\n" +
		part("p2@x", "1002", `<dialog id="d" direction="recipient"><state>early</state></dialog>`) +
		part("p3@x", "1003", `<dialog id="d" direction="initiator"><state>confirmed</state></dialog>`) + "--b1--\r\n"
	ct := `multipart/related;type="application/rlmi+xml";start="<root@x>";boundary="b1"`
	if codes, err := p.Notify(context.Background(), "dialog", "blf-1001", ct, []byte(body)); err != nil || len(codes) != 1 || codes[0] != 200 {
		t.Fatalf("list NOTIFY: %v %v", codes, err)
	}
	waitFor(t, "blf1 ringing, blf2 busy", 5*time.Second, func() bool {
		return a.lamp("blf1").State == phone.LampRinging && a.lamp("blf2").State == phone.LampBusy
	})
	if a.lamp("blf1").Pickup {
		t.Error("pickup offered without the dialog's ids")
	}
}

// TestBLFLampsPerLine: two lines at two PBXs, each with a key watching
// user 1002: a PBX's dialog report lights only the key of the line that
// subscribed there (the 1002 of one PBX is not the other's).
func TestBLFLampsPerLine(t *testing.T) {
	users := map[string]string{"1001": "pw1001", "1002": "pw1002"}
	p1, p2 := startPBXWith(t, "test", users), startPBXWith(t, "pbx2.test", users)
	a := startLines(t, []config.Account{pbxAccount(p1, "1001", "pw1001", ""), pbxAccount(p2, "1001", "pw1001", "pbx2.test")}, 33660, hzA,
		func(c *config.Config) {
			c.BLF = []config.BLFKey{{Key: "blf1", Line: 0, User: "1002"}, {Key: "blf2", Line: 1, User: "1002"}}
		})
	subscribed := func(p *pbx.Server) bool {
		return slices.ContainsFunc(p.Subscriptions(), func(s pbx.EventSub) bool { return s.Event == "dialog" && s.User == "1002" })
	}
	waitFor(t, "both lines subscribed to 1002", 10*time.Second, func() bool { return subscribed(p1) && subscribed(p2) })
	ctx := context.Background()
	if codes, err := p2.Notify(ctx, "dialog", "1002", dialoginfo.MediaType, dialogInfo(1, "1002", dialoginfo.Confirmed)); err != nil || len(codes) != 1 || codes[0] != 200 {
		t.Fatalf("NOTIFY from the second PBX: %v %v", codes, err)
	}
	waitFor(t, "blf2 busy", 5*time.Second, func() bool { return a.lamp("blf2").State == phone.LampBusy })
	if l := a.lamp("blf1"); l.State != phone.LampUnknown {
		t.Fatalf("line 1's report lit line 0's key: %+v", l)
	}
	if codes, err := p1.Notify(ctx, "dialog", "1002", dialoginfo.MediaType, dialogInfo(1, "1002", dialoginfo.Early)); err != nil || len(codes) != 1 || codes[0] != 200 {
		t.Fatalf("NOTIFY from the first PBX: %v %v", codes, err)
	}
	waitFor(t, "blf1 ringing", 5*time.Second, func() bool { return a.lamp("blf1").State == phone.LampRinging })
	if l := a.lamp("blf2"); l.State != phone.LampBusy {
		t.Fatalf("line 0's report changed line 1's key: %+v", l)
	}
}

// TestApplyBLFLive: busy lamp keys saved while the phone runs take
// effect without a restart. A key added subscribes to its user and
// lights; a key removed un-SUBSCRIBEs and leaves the status; a key that
// stays keeps its lamp.
func TestApplyBLFLive(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"})
	lp := startLiveWith(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 31460, hzA, func(c *config.Config) {
		c.BLF = []config.BLFKey{{Key: "blf1", User: "1002"}}
	}, nil)
	waitFor(t, "registered", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	subscribed := func(user string) bool {
		return slices.ContainsFunc(p.Subscriptions(), func(s pbx.EventSub) bool { return s.Event == "dialog" && s.User == user })
	}
	waitFor(t, "subscribed to 1002", 10*time.Second, func() bool { return subscribed("1002") })
	ctx := context.Background()
	notify := func(user string, version int, state string) {
		t.Helper()
		codes, err := p.Notify(ctx, "dialog", user, dialoginfo.MediaType, dialogInfo(version, user, state))
		if err != nil || len(codes) != 1 || codes[0] != 200 {
			t.Fatalf("NOTIFY %s: %v %v", user, codes, err)
		}
	}

	code, doc := lp.send(t, "PATCH", `{"blf":[{"key":"blf1","user":"1002"},{"key":"blf2","user":"1003","label":"Carol"}]}`)
	if code != 200 || doc["restart_required"] != false {
		t.Fatalf("PATCH adding blf2 = %d %v, want 200 without restart", code, doc)
	}
	waitFor(t, "subscribed to 1003", 10*time.Second, func() bool { return subscribed("1003") })
	if l := lp.lamp("blf2"); l.User != "1003" || l.Label != "Carol" || l.State != phone.LampUnknown {
		t.Fatalf("blf2 after the PATCH: %+v", l)
	}
	notify("1003", 1, dialoginfo.Confirmed)
	led := lp.d.board.Indicator.(*haltest.Indicator)
	waitFor(t, "blf2 busy", 5*time.Second, func() bool {
		return lp.lamp("blf2").State == phone.LampBusy && led.Get(hal.LEDBLF2) == hal.On
	})
	notify("1002", 1, dialoginfo.Confirmed)
	waitFor(t, "blf1 busy", 5*time.Second, func() bool { return led.Get(hal.LEDBLF1) == hal.On })

	code, doc = lp.send(t, "PATCH", `{"blf":[{"key":"blf2","user":"1003","label":"Carol"}]}`)
	if code != 200 || doc["restart_required"] != false {
		t.Fatalf("PATCH removing blf1 = %d %v", code, doc)
	}
	waitFor(t, "1002 unsubscribed", 10*time.Second, func() bool { return !subscribed("1002") })
	if l := lp.lamp("blf1"); l.Key != "" {
		t.Errorf("blf1 still in the status: %+v", l)
	}
	if led.Get(hal.LEDBLF1) != hal.Off {
		t.Error("the removed key's lamp is still on")
	}
	if l := lp.lamp("blf2"); l.State != phone.LampBusy {
		t.Errorf("blf2 lost its lamp: %+v", l)
	}
	if !subscribed("1003") {
		t.Error("1003's subscription went with the other key")
	}
}
