// Package pace is the device clock of the emulated speakers: it pulls one
// frame from a hal.FrameSource every frame period, as a codec chip's DAC
// would, and hands it on as 16-bit little-endian PCM. hal/wavfile and
// hal/serialio play through it.
//
// Play keeps the clock running with silence while there is no source (a
// recording keeps its timeline); PlayIdle stops it then, so an idle phone
// is not woken 50 times a second by a speaker with nothing to play.
//
// A Clock shares the speaker's frame ticks with a microphone, as one
// codec chip clocks capture and playback alike: a microphone that waits
// on the Clock instead of a timer of its own makes one wake-up per frame
// serve both directions (hal/wavfile's PacedIn).
package pace

import (
	"encoding/binary"
	"sync"

	"github.com/deskphone/phone/hal"
)

// Play runs until stop is closed. Every f.Frame it asks source for the
// current source (nil plays silence), pulls one frame of f.FrameSamples()
// samples from it, and calls write with the frame as little-endian bytes
// and as samples. The slices are reused; write must not keep them.
func Play(stop <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16)) {
	Run(stop, f, source, write, Options{})
}

// PlayIdle is Play for a device that may stop its clock: when source
// returns nil at a frame time, nothing is written and the clock stops
// (no timer runs) until wake receives; it then asks source again and,
// with a source, restarts the clock, the first frame one frame period
// later. The owner sends on wake (a buffered channel, non-blocking
// sends) whenever it sets a source.
func PlayIdle(stop, wake <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16)) {
	if wake == nil {
		panic("pace: PlayIdle without a wake channel")
	}
	Run(stop, f, source, write, Options{Wake: wake})
}

// Options are Run's optional behaviours.
type Options struct {
	// Wake, when not nil, makes the clock stop while there is no source
	// (see PlayIdle).
	Wake <-chan struct{}
	// Clock, when not nil, ticks after every frame written, and is
	// stopped while the clock does not run.
	Clock *Clock
}

// Run is Play with options.
func Run(stop <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16), o Options) {
	pcm := make([]int16, f.FrameSamples())
	le := make([]byte, 2*len(pcm))
	t := newTicker(f.Frame, stop)
	defer t.close()
	o.Clock.setRunning(true)
	defer o.Clock.setRunning(false)
	for {
		if !t.wait() {
			return
		}
		src := source()
		if src == nil && o.Wake != nil {
			t.pause()
			o.Clock.setRunning(false)
			for src == nil {
				select {
				case <-stop:
					return
				case <-o.Wake:
				}
				src = source()
			}
			t.resume(f.Frame)
			o.Clock.setRunning(true)
			continue
		}
		if src == nil {
			clear(pcm)
		} else {
			src.NextFrame(pcm)
		}
		for i, s := range pcm {
			binary.LittleEndian.PutUint16(le[2*i:], uint16(s))
		}
		write(le, pcm)
		o.Clock.fire()
	}
}

// Clock is a frame clock driven by a Run loop, for another device to
// wait on. Its zero value is not running; a nil *Clock is valid and never
// runs. Safe for concurrent use; a tick wakes one waiter (a board has one
// microphone on its speaker's clock).
//
// A tick is a token in a channel made once, not a channel closed and made
// again at every frame: that was 50 channels a second, the only garbage a
// call made in time (about 5 kB a second, 110 kB in a 20 s call, heap
// profile of phoned in the lean tier), which grew the heap, and so the
// phone's RSS, call after call until a collection.
type Clock struct {
	mu      sync.Mutex
	running bool
	tick    chan struct{} // capacity 1: a token at each tick (or when the clock stops)
}

// NewClock returns a clock that is not running.
func NewClock() *Clock { return &Clock{tick: make(chan struct{}, 1)} }

// Next returns a channel that receives at the clock's next tick, or nil
// when the clock is not running: the caller then keeps its own time. It
// also receives, early, when the clock stops. A tick that no one waited
// for is dropped here, so the wait is always for a tick to come.
func (c *Clock) Next() <-chan struct{} {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	if c.tick == nil { // the zero value
		c.tick = make(chan struct{}, 1)
	}
	select {
	case <-c.tick:
	default:
	}
	return c.tick
}

func (c *Clock) setRunning(on bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = on
	if !on {
		c.releaseLocked()
	}
}

func (c *Clock) fire() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.releaseLocked()
	c.mu.Unlock()
}

// releaseLocked wakes the waiter, if any; c.mu is held.
func (c *Clock) releaseLocked() {
	if c.tick == nil {
		return
	}
	select {
	case c.tick <- struct{}{}:
	default: // a token is there already
	}
}
