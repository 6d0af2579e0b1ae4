// Package sim is the host board: a phone on a developer's machine.
//
// Keys and the hook come from a terminal (one line at a time, see
// ParseKeys) and from the local API. The screen (a hal/termpanel) is drawn
// at the top of the terminal when standard output is one (the logs
// scroll under it), and is always available as GET /api/screen.png. The microphone plays a tone, a WAV
// file (looped) or silence, paced like a device clock; the speaker
// records to a WAV file or discards.
package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/termpanel"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/hal/wavfile"
)

// Options configure the sim board.
type Options struct {
	// Input is "silence", "tone:<Hz>" or "wav:<path>". Default silence.
	Input string
	// Output is "null", "wav:<path>" or "speaker" (host speaker, needs a
	// cgo build with ALSA). Default null.
	Output string
	// Keys, when set, is read line by line for key presses (a terminal).
	Keys io.Reader
	// Format is the audio format. Default hal.Narrowband.
	Format hal.Format
	// Term is a terminal (ANSI) where the screen is drawn. When nil and
	// Keys is set (the interactive host demo), standard output is used
	// if it is a terminal; otherwise the board has no panel (Display is
	// nil) and the screen is rendered only for GET /api/screen.png, so
	// tests and logs stay clean and an idle phone is not woken for it.
	Term io.Writer
}

// Screen size of the sim board: the reference 128×64 panel.
const (
	ScreenWidth  = 128
	ScreenHeight = 64
)

// ErrBadOption reports an option the sim board cannot use.
var ErrBadOption = errors.New("sim: bad option")

// speakerOut is set by the cgo build to open the host speaker.
var speakerOut func(f hal.Format) (hal.AudioOut, error)

// Open builds the sim board.
func Open(o Options) (*hal.Board, error) {
	if o.Format == (hal.Format{}) {
		o.Format = hal.Narrowband
	}
	src, err := Source(o.Input, o.Format.SampleRate)
	if err != nil {
		return nil, err
	}
	var out hal.AudioOut
	switch {
	case o.Output == "" || o.Output == "null":
		out, err = wavfile.NewOut(o.Format, "")
	case strings.HasPrefix(o.Output, "wav:"):
		out, err = wavfile.NewOut(o.Format, strings.TrimPrefix(o.Output, "wav:"))
	case o.Output == "speaker":
		if speakerOut == nil {
			return nil, fmt.Errorf("%w: output speaker needs a build with cgo and ALSA (use wav:<path> or null)", ErrBadOption)
		}
		out, err = speakerOut(o.Format)
	default:
		return nil, fmt.Errorf("%w: output %q (want null, wav:<path> or speaker)", ErrBadOption, o.Output)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: output: %w", err)
	}
	term := o.Term
	if term == nil && o.Keys != nil && isTerminal(os.Stdout) {
		term = os.Stdout
	}
	in := wavfile.NewPacedIn(o.Format, src)
	if wo, ok := out.(*wavfile.Out); ok {
		in.SetClock(wo.Clock()) // one device clock for both directions
	}
	kp := &Keypad{ch: make(chan hal.KeyEvent, 64)}
	hook := &Hook{ch: make(chan hal.HookEvent, 8)}
	b := &hal.Board{
		Name:      "sim",
		Keypad:    kp,
		Hook:      hook,
		Indicator: &Indicator{state: map[hal.LED]hal.Pattern{}},
		Ringer:    &Ringer{},
		AudioIn:   in,
		AudioOut:  out,
		Codec:     &Codec{},
	}
	if term != nil {
		// Without a terminal nobody sees a panel: the board has none,
		// so the screen renders only when GET /api/screen.png asks and
		// an idle phone is not woken each minute for its clock.
		b.Display = termpanel.New(ScreenWidth, ScreenHeight, &termpanel.Opts{Term: term})
	}
	if o.Keys != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			readKeys(ctx, o.Keys, kp, hook)
		}()
		// The reader may be blocked in a terminal read: do not wait for it.
		b.Closer = func() error { cancel(); return nil }
	}
	return b, nil
}

// Source parses an input spec into a frame source.
func Source(spec string, rate int) (hal.FrameSource, error) {
	switch {
	case spec == "" || spec == "silence":
		return nil, nil
	case strings.HasPrefix(spec, "tone:"):
		hz, err := strconv.ParseFloat(strings.TrimPrefix(spec, "tone:"), 64)
		if err != nil || hz <= 0 || hz >= float64(rate)/2 {
			return nil, fmt.Errorf("%w: input %q: tone frequency must be between 0 and %d Hz", ErrBadOption, spec, rate/2)
		}
		return tone.Sine(hz, rate, -10), nil
	case strings.HasPrefix(spec, "wav:"):
		s, r, err := wavfile.ReadFile(strings.TrimPrefix(spec, "wav:"))
		if err != nil {
			return nil, fmt.Errorf("sim: input: %w", err)
		}
		if r != rate {
			return nil, fmt.Errorf("%w: input %q is %d Hz, the phone runs at %d Hz", ErrBadOption, spec, r, rate)
		}
		return wavfile.NewLoop(s), nil
	}
	return nil, fmt.Errorf("%w: input %q (want silence, tone:<Hz> or wav:<path>)", ErrBadOption, spec)
}

// ParseKeys turns one terminal line into key events and hook changes.
// Dial characters (0-9 * #) are keys; words are function keys or hook
// commands: "lift"/"off", "hang"/"on", "speaker", "hold", "redial",
// "mute", "vol+", "vol-", "line", and the screen's "up", "down", "left",
// "right", "ok", "back", "menu", "history", "contacts", "soft1".."soft4".
// Unknown words are an error.
func ParseKeys(line string) (keys []hal.Key, hook *bool, err error) {
	for _, w := range strings.Fields(line) {
		switch strings.ToLower(w) {
		case "lift", "off", "offhook":
			v := true
			hook = &v
			continue
		case "hang", "on", "onhook", "hangup":
			v := false
			hook = &v
			continue
		}
		if k, ok := hal.KeyByName(strings.ToLower(w)); ok && !k.IsDigit() {
			keys = append(keys, k)
			continue
		}
		for _, r := range w {
			if !hal.Key(r).IsDigit() {
				return nil, nil, fmt.Errorf("sim: %q is not a key (dial 0-9 * #, or lift, hang, speaker, hold, redial, mute, vol+, vol-, line; the screen: menu, up, down, left, right, ok, back, soft1-soft4, history, contacts)", w)
			}
			keys = append(keys, hal.Key(r))
		}
	}
	return keys, hook, nil
}

func readKeys(ctx context.Context, r io.Reader, kp *Keypad, hook *Hook) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		keys, h, err := ParseKeys(sc.Text())
		if err != nil {
			fmt.Println(err)
			continue
		}
		if h != nil {
			hook.Set(*h)
		}
		for _, k := range keys {
			kp.send(hal.KeyEvent{Key: k, Down: true, At: time.Now()})
			kp.send(hal.KeyEvent{Key: k, Down: false, At: time.Now()})
		}
	}
}

// Keypad is the terminal keypad.
type Keypad struct {
	mu     sync.Mutex
	ch     chan hal.KeyEvent
	closed bool
}

func (k *Keypad) Events() <-chan hal.KeyEvent { return k.ch }

func (k *Keypad) send(ev hal.KeyEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		select {
		case k.ch <- ev:
		default: // a phone drops keys it cannot take rather than hang
		}
	}
}

func (k *Keypad) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.closed = true
		close(k.ch)
	}
	return nil
}

// Hook is the soft hook switch of the sim board.
type Hook struct {
	mu     sync.Mutex
	ch     chan hal.HookEvent
	off    bool
	closed bool
}

func (h *Hook) Events() <-chan hal.HookEvent { return h.ch }

func (h *Hook) OffHook() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.off
}

// Set changes the hook state (true = handset lifted).
func (h *Hook) Set(off bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.off == off {
		return
	}
	h.off = off
	select {
	case h.ch <- hal.HookEvent{OffHook: off, At: time.Now()}:
	default:
	}
}

func (h *Hook) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.ch)
	}
	return nil
}

// Indicator keeps LED states (the sim has no LEDs; the API shows them).
type Indicator struct {
	mu    sync.Mutex
	state map[hal.LED]hal.Pattern
}

func (i *Indicator) Set(l hal.LED, p hal.Pattern) error {
	i.mu.Lock()
	i.state[l] = p
	i.mu.Unlock()
	return nil
}

// Get returns an LED's pattern.
func (i *Indicator) Get(l hal.LED) hal.Pattern {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.state[l]
}

func (i *Indicator) Close() error { return nil }

// Ringer records whether the phone rings.
type Ringer struct {
	mu      sync.Mutex
	ringing bool
}

func (r *Ringer) Ring() error  { r.mu.Lock(); r.ringing = true; r.mu.Unlock(); return nil }
func (r *Ringer) Stop() error  { r.mu.Lock(); r.ringing = false; r.mu.Unlock(); return nil }
func (r *Ringer) Close() error { return r.Stop() }

// Ringing reports whether the ringer is on.
func (r *Ringer) Ringing() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.ringing }

// Codec is a software stand-in for the codec chip's controls.
type Codec struct {
	mu     sync.Mutex
	route  hal.Route
	volume int
	muted  bool
	gain   int
}

func (c *Codec) SetRoute(r hal.Route) error { c.mu.Lock(); c.route = r; c.mu.Unlock(); return nil }
func (c *Codec) SetVolume(v int) error      { c.mu.Lock(); c.volume = v; c.mu.Unlock(); return nil }
func (c *Codec) SetMute(m bool) error       { c.mu.Lock(); c.muted = m; c.mu.Unlock(); return nil }
func (c *Codec) SetInputGain(g int) error   { c.mu.Lock(); c.gain = g; c.mu.Unlock(); return nil }
func (c *Codec) Close() error               { return nil }
