package wavfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := []int16{0, 1, -1, 32767, -32768, 1234}
	var b bytes.Buffer
	if err := Encode(&b, in, 8000); err != nil {
		t.Fatal(err)
	}
	out, rate, err := Decode(&b)
	if err != nil || rate != 8000 {
		t.Fatalf("decode: rate=%d err=%v", rate, err)
	}
	if len(out) != len(in) {
		t.Fatalf("len %d, want %d", len(out), len(in))
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("sample %d = %d, want %d", i, out[i], in[i])
		}
	}
}

func TestDecodeRefusesBadFiles(t *testing.T) {
	var good bytes.Buffer
	Encode(&good, []int16{1, 2}, 8000)
	g := good.Bytes()
	bits8 := append([]byte(nil), g...)
	binary.LittleEndian.PutUint16(bits8[34:], 8)
	alaw := append([]byte(nil), g...)
	binary.LittleEndian.PutUint16(alaw[20:], 6)
	for name, b := range map[string][]byte{
		"empty": nil, "not riff": []byte("RIFX0000WAVEfmt "), "8-bit": bits8,
		"a-law": alaw, "no data": g[:36],
	} {
		if _, _, err := Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, _, err := Decode(bytes.NewReader(bits8)); !errors.Is(err, ErrFormat) {
		t.Errorf("8-bit: err = %v, want ErrFormat", err)
	}
}

func FuzzDecode(f *testing.F) {
	var good bytes.Buffer
	Encode(&good, []int16{1, 2, 3}, 8000)
	f.Add(good.Bytes())
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(bytes.NewReader(b))
	})
}

func TestOutWritesWhatItPlays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out.wav")
		o, err := NewOut(hal.Narrowband, path)
		if err != nil {
			t.Fatal(err)
		}
		o.Start(NewLoop([]int16{100, -100}))
		time.Sleep(1010 * time.Millisecond) // 50 frames
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		s, rate, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if rate != 8000 || len(s) != 50*160 {
			t.Fatalf("rate %d, %d samples; want 8000 and %d", rate, len(s), 50*160)
		}
		if s[0] != 100 || s[1] != -100 || s[len(s)-1] != -100 {
			t.Fatalf("content %v...%v", s[:2], s[len(s)-1])
		}
	})
}

func TestPacedInKeepsDeviceTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := NewPacedIn(hal.Narrowband, NewLoop([]int16{7}))
		buf := make([]int16, 160)
		start := time.Now()
		for range 10 {
			if err := in.ReadFrame(context.Background(), buf); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(start); el != 200*time.Millisecond {
			t.Fatalf("10 frames took %v, want 200ms", el)
		}
		if buf[0] != 7 {
			t.Fatalf("sample %d", buf[0])
		}
		in.Close()
		if err := in.ReadFrame(context.Background(), buf); err == nil {
			t.Fatal("read after close succeeded")
		}
	})
}

func TestReadFileMissing(t *testing.T) {
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "none.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

// TestPacedInFollowsClock: a microphone given a speaker's clock captures
// on the speaker's frame ticks while it plays, and on its own time while
// it does not.
func TestPacedInFollowsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hal.Narrowband
		out, err := NewOut(f, "")
		if err != nil {
			t.Fatal(err)
		}
		in := NewPacedIn(f, NewLoop([]int16{1, 2, 3}))
		in.SetClock(out.Clock())
		buf := make([]int16, f.FrameSamples())
		// The speaker does not run: the microphone keeps its own time.
		t0 := time.Now()
		if err := in.ReadFrame(t.Context(), buf); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != f.Frame {
			t.Fatalf("first frame after %v, want %v", d, f.Frame)
		}
		// The speaker starts 5 ms later: its ticks pace the microphone.
		time.Sleep(5 * time.Millisecond)
		start := time.Now()
		if err := out.Start(NewLoop(nil)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for i := 1; i <= 3; i++ {
			if err := in.ReadFrame(t.Context(), buf); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != time.Duration(i)*f.Frame {
				t.Fatalf("frame %d at %v after the speaker started, want its tick at %v", i, d, time.Duration(i)*f.Frame)
			}
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		in.Close()
	})
}
