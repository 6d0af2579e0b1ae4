package hal

import (
	"context"
	"time"
)

// Key identifies one key of the phone. Dial keys use their character
// ('0'..'9', '*', '#'); function keys use the named constants below.
type Key rune

// Function keys. They live in the Unicode private-use area so that they
// never collide with a dial character.
const (
	KeySpeaker    Key = 0xE000 + iota // toggles the speakerphone (hands-free off-hook)
	KeyHold                           // hold / resume the current call
	KeyTransfer                       // transfer: blind after dialling, attended once the consult call answers
	KeyRedial                         // dial the last number again
	KeyVolUp                          // volume up
	KeyVolDown                        // volume down
	KeyMute                           // mute the microphone
	KeyLine                           // line key: answer / new call
	KeyHeadset                        // route audio to the headset
	KeyConference                     // join the active and the held call in a conference
	KeySwap                           // swap the active call with a held one
	KeyDND                            // toggle do-not-disturb on the default line
	KeyLine1                          // line keys: a call on that line (answer, pick up, select) or a new call on it
	KeyLine2
	KeyLine3
	KeyLine4
	KeyVoicemail // dial the line's mailbox
	KeyHistory   // the call history screen
	KeyContacts  // the phonebook screen
	KeyMenu      // the settings menu
	KeyUp        // screen navigation
	KeyDown
	KeyLeft
	KeyRight
	KeyOK
	KeyBack
	KeySoft1 // soft keys under the screen, labels change with the screen
	KeySoft2
	KeySoft3
	KeySoft4
	KeyBLF1 // busy lamp keys: call the watched user, or pick up its ringing call
	KeyBLF2
	KeyBLF3
	KeyBLF4
	KeyBLF5
	KeyBLF6
	KeyBLF7
	KeyBLF8
)

// BLFKeys is how many busy lamp keys (KeyBLF1..KeyBLF8, LEDBLF1..LEDBLF8)
// there are.
const BLFKeys = 8

var keyNames = map[Key]string{
	KeySpeaker: "speaker", KeyHold: "hold", KeyTransfer: "transfer", KeyRedial: "redial",
	KeyVolUp: "vol+", KeyVolDown: "vol-", KeyMute: "mute", KeyLine: "line", KeyHeadset: "headset",
	KeyConference: "conf", KeySwap: "swap", KeyDND: "dnd",
	KeyLine1: "line1", KeyLine2: "line2", KeyLine3: "line3", KeyLine4: "line4",
	KeyVoicemail: "voicemail", KeyHistory: "history", KeyContacts: "contacts", KeyMenu: "menu",
	KeyUp: "up", KeyDown: "down", KeyLeft: "left", KeyRight: "right", KeyOK: "ok", KeyBack: "back",
	KeySoft1: "soft1", KeySoft2: "soft2", KeySoft3: "soft3", KeySoft4: "soft4",
	KeyBLF1: "blf1", KeyBLF2: "blf2", KeyBLF3: "blf3", KeyBLF4: "blf4",
	KeyBLF5: "blf5", KeyBLF6: "blf6", KeyBLF7: "blf7", KeyBLF8: "blf8",
}

// LineKey returns the line key for line n (0-based) and whether there is one.
func LineKey(n int) (Key, bool) {
	if n < 0 || n > 3 {
		return 0, false
	}
	return KeyLine1 + Key(n), true
}

// LineOf returns the line (0-based) of a line key.
func (k Key) LineOf() (int, bool) {
	if k < KeyLine1 || k > KeyLine4 {
		return 0, false
	}
	return int(k - KeyLine1), true
}

// BLFOf returns the index (0-based) of a busy lamp key.
func (k Key) BLFOf() (int, bool) {
	if k < KeyBLF1 || k > KeyBLF8 {
		return 0, false
	}
	return int(k - KeyBLF1), true
}

// BLFKey returns busy lamp key n (0-based) and whether there is one.
func BLFKey(n int) (Key, bool) {
	if n < 0 || n >= BLFKeys {
		return 0, false
	}
	return KeyBLF1 + Key(n), true
}

// String returns the dial character or the function key's name.
func (k Key) String() string {
	if n, ok := keyNames[k]; ok {
		return n
	}
	return string(rune(k))
}

// IsDigit reports whether k is a dial key (0-9, *, #).
func (k Key) IsDigit() bool {
	return (k >= '0' && k <= '9') || k == '*' || k == '#'
}

// KeyByName returns the key for a dial character or a function key name.
func KeyByName(s string) (Key, bool) {
	if len(s) == 1 && Key(s[0]).IsDigit() {
		return Key(s[0]), true
	}
	for k, n := range keyNames {
		if n == s {
			return k, true
		}
	}
	return 0, false
}

// KeyEvent is one change of a key. A press gives Down=true, a release
// Down=false. Long is set on the one event sent when a key has been held
// past the long-press time; Repeat on the auto-repeat events of a held key.
type KeyEvent struct {
	Key    Key
	Down   bool
	Long   bool
	Repeat bool
	At     time.Time
}

// Keypad delivers key events. The driver owns its goroutine and closes
// the channel from Close.
type Keypad interface {
	Events() <-chan KeyEvent
	Close() error
}

// HookEvent is one debounced change of the hook switch.
type HookEvent struct {
	OffHook bool
	At      time.Time
}

// Hook is the handset hook switch.
type Hook interface {
	Events() <-chan HookEvent
	// OffHook reports the current debounced state.
	OffHook() bool
	Close() error
}

// LED names one indicator on the phone.
type LED int

const (
	LEDLine    LED = iota // line / call state
	LEDMessage            // message waiting
	LEDMute               // microphone muted
	LEDSpeaker            // speakerphone on
	LEDBLF1               // busy lamps, one per BLF key: off idle, blinking ringing, on busy
	LEDBLF2
	LEDBLF3
	LEDBLF4
	LEDBLF5
	LEDBLF6
	LEDBLF7
	LEDBLF8
)

// BLFLED returns the lamp of busy lamp key n (0-based).
func BLFLED(n int) (LED, bool) {
	if n < 0 || n >= BLFKeys {
		return 0, false
	}
	return LEDBLF1 + LED(n), true
}

func (l LED) String() string {
	switch l {
	case LEDLine:
		return "line"
	case LEDMessage:
		return "message"
	case LEDMute:
		return "mute"
	case LEDSpeaker:
		return "speaker"
	}
	if l >= LEDBLF1 && l <= LEDBLF8 {
		return "blf" + string(rune('1'+l-LEDBLF1))
	}
	return "led?"
}

// Pattern is how an indicator shows.
type Pattern int

const (
	Off       Pattern = iota
	On                // steady
	BlinkSlow         // 500 ms on, 500 ms off: held call, message waiting
	BlinkFast         // 100 ms on, 100 ms off: incoming call
)

func (p Pattern) String() string {
	switch p {
	case Off:
		return "off"
	case On:
		return "on"
	case BlinkSlow:
		return "blink-slow"
	case BlinkFast:
		return "blink-fast"
	}
	return "pattern?"
}

// Indicator drives the LEDs. Blinking is the driver's job.
type Indicator interface {
	Set(led LED, p Pattern) error
	Close() error
}

// Ringer alerts the user to an incoming call.
type Ringer interface {
	// Ring starts ringing (cadence is the driver's) until Stop.
	Ring() error
	Stop() error
	Close() error
}

// Format describes a PCM stream: signed 16-bit little-endian samples.
type Format struct {
	SampleRate int           // samples per second, 8000 or 16000
	Channels   int           // 1 for a phone
	Frame      time.Duration // one frame, normally 20 ms
}

// FrameSamples is the number of samples (all channels) in one frame.
func (f Format) FrameSamples() int {
	return int(int64(f.SampleRate)*int64(f.Frame)/int64(time.Second)) * max(f.Channels, 1)
}

// Narrowband is the telephone format: 8 kHz mono, 20 ms frames.
var Narrowband = Format{SampleRate: 8000, Channels: 1, Frame: 20 * time.Millisecond}

// AudioIn captures audio. ReadFrame blocks until one frame of
// len(dst) samples is available: the device clock paces capture.
type AudioIn interface {
	Format() Format
	ReadFrame(ctx context.Context, dst []int16) error
	Close() error
}

// FrameSource produces frames on demand, e.g. a jitter buffer or a tone
// generator. It must always fill dst, with concealment or silence when it
// has nothing due.
type FrameSource interface {
	NextFrame(dst []int16)
}

// FrameSourceFunc adapts a function to FrameSource.
type FrameSourceFunc func(dst []int16)

// NextFrame calls f(dst).
func (f FrameSourceFunc) NextFrame(dst []int16) { f(dst) }

// AudioOut plays audio. The device pulls frames from the source at its own
// pace; Start replaces the current source (nil plays silence).
type AudioOut interface {
	Format() Format
	Start(src FrameSource) error
	Close() error
}

// Route selects the acoustic path.
type Route int

const (
	RouteHandset Route = iota
	RouteSpeaker
	RouteHeadset
)

func (r Route) String() string {
	switch r {
	case RouteHandset:
		return "handset"
	case RouteSpeaker:
		return "speaker"
	case RouteHeadset:
		return "headset"
	}
	return "route?"
}

// Codec controls the audio codec chip (or its software stand-in).
type Codec interface {
	SetRoute(r Route) error
	// SetVolume sets the output volume, 0 (silent) to 100 (full).
	SetVolume(v int) error
	// SetMute mutes or unmutes the microphone.
	SetMute(muted bool) error
	// SetInputGain sets the microphone gain, 0 to 100.
	SetInputGain(g int) error
	Close() error
}

// Board is the set of devices one machine offers. Any field may be nil
// where the machine lacks the device; Close releases all of them.
type Board struct {
	Name      string
	Keypad    Keypad
	Hook      Hook
	Indicator Indicator
	Ringer    Ringer
	AudioIn   AudioIn
	AudioOut  AudioOut
	Codec     Codec
	// Headset is whether the machine has a headset: Codec.SetRoute
	// (RouteHeadset) then moves the audio to it.
	Headset bool
	// Display is the screen; nil on a board without one.
	Display Display
	// Closer, when set, releases board-level resources after the devices.
	Closer func() error
}

// Close closes every device the board holds and returns the first error.
func (b *Board) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if b.Keypad != nil {
		keep(b.Keypad.Close())
	}
	if b.Hook != nil {
		keep(b.Hook.Close())
	}
	if b.Indicator != nil {
		keep(b.Indicator.Close())
	}
	if b.Ringer != nil {
		keep(b.Ringer.Close())
	}
	if b.AudioIn != nil {
		keep(b.AudioIn.Close())
	}
	if b.AudioOut != nil {
		keep(b.AudioOut.Close())
	}
	if b.Codec != nil {
		keep(b.Codec.Close())
	}
	if b.Display != nil {
		keep(b.Display.Close())
	}
	if b.Closer != nil {
		keep(b.Closer())
	}
	return first
}
