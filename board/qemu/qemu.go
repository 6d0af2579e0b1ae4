package qemu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/serialio"
	"github.com/deskphone/phone/hal/termpanel"
)

// Options says where the emulated phone's panel and audio are. Empty
// fields take DefaultOptions' value where it has one.
type Options struct {
	// Serial is a serial device carrying the panel protocol, e.g.
	// /dev/hvc1 (virtio console) or /dev/ttyAMA1.
	Serial string
	// Listen is a socket the panel protocol is served on: "tcp:HOST:PORT"
	// or "unix:PATH". "none" serves no socket.
	Listen string
	// Listener, when set, is used instead of Listen (tests, socket
	// activation).
	Listener net.Listener
	// ScreenListen is where the screen is served as text (hal/termpanel:
	// each client gets every frame, in Braille): "tcp:HOST:PORT" or
	// "unix:PATH". "" or "none" serves it nowhere (the API's
	// /api/screen.png still shows it). ScreenListener overrides it.
	ScreenListen   string
	ScreenListener net.Listener
	// Format of the audio streams; zero means hal.Narrowband.
	Format hal.Format
	// MicFile is a raw PCM file (s16le mono) played, looping, as the
	// microphone. MicUDP is a local UDP address ("HOST:PORT") that
	// receives microphone frames instead. Neither: a silent microphone.
	MicFile, MicUDP string
	// SpeakerFile records the speaker as raw PCM (kept under
	// SpeakerLimit bytes when that is > 0). SpeakerUDP ("HOST:PORT")
	// sends the speaker's frames there instead. Neither: discarded.
	SpeakerFile, SpeakerUDP string
	SpeakerLimit            int64
	// Logger; nil discards.
	Logger *slog.Logger
}

// DefaultOptions serves the panel on TCP port 7000 and the screen on
// 7080 of every interface (reached from the host through QEMU's hostfwd)
// and has silent audio.
var DefaultOptions = Options{Listen: "tcp::7000", ScreenListen: "tcp::7080"}

// Screen size: the reference 128×64 panel.
const (
	ScreenWidth  = 128
	ScreenHeight = 64
)

// Open builds the emulated board. Board.Close releases everything.
func Open(o Options) (*hal.Board, error) {
	if o.Listen == "" && o.Listener == nil && o.Serial == "" {
		o.Listen = DefaultOptions.Listen
	}
	if o.Format == (hal.Format{}) {
		o.Format = hal.Narrowband
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MicFile != "" && o.MicUDP != "" {
		return nil, errors.New("board qemu: set MicFile or MicUDP, not both")
	}
	if o.SpeakerFile != "" && o.SpeakerUDP != "" {
		return nil, errors.New("board qemu: set SpeakerFile or SpeakerUDP, not both")
	}
	p := serialio.New(&serialio.Opts{Logger: o.Logger})
	b := &hal.Board{Name: "qemu", Keypad: p.Keypad(), Hook: p.Hook(), Indicator: p.Indicator(),
		Ringer: p.Ringer(), Codec: p.Codec(), Closer: p.Close}
	fail := func(err error) (*hal.Board, error) {
		b.Close()
		return nil, fmt.Errorf("board qemu: %w", err)
	}
	screen := termpanel.New(ScreenWidth, ScreenHeight, &termpanel.Opts{Logger: o.Logger})
	b.Display = screen
	ln, err := listen(o.Listener, o.Listen)
	if err != nil {
		return fail(err)
	}
	if ln != nil {
		if err := p.AttachListener(ln); err != nil {
			return fail(err)
		}
		o.Logger.Info("panel listening", "component", "board-qemu", "laddr", ln.Addr().String())
	}
	sln, err := listen(o.ScreenListener, o.ScreenListen)
	if err != nil {
		return fail(fmt.Errorf("screen: %w", err))
	}
	if sln != nil {
		if err := screen.Serve(sln); err != nil {
			sln.Close()
			return fail(fmt.Errorf("screen: %w", err))
		}
		o.Logger.Info("screen listening", "component", "board-qemu", "laddr", sln.Addr().String())
	}
	if o.Serial != "" {
		tty, err := serialio.OpenTTY(o.Serial)
		if err != nil {
			return fail(err)
		}
		if err := p.Attach(tty); err != nil {
			return fail(err)
		}
	}
	in, err := openMic(o)
	if err != nil {
		return fail(fmt.Errorf("microphone: %w", err))
	}
	b.AudioIn = in
	out, err := openSpeaker(o)
	if err != nil {
		return fail(fmt.Errorf("speaker: %w", err))
	}
	b.AudioOut = out
	return b, nil
}

// listen returns ln, or a listener on spec ("tcp:HOST:PORT",
// "unix:PATH"; "" and "none" mean no listener).
func listen(ln net.Listener, spec string) (net.Listener, error) {
	if ln != nil || spec == "" || spec == "none" {
		return ln, nil
	}
	network, addr, ok := strings.Cut(spec, ":")
	if !ok || (network != "tcp" && network != "unix") {
		return nil, fmt.Errorf("listen %q: want tcp:HOST:PORT or unix:PATH", spec)
	}
	return net.Listen(network, addr)
}

func openMic(o Options) (hal.AudioIn, error) {
	switch {
	case o.MicFile != "":
		return serialio.OpenFileIn(o.MicFile, o.Format)
	case o.MicUDP != "":
		c, err := net.ListenPacket("udp", o.MicUDP)
		if err != nil {
			return nil, err
		}
		in, err := serialio.NewUDPIn(c, o.Format, 0)
		if err != nil {
			c.Close()
			return nil, err
		}
		return in, nil
	}
	return serialio.NewSilenceIn(o.Format)
}

func openSpeaker(o Options) (hal.AudioOut, error) {
	switch {
	case o.SpeakerFile != "":
		return serialio.CreateFileOut(o.SpeakerFile, o.Format, o.SpeakerLimit)
	case o.SpeakerUDP != "":
		to, err := net.ResolveUDPAddr("udp", o.SpeakerUDP)
		if err != nil {
			return nil, err
		}
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return nil, err
		}
		out, err := serialio.NewUDPOut(c, to, o.Format)
		if err != nil {
			c.Close()
			return nil, err
		}
		return out, nil
	}
	return serialio.NewDiscardOut(o.Format)
}

// SetAudio fills the audio fields from two specs, as phoned's generic
// board options give them: "" (silence / discard; the config's
// "silence", "device", "null" and "speaker" mean the same), "udp:HOST:PORT", or a
// file path (optionally prefixed "file:"). in is the microphone: for UDP
// the local address to receive on. out is the speaker: for UDP where to
// send.
func (o *Options) SetAudio(in, out string) error {
	o.MicFile, o.MicUDP, o.SpeakerFile, o.SpeakerUDP = "", "", "", ""
	kind, rest, err := audioSpec(in)
	if err != nil {
		return fmt.Errorf("board qemu: microphone: %w", err)
	}
	if kind == "udp" {
		o.MicUDP = rest
	} else {
		o.MicFile = rest
	}
	kind, rest, err = audioSpec(out)
	if err != nil {
		return fmt.Errorf("board qemu: speaker: %w", err)
	}
	if kind == "udp" {
		o.SpeakerUDP = rest
	} else {
		o.SpeakerFile = rest
	}
	return nil
}

func audioSpec(s string) (kind, rest string, err error) {
	switch {
	case s == "" || s == "silence" || s == "null" || s == "device" || s == "speaker":
		// The config's words for "the board's own" microphone and
		// speaker: on this board, silence and discard.
		return "", "", nil
	case strings.HasPrefix(s, "udp:"):
		addr := strings.TrimPrefix(s, "udp:")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", "", fmt.Errorf("%q: %w", s, err)
		}
		return "udp", addr, nil
	case strings.HasPrefix(s, "file:"):
		if p := strings.TrimPrefix(s, "file:"); p != "" {
			return "file", p, nil
		}
		return "", "", fmt.Errorf("%q: empty path", s)
	}
	return "file", s, nil
}
