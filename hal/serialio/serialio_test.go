package serialio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

func TestParseLine(t *testing.T) {
	good := map[string]Command{
		"key 5":              {Op: OpKey, Keys: []hal.Key{'5'}},
		"KEY Vol+":           {Op: OpKey, Keys: []hal.Key{hal.KeyVolUp}},
		"press #":            {Op: OpKey, Keys: []hal.Key{'#'}},
		"down speaker":       {Op: OpDown, Keys: []hal.Key{hal.KeySpeaker}},
		"up speaker\r":       {Op: OpUp, Keys: []hal.Key{hal.KeySpeaker}},
		"dial 12*#":          {Op: OpKey, Keys: []hal.Key{'1', '2', '*', '#'}},
		"hook off":           {Op: OpHook, OffHook: true},
		"hook on":            {Op: OpHook},
		"lift":               {Op: OpHook, OffHook: true},
		"hangup":             {Op: OpHook},
		"  # a comment":      {},
		"":                   {},
		"help":               {Op: OpHelp},
		"\tkey\t  vol-   \t": {Op: OpKey, Keys: []hal.Key{hal.KeyVolDown}},
	}
	for line, want := range good {
		got, err := ParseLine(line)
		if err != nil || got.Op != want.Op || got.OffHook != want.OffHook || !slices.Equal(got.Keys, want.Keys) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", line, got, err, want)
		}
	}
	for _, line := range []string{"key", "key 55", "key 5 6", "dial 12a", "dial", "hook", "hook up down",
		"hook sideways", "lift now", "frobnicate", "down", strings.Repeat("k", MaxLine+1)} {
		if _, err := ParseLine(line); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseLine(%q) err = %v, want ErrSyntax", line, err)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("key 5")
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseLine(line)
		if err != nil {
			return
		}
		switch cmd.Op {
		case OpKey:
			if len(cmd.Keys) == 0 {
				t.Fatalf("%q: key command without keys", line)
			}
		case OpDown, OpUp:
			if len(cmd.Keys) != 1 {
				t.Fatalf("%q: %d keys", line, len(cmd.Keys))
			}
		}
		for _, k := range cmd.Keys {
			if _, ok := hal.KeyByName(k.String()); !ok {
				t.Fatalf("%q: key %v has no name", line, k)
			}
		}
	})
}

// host is the far end of a connection to the panel.
type host struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (h *host) send(line string) string {
	h.t.Helper()
	if _, err := h.c.Write([]byte(line + "\n")); err != nil {
		h.t.Fatal(err)
	}
	return h.line()
}

func (h *host) line() string {
	h.t.Helper()
	s, err := h.r.ReadString('\n')
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSuffix(s, "\n")
}

func keyEvents(t *testing.T, kp hal.Keypad, n int) []string {
	t.Helper()
	var s []string
	for range n {
		select {
		case ev := <-kp.Events():
			d := "up"
			if ev.Down {
				d = "down"
			}
			s = append(s, ev.Key.String()+" "+d)
		default:
			t.Fatalf("only %d of %d key events: %v", len(s), n, s)
		}
	}
	select {
	case ev := <-kp.Events():
		t.Fatalf("extra key event %+v", ev)
	default:
	}
	return s
}

func TestPanelOverPipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(nil)
		a, b := net.Pipe()
		if err := p.Attach(a); err != nil {
			t.Fatal(err)
		}
		h := &host{t: t, c: b, r: bufio.NewReader(b)}
		kp, hk := p.Keypad(), p.Hook()

		if r := h.send("hook off"); r != "ok" {
			t.Fatalf("hook off: %q", r)
		}
		if ev := <-hk.Events(); !ev.OffHook || !hk.OffHook() {
			t.Fatalf("hook event %+v", ev)
		}
		if r := h.send("hook off"); r != "ok" { // no change: no event
			t.Fatal(r)
		}
		if r := h.send("dial 12#"); r != "ok" {
			t.Fatal(r)
		}
		if got, want := keyEvents(t, kp, 6), []string{"1 down", "1 up", "2 down", "2 up", "# down", "# up"}; !slices.Equal(got, want) {
			t.Fatalf("dial: %v", got)
		}
		h.send("down vol+")
		h.send("up vol+")
		if got := keyEvents(t, kp, 2); !slices.Equal(got, []string{"vol+ down", "vol+ up"}) {
			t.Fatalf("down/up: %v", got)
		}
		if r := h.send("key 55"); !strings.HasPrefix(r, "err ") {
			t.Fatalf("bad key answered %q", r)
		}
		if r := h.send("help"); !strings.HasPrefix(r, "commands:") {
			t.Fatalf("help: %q", r)
		}
		if r := h.send("# just a note"); r != "ok" {
			t.Fatal(r)
		}

		// Device to host.
		go func() {
			p.Indicator().Set(hal.LEDLine, hal.BlinkFast)
			p.Ringer().Ring()
			p.Codec().SetRoute(hal.RouteSpeaker)
			p.Codec().SetVolume(80)
			p.Codec().SetMute(true)
		}()
		for _, want := range []string{"led line blink-fast", "ring on", "route speaker", "volume 80", "mute on"} {
			if got := h.line(); got != want {
				t.Fatalf("host read %q, want %q", got, want)
			}
		}
		if err := p.Indicator().Set(hal.LEDLine, hal.Pattern(42)); err == nil {
			t.Error("bad pattern accepted")
		}
		if err := p.Codec().SetVolume(101); err == nil {
			t.Error("volume 101 accepted")
		}

		if r := h.send("hook on"); r != "ok" {
			t.Fatal(r)
		}
		if ev := <-hk.Events(); ev.OffHook {
			t.Fatalf("hang up gave %+v", ev)
		}

		// Close detaches the host and closes the channels.
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := h.r.ReadString('\n'); err == nil {
			t.Error("connection still open after Close")
		}
		if _, ok := <-kp.Events(); ok {
			t.Error("keypad channel open")
		}
		if _, ok := <-hk.Events(); ok {
			t.Error("hook channel open")
		}
		kp.Close()
		hk.Close()
		p.Close()
		if err := p.Attach(b); !errors.Is(err, ErrClosed) {
			t.Errorf("Attach after Close: %v", err)
		}
	})
}

func TestPanelLongLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(nil)
		defer p.Close()
		a, b := net.Pipe()
		p.Attach(a)
		h := &host{t: t, c: b, r: bufio.NewReader(b)}
		go b.Write([]byte(strings.Repeat("x", 1000)))
		if r := h.line(); !strings.HasPrefix(r, "err ") {
			t.Fatalf("long line answered %q", r)
		}
		if _, err := h.r.ReadString('\n'); err == nil {
			t.Error("connection kept after an over-long line")
		}
	})
}

func TestPanelListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP:", err)
	}
	p := New(nil)
	defer p.Close()
	if err := p.AttachListener(ln); err != nil {
		t.Fatal(err)
	}
	p.Ringer().Ring() // before anyone connects: replayed on connect
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := &host{t: t, c: c, r: bufio.NewReader(c)}
	if got := h.line(); got != "ring on" {
		t.Fatalf("new host got %q, want the ringer state", got)
	}
	if r := h.send("lift"); r != "ok" {
		t.Fatal(r)
	}
	if ev := <-p.Hook().Events(); !ev.OffHook {
		t.Fatalf("%+v", ev)
	}
}

func writeRaw(t *testing.T, samples []int16) string {
	t.Helper()
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	path := filepath.Join(t.TempDir(), "mic.raw")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileInLoopsAndPaces(t *testing.T) {
	ramp := make([]int16, 400) // two and a half frames
	for i := range ramp {
		ramp[i] = int16(i - 200)
	}
	path := writeRaw(t, ramp)
	synctest.Test(t, func(t *testing.T) {
		in, err := OpenFileIn(path, hal.Narrowband)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		frame := make([]int16, 160)
		start := time.Now()
		for n := range 5 {
			if err := in.ReadFrame(context.Background(), frame); err != nil {
				t.Fatal(err)
			}
			for i, s := range frame {
				if want := ramp[(n*160+i)%400]; s != want {
					t.Fatalf("frame %d sample %d = %d, want %d", n, i, s, want)
				}
			}
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("5 frames took %v, want 100ms", d)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := in.ReadFrame(ctx, frame); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled read: %v", err)
		}
		in.Close()
		if err := in.ReadFrame(context.Background(), frame); !errors.Is(err, ErrClosed) {
			t.Errorf("read after Close: %v", err)
		}
	})
}

func TestFileInEmpty(t *testing.T) {
	path := writeRaw(t, nil)
	synctest.Test(t, func(t *testing.T) {
		in, err := OpenFileIn(path, hal.Narrowband)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		frame := []int16{1, 2, 3}
		if err := in.ReadFrame(context.Background(), frame); err != nil || frame[0] != 0 {
			t.Fatalf("empty file: %v %v", frame, err)
		}
	})
	if _, err := OpenFileIn(path, hal.Format{SampleRate: 44100, Channels: 2, Frame: time.Millisecond}); err == nil {
		t.Error("bad format accepted")
	}
}

func TestFileOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spk.raw")
	synctest.Test(t, func(t *testing.T) {
		out, err := CreateFileOut(path, hal.Narrowband, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := int16(0)
		out.Start(hal.FrameSourceFunc(func(dst []int16) {
			for i := range dst {
				dst[i] = n
				n++
			}
		}))
		time.Sleep(110 * time.Millisecond)
		out.Start(nil)
		time.Sleep(40 * time.Millisecond)
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		if err := out.Start(nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after Close: %v", err)
		}
	})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 7*320 {
		t.Fatalf("file has %d bytes, want 7 frames", len(b))
	}
	for i := range 7 * 160 {
		s := int16(binary.LittleEndian.Uint16(b[2*i:]))
		want := int16(i)
		if i >= 5*160 {
			want = 0 // silence after Start(nil)
		}
		if s != want {
			t.Fatalf("sample %d = %d, want %d", i, s, want)
		}
	}
}

func TestFileOutLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spk.raw")
	synctest.Test(t, func(t *testing.T) {
		out, err := CreateFileOut(path, hal.Narrowband, 3*320)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(90 * time.Millisecond) // 4 frames: the 4th starts the file over
		out.Close()
	})
	if st, err := os.Stat(path); err != nil || st.Size() != 320 {
		t.Fatalf("limited file: %v %v, want 320 bytes", st.Size(), err)
	}
}

func TestUDPAudio(t *testing.T) {
	rx, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback UDP:", err)
	}
	tx, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewUDPIn(rx, hal.Narrowband, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// Out sends a known frame to In's socket: the loop a host would close.
	out, err := NewUDPOut(tx, rx.LocalAddr(), hal.Narrowband)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// A wrong-sized datagram first: it is dropped and counted.
	if _, err := tx.WriteTo([]byte{1, 2, 3}, rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	out.Start(hal.FrameSourceFunc(func(dst []int16) {
		for i := range dst {
			dst[i] = int16(1000 + i)
		}
	}))
	frame := make([]int16, 160)
	ctx := context.Background()
	got := false
	for range 100 { // up to 2 s of frames for the first datagram to land
		if err := in.ReadFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
		if frame[0] != 0 {
			got = true
			break
		}
	}
	if !got {
		t.Fatal("no frame arrived over UDP")
	}
	for i, s := range frame {
		if s != int16(1000+i) {
			t.Fatalf("sample %d = %d", i, s)
		}
	}
	if in.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", in.Dropped())
	}
	in.Close()
	if err := in.ReadFrame(ctx, frame); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame after Close: %v", err)
	}
}
