// Package wavfile reads and writes 16-bit PCM WAV files and turns them
// into phone audio devices: a looping microphone that plays a file at
// device pace, and a speaker that records what it plays to a file.
//
// Only what a phone needs is supported: linear PCM, 16 bits, mono or
// stereo (stereo is mixed down). Other formats are refused with an error
// that names the field.
package wavfile

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/pace"
)

// ErrFormat reports a WAV file this package cannot use.
var ErrFormat = errors.New("wavfile: unsupported format")

// Decode reads a whole WAV stream and returns mono samples and the rate.
func Decode(r io.Reader) ([]int16, int, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("wavfile: header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%w: not a RIFF/WAVE file", ErrFormat)
	}
	var rate, channels, bits int
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, 0, fmt.Errorf("%w: no data chunk", ErrFormat)
			}
			return nil, 0, err
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return nil, 0, fmt.Errorf("%w: fmt chunk size %d", ErrFormat, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, 0, fmt.Errorf("wavfile: fmt chunk: %w", err)
			}
			tag := binary.LittleEndian.Uint16(b[0:2])
			channels = int(binary.LittleEndian.Uint16(b[2:4]))
			rate = int(binary.LittleEndian.Uint32(b[4:8]))
			bits = int(binary.LittleEndian.Uint16(b[14:16]))
			if tag != 1 && tag != 0xFFFE {
				return nil, 0, fmt.Errorf("%w: audio format %d (want PCM 1)", ErrFormat, tag)
			}
			if bits != 16 {
				return nil, 0, fmt.Errorf("%w: %d bits per sample (want 16)", ErrFormat, bits)
			}
			if channels < 1 || channels > 2 {
				return nil, 0, fmt.Errorf("%w: %d channels (want 1 or 2)", ErrFormat, channels)
			}
			if rate < 4000 || rate > 192000 {
				return nil, 0, fmt.Errorf("%w: sample rate %d", ErrFormat, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%w: data before fmt", ErrFormat)
			}
			// A streaming writer may leave size 0 or 0xFFFFFFFF: read to EOF.
			var src io.Reader = r
			if size != 0 && size != 0xFFFFFFFF {
				src = io.LimitReader(r, int64(size))
			}
			raw, err := io.ReadAll(bufio.NewReader(src))
			if err != nil {
				return nil, 0, fmt.Errorf("wavfile: data: %w", err)
			}
			n := len(raw) / (2 * channels)
			out := make([]int16, n)
			for i := range n {
				if channels == 1 {
					out[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
					continue
				}
				l := int32(int16(binary.LittleEndian.Uint16(raw[4*i:])))
				rr := int32(int16(binary.LittleEndian.Uint16(raw[4*i+2:])))
				out[i] = int16((l + rr) / 2)
			}
			return out, rate, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return nil, 0, fmt.Errorf("wavfile: chunk %q: %w", id, err)
			}
		}
	}
}

// ReadFile reads a WAV file.
func ReadFile(path string) ([]int16, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	s, rate, err := Decode(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return s, rate, nil
}

// header returns a 44-byte mono 16-bit PCM header for n samples.
func header(rate, n int) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+2*n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(2*n))
	return h
}

// Encode writes samples as a mono WAV stream.
func Encode(w io.Writer, samples []int16, rate int) error {
	if _, err := w.Write(header(rate, len(samples))); err != nil {
		return err
	}
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	_, err := w.Write(b)
	return err
}

// Loop is a FrameSource that plays samples over and over.
type Loop struct {
	mu      sync.Mutex
	samples []int16
	pos     int
}

// NewLoop returns a looping source (silence when samples is empty).
func NewLoop(samples []int16) *Loop { return &Loop{samples: samples} }

// NextFrame fills dst with the next samples, wrapping at the end.
func (l *Loop) NextFrame(dst []int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		clear(dst)
		return
	}
	for i := range dst {
		dst[i] = l.samples[l.pos]
		l.pos = (l.pos + 1) % len(l.samples)
	}
}

// PacedIn is a microphone that reads frames from a FrameSource at the
// pace of a device clock (one frame per frame time).
type PacedIn struct {
	fmt  hal.Format
	src  hal.FrameSource
	mu   sync.Mutex
	next time.Time
	clk  *pace.Clock
	done chan struct{}
	once sync.Once
}

// SetClock makes the microphone capture on c's ticks (a speaker's, see
// Out.Clock) while c runs, so that one wake-up per frame serves both
// directions; while c does not run it keeps its own time.
func (p *PacedIn) SetClock(c *pace.Clock) {
	p.mu.Lock()
	p.clk = c
	p.mu.Unlock()
}

// NewPacedIn returns a paced microphone.
func NewPacedIn(f hal.Format, src hal.FrameSource) *PacedIn {
	return &PacedIn{fmt: f, src: src, done: make(chan struct{})}
}

func (p *PacedIn) Format() hal.Format { return p.fmt }

// ReadFrame waits for the next frame time and fills dst.
func (p *PacedIn) ReadFrame(ctx context.Context, dst []int16) error {
	p.mu.Lock()
	clk := p.clk
	p.mu.Unlock()
	if tick := clk.Next(); tick != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return io.EOF
		case <-tick:
		}
		p.mu.Lock()
		p.next = time.Now() // its own time goes on from here if the clock stops
		p.mu.Unlock()
		p.fill(dst)
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.IsZero() || p.next.Before(now.Add(-p.fmt.Frame)) {
		p.next = now
	}
	p.next = p.next.Add(p.fmt.Frame)
	wait := time.Until(p.next)
	p.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return io.EOF
	case <-t.C:
	}
	p.fill(dst)
	return nil
}

func (p *PacedIn) fill(dst []int16) {
	if p.src == nil {
		clear(dst)
	} else {
		p.src.NextFrame(dst)
	}
}

// Close ends pending and future reads with io.EOF.
func (p *PacedIn) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// Out is a speaker that pulls a frame per frame time from its source and
// writes it to a WAV file (or discards it when the path is empty). The
// file's header is made complete on every flush, so a killed process
// still leaves a readable file.
type Out struct {
	fmt hal.Format

	mu      sync.Mutex // guards following
	src     hal.FrameSource
	f       *os.File
	w       *bufio.Writer
	n       int
	started bool
	stop    chan struct{}
	done    chan struct{}
	wake    chan struct{} // a source was set (the idle clock restarts)
	clock   *pace.Clock   // ticks with every frame played (Clock)
	err     error
}

// NewOut returns a speaker writing to path ("" discards).
func NewOut(f hal.Format, path string) (*Out, error) {
	o := &Out{fmt: f, stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1), clock: pace.NewClock()}
	if path != "" {
		file, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		o.f, o.w = file, bufio.NewWriter(file)
		if _, err := o.w.Write(header(f.SampleRate, 0)); err != nil {
			file.Close()
			return nil, err
		}
	}
	return o, nil
}

func (o *Out) Format() hal.Format { return o.fmt }

// Clock ticks with every frame the speaker plays (it does not run while
// the speaker's clock does not): a PacedIn given it with SetClock
// captures on the same ticks, as one codec chip clocks both directions.
func (o *Out) Clock() *pace.Clock { return o.clock }

// Start sets the source; the first call starts the device clock.
func (o *Out) Start(src hal.FrameSource) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.src = src
	select {
	case o.wake <- struct{}{}:
	default:
	}
	if !o.started {
		o.started = true
		go o.run()
	}
	return nil
}

func (o *Out) run() {
	defer close(o.done)
	frames := 0
	source := func() hal.FrameSource {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.src
	}
	opts := pace.Options{Clock: o.clock}
	if o.w == nil {
		// Discarding: with nothing to play the clock stops, so an idle
		// phone is not woken every frame. A file keeps its timeline.
		opts.Wake = o.wake
	}
	pace.Run(o.stop, o.fmt, source, func(le []byte, pcm []int16) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.w == nil || o.err != nil {
			return
		}
		_, o.err = o.w.Write(le)
		o.n += len(pcm)
		frames++
		if frames%50 == 0 { // once a second
			o.err = o.flushLocked()
		}
	}, opts)
}

func (o *Out) flushLocked() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if _, err := o.f.WriteAt(header(o.fmt.SampleRate, o.n)[:44], 0); err != nil {
		return err
	}
	return nil
}

// Close stops the clock, completes the file and closes it.
func (o *Out) Close() error {
	o.mu.Lock()
	started := o.started
	select {
	case <-o.stop:
		o.mu.Unlock()
		return nil
	default:
		close(o.stop)
	}
	o.mu.Unlock()
	if started {
		<-o.done
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return o.err
	}
	err := o.err
	if e := o.flushLocked(); err == nil {
		err = e
	}
	if e := o.f.Close(); err == nil {
		err = e
	}
	return err
}

var (
	_ hal.AudioIn  = (*PacedIn)(nil)
	_ hal.AudioOut = (*Out)(nil)
)
