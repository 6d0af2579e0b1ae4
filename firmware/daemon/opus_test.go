package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/voip/codec"
)

// TestOpusCall: two phones with 16 kHz handsets that list Opus first call
// each other through the PBX in Opus when the build has it (cgo, -tags
// opus) and hear each other's 6 and 5 kHz tones; in a build without it
// Opus is negotiated away and the same call is G.722. A third phone
// offering G.722 and PCMU only gets G.722 either way.
func TestOpusCall(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"})
	withOpus := func(c *config.Config) {
		c.Audio.SampleRate = 16000
		c.Codecs = []string{"OPUS", "G722", "PCMU"}
	}
	a := startPhoneWith(t, p, "1001", "pw1001", 36460, 6000, withOpus)
	b := startPhoneWith(t, p, "1002", "pw1002", 36660, 5000, withOpus)
	c := startPhoneWith(t, p, "1003", "pw1003", 36860, 3000, func(c *config.Config) {
		c.Audio.SampleRate = 16000
		c.Codecs = []string{"G722", "PCMU"}
	})
	waitFor(t, "every phone registered", 10*time.Second, func() bool { return a.registered() && b.registered() && c.registered() })
	want := "G722"
	if codec.OpusAvailable {
		want = "opus"
	}
	ctx := context.Background()
	answer := func(from, to *testPhone, fromUser string) {
		t.Helper()
		waitFor(t, "the callee rings", 5*time.Second, func() bool { return to.callIn(fromUser, "incoming") })
		in, _ := to.call(fromUser)
		if err := to.d.Phone().AnswerCall(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	answer(a, b, "1001")
	waitFor(t, "1002 hears 1001's 6 kHz", 5*time.Second, func() bool { return b.hearsAt(6000, 16000) })
	waitFor(t, "1001 hears 1002's 5 kHz", 5*time.Second, func() bool { return a.hearsAt(5000, 16000) })
	if got := codecOf(a, "1002"); got != want {
		t.Errorf("1001's call with 1002 is in %q, want %s (Opus in this build: %v)", got, want, codec.OpusAvailable)
	}
	if got := codecOf(b, "1001"); got != want {
		t.Errorf("1002's call with 1001 is in %q, want %s", got, want)
	}
	hangupAll(t, a, b)

	// The far end lacks Opus: G.722, whichever side offers.
	if err := c.d.Phone().Call(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	answer(c, a, "1003")
	waitFor(t, "1001 hears 1003's 3 kHz", 5*time.Second, func() bool { return a.hearsAt(3000, 16000) })
	waitFor(t, "1003 hears 1001's 6 kHz", 5*time.Second, func() bool {
		s := c.out.Samples(3200)
		return len(s) == 3200 && tone.Contains(s, 6000, 16000)
	})
	if got := codecOf(a, "1003"); got != "G722" {
		t.Errorf("1001's call with 1003 is in %q, want G722", got)
	}
	hangupAll(t, a, c)
}
