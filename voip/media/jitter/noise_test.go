package jitter

import (
	"math"
	"testing"
	"time"
)

func rmsOf(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// TestNoiseFillsGaps: comfort noise plays before the first packet, in
// the gap after the audio it follows (not before its timestamp), stops
// at audio from after it, and is cleared by StopNoise and Reset; the
// generator holds its level for sharp spectra too.
func TestNoiseFillsGaps(t *testing.T) {
	b, err := New(Config{Decode: constDecode})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	b.SetNoise(0, Noise{RMS: 300})
	b.NextFrame(frame)
	if r := rmsOf(frame); math.Abs(20*math.Log10(r/300)) > 2 {
		t.Fatalf("noise before the first packet at RMS %.0f, want 300", r)
	}
	b.StopNoise()
	b.NextFrame(frame)
	if rmsOf(frame) != 0 {
		t.Fatal("StopNoise left noise playing")
	}

	// A fresh stream: audio at 1000.., then noise from 1320 (after two
	// frames of audio).
	b, err = New(Config{Decode: constDecode})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		b.Push(uint16(k), 1000+uint32(160*k), k == 0, repeat(byte(10), 160), t0)
	}
	b.SetNoise(1320, Noise{RMS: 100})
	var out []int16
	for range 6 {
		b.NextFrame(frame)
		out = append(out, frame...)
	}
	// The buffer's delay comes first (silence), then the two frames of
	// audio untouched, then noise.
	start := slicesIndex(out, 1000)
	if start < 0 || start+320 > len(out) {
		t.Fatalf("audio not played: %v", out[:40])
	}
	for i, v := range out[start : start+320] {
		if v != 1000 {
			t.Fatalf("sample %d of the audio is %d: noise came before its timestamp", i, v)
		}
	}
	if r := rmsOf(out[start+320:]); math.Abs(20*math.Log10(r/100)) > 3 {
		t.Fatalf("noise after the audio at RMS %.1f, want 100", r)
	}
	st := b.Stats()
	if st.Noise == 0 || st.Played != 320 {
		t.Fatalf("stats %+v", st)
	}
	// Audio from after the noise's start ends it: once it has played,
	// gaps are concealment again (it fades out within 60 ms), not noise.
	b.Push(2, 1320+3*160, true, repeat(byte(20), 160), t0.Add(time.Second))
	for range 10 {
		b.NextFrame(frame)
	}
	if st := b.Stats(); st.Played != 480 {
		t.Fatalf("the third packet did not play: %+v", st)
	}
	noise := b.Stats().Noise
	b.NextFrame(frame)
	if got := b.Stats().Noise; got != noise || rmsOf(frame) != 0 {
		t.Fatalf("noise after voice resumed: %d -> %d samples, RMS %.0f", noise, got, rmsOf(frame))
	}
	b.SetNoise(0, Noise{RMS: 300})
	b.Reset()
	b.NextFrame(frame)
	if rmsOf(frame) != 0 {
		t.Fatal("Reset left noise playing")
	}
}

func repeat(v byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = v
	}
	return p
}

func slicesIndex(s []int16, v int16) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestNoiseLevelWithSpectrum: the output RMS is the requested level
// whatever the reflection coefficients (within the stability clamp).
func TestNoiseLevelWithSpectrum(t *testing.T) {
	for _, k := range [][]float64{nil, {-0.9}, {0.9}, {-0.95, 0.8, -0.5}, {0.99, 0.99, 0.99, 0.99}, {-2, 3, math.NaN()}} {
		var g noiseGen
		g.set(Noise{RMS: 1000, K: k})
		out := make([]int16, 80000)
		g.fill(out)
		if r := rmsOf(out[8000:]); math.Abs(20*math.Log10(r/1000)) > 1.5 {
			t.Errorf("k %v: RMS %.0f, want 1000", k, r)
		}
	}
}
