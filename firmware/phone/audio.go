package phone

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/mix"
)

// Audio routing. The speaker (AudioOut) pulls what the phone gives it:
// the active call's received audio, a tone, or a mix (the conference: both
// calls' received audio; a call with the call-waiting beep laid over it).
// One goroutine, the router, reads the microphone and hands every call's
// capture loop (Media.Run) its own virtual microphone (a vin): the real
// microphone for the active call, silence for one not current, and in a
// conference the microphone plus the other party's received audio, which
// a tap copies as the speaker pulls it. A call that cannot send (we hold
// it, or the far end holds us) has no capture loop (holdRec and
// pumpWhileSending stop it, resumeRec and pumpWhileSending start it), and
// with no loop left the router stops reading the microphone.

// cwGain is the level of the call-waiting beep over the call's audio.
var cwGain = mix.DB(-6)

// errAudioClosed ends a capture loop whose call no longer needs it.
var errAudioClosed = errors.New("phone: call audio closed")

// router reads the microphone and feeds the calls' virtual inputs.
type router struct {
	in  hal.AudioIn
	log *slog.Logger

	mu     sync.Mutex // guards following
	vins   []*vin
	muted  bool
	cancel context.CancelFunc
	done   chan struct{}
}

// vin is one call's virtual microphone (a hal.AudioIn for Media.Run).
type vin struct {
	format hal.Format
	ready  chan struct{} // signalled when a frame is fresh or err is set

	// Routing, guarded by router.mu.
	hearMic bool
	peers   []*tap

	mu    sync.Mutex // guards following
	buf   []int16
	fresh bool
	err   error
}

// tap passes a call's received audio to the speaker and queues a copy
// of each frame for the router (conference). The speaker and the
// microphone run on their own clocks, in phase or nearly: the queue
// holds a frame or two so that neither order of their ticks loses one,
// and drops the oldest when the speaker runs ahead.
type tap struct {
	src hal.FrameSource

	mu     sync.Mutex // guards following
	ring   [][]int16  // tapFrames frames, allocated on the first
	head   int        // the oldest queued frame
	count  int        // frames queued
	primed bool       // count reached tapPrime since it last ran dry
}

const (
	tapFrames = 4 // queued frames at most (80 ms)
	tapPrime  = 2 // frames queued before the router starts taking
)

func (t *tap) NextFrame(dst []int16) {
	if t.src == nil {
		clear(dst)
	} else {
		t.src.NextFrame(dst)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ring == nil || len(t.ring[0]) != len(dst) {
		t.ring = make([][]int16, tapFrames)
		for i := range t.ring {
			t.ring[i] = make([]int16, len(dst))
		}
		t.head, t.count, t.primed = 0, 0, false
	}
	if t.count == tapFrames {
		t.head = (t.head + 1) % tapFrames
		t.count--
	}
	copy(t.ring[(t.head+t.count)%tapFrames], dst)
	t.count++
}

// take copies the oldest queued frame into dst; it reports false when
// there is none (not yet primed, or run dry).
func (t *tap) take(dst []int16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.primed && t.count >= tapPrime {
		t.primed = true
	}
	if !t.primed || t.count == 0 {
		t.primed = false
		return false
	}
	n := copy(dst, t.ring[t.head])
	clear(dst[n:])
	t.head = (t.head + 1) % tapFrames
	t.count--
	return true
}

func (v *vin) Format() hal.Format { return v.format }

// ReadFrame waits for the router's next frame for this call.
func (v *vin) ReadFrame(ctx context.Context, dst []int16) error {
	for {
		v.mu.Lock()
		if v.fresh {
			n := copy(dst, v.buf)
			clear(dst[n:])
			v.fresh = false
			v.mu.Unlock()
			return nil
		}
		err := v.err
		v.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.ready:
		}
	}
}

// Close ends ReadFrame with an error.
func (v *vin) Close() error {
	v.fail(errAudioClosed)
	return nil
}

func (v *vin) fail(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
	v.signal()
}

func (v *vin) signal() {
	select {
	case v.ready <- struct{}{}:
	default:
	}
}

// feed builds this call's frame from the microphone and its peers.
// Called by the router with router.mu held.
func (v *vin) feed(mic []int16, muted bool, acc *mix.Acc, scratch []int16) {
	acc.Reset(len(mic))
	if v.hearMic && !muted {
		acc.Add(mic, mix.Unity)
	}
	for _, t := range v.peers {
		if t.take(scratch) {
			acc.Add(scratch, mix.Unity)
		}
	}
	v.mu.Lock()
	if cap(v.buf) < len(mic) {
		v.buf = make([]int16, len(mic))
	}
	v.buf = v.buf[:len(mic)]
	acc.Out(v.buf)
	v.fresh = true
	v.mu.Unlock()
	v.signal()
}

// attach returns a new virtual microphone, starting the router with the
// first.
func (r *router) attach() *vin {
	v := &vin{format: r.in.Format(), ready: make(chan struct{}, 1)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vins = append(r.vins, v)
	if r.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel, r.done = cancel, make(chan struct{})
		go r.run(ctx, r.done)
	}
	return v
}

// detach closes v and stops the router after the last one.
func (r *router) detach(v *vin) {
	v.Close()
	r.mu.Lock()
	for i, x := range r.vins {
		if x == v {
			r.vins = append(r.vins[:i], r.vins[i+1:]...)
			break
		}
	}
	var cancel context.CancelFunc
	var done chan struct{}
	if len(r.vins) == 0 && r.cancel != nil {
		cancel, done = r.cancel, r.done
		r.cancel, r.done = nil, nil
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// set changes v's routing and the microphone mute.
func (r *router) set(v *vin, hearMic bool, peers []*tap) {
	r.mu.Lock()
	v.hearMic = hearMic
	v.peers = append(v.peers[:0], peers...)
	r.mu.Unlock()
}

func (r *router) setMuted(m bool) {
	r.mu.Lock()
	r.muted = m
	r.mu.Unlock()
}

func (r *router) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	n := r.in.Format().FrameSamples()
	mic, scratch := make([]int16, n), make([]int16, n)
	var acc mix.Acc
	for {
		if err := r.in.ReadFrame(ctx, mic); err != nil {
			if ctx.Err() == nil {
				// The calls' capture loops end with the error; the next
				// call to attach starts a new reader.
				r.log.Warn("microphone", "err", err)
				r.mu.Lock()
				for _, v := range r.vins {
					v.fail(err)
				}
				if r.done == done {
					r.cancel()
					r.cancel, r.done = nil, nil
				}
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		for _, v := range r.vins {
			v.feed(mic, r.muted, &acc, scratch)
		}
		r.mu.Unlock()
	}
}

// startPump runs the call's capture loop on a virtual microphone.
func (p *Phone) startPump(c *callRec) {
	if c.pump != nil {
		select {
		case <-c.pumpDone:
			p.stopPump(c) // it ended (the microphone failed): start again
		default:
			return
		}
	}
	if p.router == nil {
		return
	}
	m := c.call.Media()
	if m == nil {
		return
	}
	v := p.router.attach()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.vin, c.pump, c.pumpDone = v, cancel, done
	go func() {
		defer close(done)
		if err := m.Run(ctx, v); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errAudioClosed) {
			p.log.Debug("capture loop ended", "call_id", c.call.ID(), "err", err)
		}
	}()
}

func (p *Phone) stopPump(c *callRec) {
	if c.pump == nil {
		return
	}
	c.pump()
	<-c.pumpDone
	p.router.detach(c.vin)
	c.pump, c.pumpDone, c.vin = nil, nil, nil
}

// routeAudio sets every call's virtual microphone: the active call hears
// the microphone, a held one silence, a conference party the microphone
// and the other party.
func (p *Phone) routeAudio() {
	if p.router == nil {
		return
	}
	p.router.setMuted(p.muted)
	conf := p.confActive()
	for _, c := range p.calls {
		if c.vin == nil {
			continue
		}
		hear := !c.localHold && (c == p.cur || conf && c.conf)
		var peers []*tap
		if conf && c.conf && !c.localHold {
			if o := p.confPartner(c); o != nil && o.tap != nil {
				peers = []*tap{o.tap}
			}
		}
		p.router.set(c.vin, hear, peers)
	}
}

// play makes src what the speaker plays (nil: silence), with the
// call-waiting beep over it while a call waits.
func (p *Phone) play(src hal.FrameSource) {
	p.base = src
	p.overlay = nil
	p.output()
}

// output starts the speaker on the base source, or on the base mixed with
// the call-waiting beep while a call waits.
func (p *Phone) output() {
	out := p.cfg.Board.AudioOut
	waiting := p.waiting() != nil
	if !waiting {
		p.cwTone = nil
	} else if p.cwTone == nil {
		p.cwTone = p.cfg.Tones.CallWaiting()
		p.overlay = nil
	}
	src := p.base
	if waiting {
		if p.overlay == nil {
			p.overlay = mix.New(mix.Input{Src: p.base, Gain: mix.Unity}, mix.Input{Src: p.cwTone, Gain: cwGain})
		}
		src = p.overlay
	}
	p.cwPlaying = waiting
	if out == nil {
		return
	}
	if err := out.Start(src); err != nil {
		p.log.Warn("audio out", "err", err)
	}
}

// playCall plays the active call: its received audio, the conference
// mix, or silence when it is held or has no audio yet.
//
// While the far end holds the call, nothing is played until its audio
// arrives: an inactive hold sends nothing, and a speaker playing the
// call's empty jitter buffer would keep its frame clock, and the phone,
// waking 50 times a second. The media's arrival hook (OnNextAudio)
// tells the phone's loop when music on hold starts (onHeldAudio).
func (p *Phone) playCall() {
	c := p.cur
	switch {
	case c == nil || c.localHold:
		p.play(nil)
	case c.conf && p.confActive():
		p.play(p.confMix)
	default:
		m := c.call.Media()
		if m == nil {
			p.play(nil)
			return
		}
		n, notifies := m.(audioNotifier)
		if notifies && c.remoteHold && !c.heldAudio {
			id := c.call.ID()
			n.OnNextAudio(func() {
				select {
				case p.audioBack <- id:
				default: // the loop has a full queue of these: one more changes nothing
				}
			})
			p.play(nil)
			return
		}
		if notifies {
			n.OnNextAudio(nil)
		}
		p.play(m)
	}
}

// audioNotifier is a call's media that can say when its next audio
// arrives (voip/media's session).
type audioNotifier interface {
	OnNextAudio(func())
}

// onHeldAudio: audio arrived on a call the far end holds (music on
// hold): the speaker plays it if the call is the active one.
func (p *Phone) onHeldAudio(id string) {
	c := p.find(id)
	if c == nil || !c.remoteHold || c.heldAudio {
		return
	}
	c.heldAudio = true
	if c == p.cur {
		p.playCall()
	}
}
