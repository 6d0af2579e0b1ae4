package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/hal/tone"
)

// hearsAt reports whether the last 200 ms the phone played, at rate,
// contain hz.
func (tp *testPhone) hearsAt(hz float64, rate int) bool {
	n := rate / 5
	s := tp.out.Samples(n)
	return len(s) == n && tone.Contains(s, hz, rate)
}

// TestWidebandCall: two phones with 16 kHz handsets call each other
// through the PBX in G.722, and a 6 kHz tone (beyond G.711's 4 kHz band)
// arrives; a third phone offering G.711 only still gets a call, in PCMU,
// and the wideband phone hears it on its 16 kHz speaker.
func TestWidebandCall(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"})
	wide := func(c *config.Config) {
		c.Audio.SampleRate = 16000
		c.Codecs = []string{"G722", "PCMU"}
	}
	a := startPhoneWith(t, p, "1001", "pw1001", 31060, 6000, wide)
	b := startPhoneWith(t, p, "1002", "pw1002", 31260, 5000, wide)
	c := startPhoneWith(t, p, "1003", "pw1003", 31460, 1300, func(c *config.Config) { c.Codecs = []string{"PCMU"} })
	waitFor(t, "every phone registered", 10*time.Second, func() bool { return a.registered() && b.registered() && c.registered() })
	ctx := context.Background()
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1002 rings", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	in, _ := b.call("1001")
	if err := b.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1002 hears 1001's 6 kHz", 5*time.Second, func() bool { return b.hearsAt(6000, 16000) })
	waitFor(t, "1001 hears 1002's 5 kHz", 5*time.Second, func() bool { return a.hearsAt(5000, 16000) })
	if got := codecOf(a, "1002"); got != "G722" {
		t.Errorf("1001's call with 1002 is in %q, want G722", got)
	}
	hangupAll(t, a, b)

	if err := a.d.Phone().Call(ctx, "1003"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1003 rings", 5*time.Second, func() bool { return c.callIn("1001", "incoming") })
	in, _ = c.call("1001")
	if err := c.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1001 hears 1003 (G.711 on a 16 kHz speaker)", 5*time.Second, func() bool { return a.hearsAt(1300, 16000) })
	if got := codecOf(a, "1003"); got != "PCMU" {
		t.Errorf("1001's call with 1003 is in %q, want PCMU", got)
	}
	// 1001's 6 kHz cannot pass G.711: 1003 hears nothing of it.
	stays(t, "1003 not hearing 6 kHz folded into its band", time.Second, func() bool {
		s := c.out.Samples(1600)
		return !tone.Contains(s, 2000, 8000) && !tone.Contains(s, 6000, 8000)
	})
	hangupAll(t, a, c)
}

// codecOf returns the codec of the phone's call with user.
func codecOf(tp *testPhone, user string) string {
	for _, c := range tp.d.Status().Calls {
		if strings.Contains(c.Remote, user) {
			return c.Codec
		}
	}
	return ""
}

// TestLineCodecs: an account's own codecs list wins over the top level's
// (wideband first by default): a line set to PCMA calls in PCMA.
func TestLineCodecs(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
	a := startPhoneWith(t, p, "1001", "pw1001", 31660, 700, func(c *config.Config) { c.Accounts[0].Codecs = []string{"PCMA"} })
	b := startPhoneWith(t, p, "1002", "pw1002", 31860, 1000, nil)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	ctx := context.Background()
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1002 rings", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	in, _ := b.call("1001")
	if err := b.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1002 hears 1001", 5*time.Second, func() bool { return b.hears(700) })
	if got := codecOf(a, "1002"); got != "PCMA" {
		t.Errorf("1001's call is in %q, want its line's PCMA", got)
	}
	hangupAll(t, a, b)
}
