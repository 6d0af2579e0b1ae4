package sim

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/hal/wavfile"
)

func TestParseKeys(t *testing.T) {
	keys, hook, err := ParseKeys("lift 12#")
	if err != nil || hook == nil || !*hook || string(runesOf(keys)) != "12#" {
		t.Fatalf("keys=%v hook=%v err=%v", keys, hook, err)
	}
	keys, _, err = ParseKeys("hold vol+")
	if err != nil || len(keys) != 2 || keys[0] != hal.KeyHold || keys[1] != hal.KeyVolUp {
		t.Fatalf("keys=%v err=%v", keys, err)
	}
	if keys, _, err := ParseKeys("menu down ok soft1"); err != nil || len(keys) != 4 || keys[0] != hal.KeyMenu || keys[3] != hal.KeySoft1 {
		t.Fatalf("screen keys: %v %v", keys, err)
	}
	if _, _, err := ParseKeys("12x"); err == nil {
		t.Fatal("bad key accepted")
	}
}

func runesOf(k []hal.Key) []rune {
	r := make([]rune, len(k))
	for i := range k {
		r[i] = rune(k[i])
	}
	return r
}

func TestTerminalKeysAndHook(t *testing.T) {
	b, err := Open(Options{Keys: strings.NewReader("lift\n55#\nhang\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ev := <-b.Hook.Events()
	if !ev.OffHook {
		t.Fatal("first hook event is not a lift")
	}
	var got []rune
	for len(got) < 3 {
		k := <-b.Keypad.Events()
		if k.Down {
			got = append(got, rune(k.Key))
		}
	}
	if string(got) != "55#" {
		t.Fatalf("keys %q", string(got))
	}
	if ev := <-b.Hook.Events(); ev.OffHook {
		t.Fatal("second hook event is not a hang-up")
	}
}

func TestToneInputAndWavOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out.wav")
		b, err := Open(Options{Input: "tone:440", Output: "wav:" + path})
		if err != nil {
			t.Fatal(err)
		}
		// Loop the microphone to the speaker for one second.
		frame := make([]int16, 160)
		if err := b.AudioIn.ReadFrame(context.Background(), frame); err != nil {
			t.Fatal(err)
		}
		if !tone.Contains(frame, 440, 8000) {
			t.Fatal("microphone frame has no 440 Hz")
		}
		b.AudioOut.Start(tone.Sine(1000, 8000, -10))
		// Half a frame past the 50th tick: at exactly one second the
		// sleep and the speaker's 50th tick are due together, and Close
		// may win, leaving 49 frames (7840 samples).
		time.Sleep(time.Second + 10*time.Millisecond)
		b.Close()
		s, _, err := wavfile.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) < 8000 || !tone.Contains(s[len(s)-800:], 1000, 8000) {
			t.Fatalf("recorded %d samples without the 1 kHz tone", len(s))
		}
	})
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Input: "tone:abc"}, {Input: "tone:5000"}, {Input: "mic"}, {Output: "hdmi"}, {Input: "wav:/nonexistent.wav"}} {
		if _, err := Open(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
