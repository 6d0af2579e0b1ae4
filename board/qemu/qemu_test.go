package qemu

import (
	"bufio"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/serialio"
)

func TestBoardPanelAndAudio(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP:", err)
	}
	dir := t.TempDir()
	mic := filepath.Join(dir, "mic.raw")
	pcm := make([]byte, 320)
	for i := range 160 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(i*10)))
	}
	if err := os.WriteFile(mic, pcm, 0o644); err != nil {
		t.Fatal(err)
	}
	spk := filepath.Join(dir, "spk.raw")
	b, err := Open(Options{Listener: ln, MicFile: mic, SpeakerFile: spk})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "qemu" || b.Keypad == nil || b.Hook == nil || b.Indicator == nil || b.Ringer == nil ||
		b.Codec == nil || b.AudioIn == nil || b.AudioOut == nil {
		t.Fatalf("incomplete board %+v", b)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) {
		t.Helper()
		c.Write([]byte(line + "\n"))
		if got, _ := r.ReadString('\n'); got != "ok\n" {
			t.Fatalf("%q answered %q", line, got)
		}
	}
	say("hook off")
	if ev := <-b.Hook.Events(); !ev.OffHook {
		t.Fatalf("%+v", ev)
	}
	say("key 7")
	if ev := <-b.Keypad.Events(); ev.Key != '7' || !ev.Down {
		t.Fatalf("%+v", ev)
	}
	go b.Ringer.Ring()
	if got, _ := r.ReadString('\n'); got != "ring on\n" {
		t.Fatalf("host read %q", got)
	}

	frame := make([]int16, 160)
	if err := b.AudioIn.ReadFrame(context.Background(), frame); err != nil || frame[5] != 50 {
		t.Fatalf("mic frame %v..., %v", frame[:6], err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spk); err != nil {
		t.Errorf("speaker file: %v", err)
	}
	// The ringer reports "ring off" as it closes, then the panel hangs up.
	for range 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if line != "ring off\n" {
			t.Errorf("after Close the host read %q", line)
		}
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("panel connection open after Close")
	}
}

func TestUnixSocketAndErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "panel.sock")
	b, err := Open(Options{Listen: "unix:" + sock})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("dial 12\n"))
	if got, _ := bufio.NewReader(c).ReadString('\n'); got != "ok\n" {
		t.Fatalf("got %q", got)
	}
	c.Close()
	b.Close()

	for _, o := range []Options{
		{Listen: "udp:1.2.3.4:5"},
		{Listen: "none", MicFile: "/nonexistent/mic.raw"},
		{Listen: "none", MicFile: "a", MicUDP: "b"},
		{Listen: "none", Serial: "/nonexistent/tty"},
		{Listen: "none", Format: hal.Format{SampleRate: 44100, Channels: 1, Frame: 1}},
	} {
		if _, err := Open(o); err == nil || !strings.HasPrefix(err.Error(), "board qemu:") {
			t.Errorf("Open(%+v) err = %v", o, err)
		}
	}
}

func TestBoardUDPAudio(t *testing.T) {
	host, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback UDP:", err)
	}
	defer host.Close()
	b, err := Open(Options{Listen: "none", MicUDP: "127.0.0.1:0", SpeakerUDP: host.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Speaker: a frame of a known pattern arrives at the host.
	b.AudioOut.Start(hal.FrameSourceFunc(func(dst []int16) {
		for i := range dst {
			dst[i] = int16(i + 1)
		}
	}))
	buf := make([]byte, 1000)
	n, _, err := host.ReadFrom(buf)
	if err != nil || n != 320 || binary.LittleEndian.Uint16(buf[2*9:]) != 10 {
		t.Fatalf("speaker datagram: %d bytes, %v", n, err)
	}
	// Microphone: the host sends a frame to the board.
	mic := b.AudioIn.(*serialio.UDPIn)
	frame := make([]byte, 320)
	binary.LittleEndian.PutUint16(frame[2*3:], 777)
	if _, err := host.WriteTo(frame, mic.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got := make([]int16, 160)
	for range 100 {
		if err := mic.ReadFrame(context.Background(), got); err != nil {
			t.Fatal(err)
		}
		if got[3] == 777 {
			return
		}
	}
	t.Fatal("microphone frame never arrived")
}

func TestSetAudio(t *testing.T) {
	var o Options
	if err := o.SetAudio("udp::7001", "file:/tmp/spk.raw"); err != nil {
		t.Fatal(err)
	}
	if o.MicUDP != ":7001" || o.SpeakerFile != "/tmp/spk.raw" || o.MicFile != "" || o.SpeakerUDP != "" {
		t.Errorf("%+v", o)
	}
	if err := o.SetAudio("mic.raw", "udp:10.0.2.2:7002"); err != nil {
		t.Fatal(err)
	}
	if o.MicFile != "mic.raw" || o.SpeakerUDP != "10.0.2.2:7002" || o.MicUDP != "" || o.SpeakerFile != "" {
		t.Errorf("%+v", o)
	}
	if err := o.SetAudio("", ""); err != nil || o.MicFile != "" || o.SpeakerUDP != "" {
		t.Errorf("empty specs: %+v %v", o, err)
	}
	for _, bad := range [][2]string{{"udp:nope", ""}, {"", "file:"}} {
		if err := o.SetAudio(bad[0], bad[1]); err == nil {
			t.Errorf("SetAudio(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestSetAudioConfigWords: the config's "silence"/"device" microphone and
// "null"/"speaker" output mean the board's own (silent, discarded) here,
// not files of those names.
func TestSetAudioConfigWords(t *testing.T) {
	for _, in := range []string{"silence", "device", ""} {
		for _, out := range []string{"null", "speaker", ""} {
			var o Options
			if err := o.SetAudio(in, out); err != nil {
				t.Fatal(err)
			}
			if o.MicFile != "" || o.MicUDP != "" || o.SpeakerFile != "" || o.SpeakerUDP != "" {
				t.Fatalf("%q %q: %+v", in, out, o)
			}
		}
	}
	var o Options
	if err := o.SetAudio("mic.raw", "udp:127.0.0.1:9"); err != nil || o.MicFile != "mic.raw" || o.SpeakerUDP != "127.0.0.1:9" {
		t.Fatalf("%+v %v", o, err)
	}
}

// TestScreenStream: the board's display is served as text; a client sees
// each frame drawn, and Close ends the stream.
func TestScreenStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(Options{Listen: "none", ScreenListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if b.Display == nil || b.Display.Bounds() != image.Rect(0, 0, 128, 64) {
		t.Fatalf("display %v", b.Display)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	frame := func() string {
		var s strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a frame: %v", err)
			}
			s.WriteString(line)
			if strings.Contains(line, "└") {
				return s.String()
			}
		}
	}
	if f := frame(); strings.Contains(f, "\u2801") {
		t.Fatal("the first frame is not blank")
	}
	img := image.NewGray(image.Rect(0, 0, 128, 64))
	img.SetGray(0, 0, color.Gray{255})
	if err := b.Display.Draw(img); err != nil {
		t.Fatal(err)
	}
	if f := frame(); !strings.Contains(f, "│\u2801") {
		t.Fatalf("the drawn pixel is not in the frame:\n%s", f)
	}
	b.Close()
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("screen stream open after Close")
	}
	if _, err := Open(Options{Listen: "none", ScreenListen: "udp:1.2.3.4:5"}); err == nil {
		t.Error("bad screen_listen accepted")
	}
}
