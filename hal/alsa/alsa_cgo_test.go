//go:build linux && cgo && alsa

package alsa

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/hal"
)

func TestNoSuchDevice(t *testing.T) {
	_, err := NewIn(&Opts{Device: "hw:97,0"})
	if err == nil {
		t.Fatal("opened a card that does not exist")
	}
	if !strings.Contains(err.Error(), "snd_pcm_open") {
		t.Errorf("error %q does not say which call failed", err)
	}
}

// sine is a continuous tone.
type sine struct {
	step, phase float64
}

func (s *sine) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = int16(8000 * math.Sin(s.phase))
		s.phase += s.step
	}
}

func goertzel(s []int16, freq float64, rate int) float64 {
	c := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, x := range s {
		s0 := float64(x)/32768 + c*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / (float64(len(s)) * float64(len(s)) / 4)
}

// TestLoopback plays a 1 kHz tone into ALSA's loopback card and captures
// it from the other side, measuring the round trip.
func TestLoopback(t *testing.T) {
	cards, err := os.ReadFile("/proc/asound/cards")
	if err != nil || !bytes.Contains(cards, []byte("Loopback")) {
		t.Skip("no ALSA loopback card on this machine (load it with `modprobe snd-aloop`); skipping the tone loopback test")
	}
	t.Setenv("ALSA_CARD", "Loopback")  // oto plays on "default", i.e. this card
	for _, rate := range []int{8000} { // oto fixes one rate per process
		f := hal.Format{SampleRate: rate, Channels: 1, Frame: 20 * time.Millisecond}
		out, err := NewOut(&Opts{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		in, err := NewIn(&Opts{Device: "plughw:Loopback,1,0", Format: f})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		frame := make([]int16, f.FrameSamples())
		// Drain what was captured before the tone.
		for range 5 {
			if err := in.ReadFrame(ctx, frame); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		out.Start(&sine{step: 2 * math.Pi * 1000 / float64(rate)})
		var heard time.Duration
		for heard == 0 {
			if err := in.ReadFrame(ctx, frame); err != nil {
				t.Fatalf("no tone came back: %v", err)
			}
			if goertzel(frame, 1000, rate) > 0.01 {
				heard = time.Since(start)
			}
		}
		var long []int16
		for range 10 {
			if err := in.ReadFrame(ctx, frame); err != nil {
				t.Fatal(err)
			}
			long = append(long, frame...)
		}
		if p, q := goertzel(long, 1000, rate), goertzel(long, 1300, rate); p < 0.01 || q > p/10 {
			t.Errorf("captured 1 kHz power %.4f, 1.3 kHz %.4f: not the tone", p, q)
		}
		t.Logf("%d Hz: tone heard after %v (nominal playback %v + capture %v), %d overruns",
			rate, heard, out.Latency(), in.Latency(), in.Overruns())
	}
}
