package serialio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/pace"
)

// Audio on the emulated phone is raw PCM: signed 16-bit little-endian,
// mono, at the format's rate, with no header. Files are played and
// recorded as they are (sox -t raw -e signed -b 16 -c 1 -r 8000 makes and
// reads them); a UDP datagram carries exactly one frame (320 bytes for
// 20 ms at 8 kHz).

// pacer releases one frame per frame time on the software clock; after a
// stall it starts over rather than bursting to catch up.
type pacer struct {
	frame time.Duration
	next  time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	now := time.Now()
	if p.next.IsZero() || p.next.Before(now.Add(-p.frame)) {
		p.next = now
	}
	p.next = p.next.Add(p.frame)
	if d := time.Until(p.next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func checkFormat(f hal.Format) error {
	if (f.SampleRate != 8000 && f.SampleRate != 16000) || f.Channels != 1 || f.Frame <= 0 || f.FrameSamples() == 0 {
		return fmt.Errorf("serialio: unsupported format %+v (want 8000 or 16000 Hz mono)", f)
	}
	return nil
}

// FileIn is a hal.AudioIn that plays a raw PCM file as the microphone,
// looping at its end, one frame per frame time.
type FileIn struct {
	f     hal.Format
	mu    sync.Mutex // guards following
	r     io.ReadSeekCloser
	pace  pacer
	buf   []byte
	empty bool // the file has no whole sample: give silence
}

var _ hal.AudioIn = (*FileIn)(nil)

// OpenFileIn opens path as the microphone.
func OpenFileIn(path string, f hal.Format) (*FileIn, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serialio: mic: %w", err)
	}
	return &FileIn{f: f, r: fd, pace: pacer{frame: f.Frame}, buf: make([]byte, 2*f.FrameSamples())}, nil
}

// Format reports the stream format.
func (a *FileIn) Format() hal.Format { return a.f }

// ReadFrame waits for the next frame time and fills dst from the file.
func (a *FileIn) ReadFrame(ctx context.Context, dst []int16) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.r == nil {
		return ErrClosed
	}
	if err := a.pace.wait(ctx); err != nil {
		return err
	}
	need := 2 * len(dst)
	if cap(a.buf) < need {
		a.buf = make([]byte, need)
	}
	b := a.buf[:need]
	if a.empty {
		clear(dst)
		return nil
	}
	got, sinceRewind := 0, -1 // bytes read since the last rewind (-1: none yet)
	for got < need {
		n, err := a.r.Read(b[got:])
		got += n
		if sinceRewind >= 0 {
			sinceRewind += n
		}
		if n > 0 {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("serialio: mic: %w", err)
		}
		if sinceRewind == 0 { // a whole pass gave nothing: an empty file
			a.empty = true
			clear(dst)
			return nil
		}
		if _, err := a.r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("serialio: mic: %w", err)
		}
		sinceRewind = 0
	}
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return nil
}

// Close closes the file.
func (a *FileIn) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.r == nil {
		return nil
	}
	err := a.r.Close()
	a.r = nil
	return err
}

// sink receives the bytes of each frame played.
type sink interface {
	writeFrame(b []byte) error
	close() error
}

// Out is a hal.AudioOut whose goroutine pulls one frame per frame time
// from the current source and hands it to a file or a UDP socket.
type Out struct {
	f    hal.Format
	sink sink

	mu      sync.Mutex // guards following
	src     hal.FrameSource
	frames  int
	lastErr error
	stop    chan struct{}
	done    chan struct{}
	closed  bool
}

var _ hal.AudioOut = (*Out)(nil)

func newOut(f hal.Format, s sink) *Out {
	o := &Out{f: f, sink: s, stop: make(chan struct{}), done: make(chan struct{})}
	go o.run()
	return o
}

// Format reports the stream format.
func (o *Out) Format() hal.Format { return o.f }

// Start replaces the source; nil plays silence.
func (o *Out) Start(src hal.FrameSource) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	o.src = src
	return nil
}

// Frames reports how many frames were played.
func (o *Out) Frames() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.frames
}

func (o *Out) run() {
	defer close(o.done)
	pace.Play(o.stop, o.f, func() hal.FrameSource {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.src
	}, func(le []byte, _ []int16) {
		err := o.sink.writeFrame(le)
		o.mu.Lock()
		o.frames++
		o.lastErr = err
		o.mu.Unlock()
	})
}

// Close stops playing and closes the file or socket. It is idempotent.
func (o *Out) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	close(o.stop)
	<-o.done
	return o.sink.close()
}

// fileSink writes frames to a file, starting it over when it would pass
// limit bytes.
type fileSink struct {
	f     *os.File
	limit int64
	n     int64
}

func (s *fileSink) writeFrame(b []byte) error {
	if s.limit > 0 && s.n+int64(len(b)) > s.limit {
		if err := s.f.Truncate(0); err != nil {
			return err
		}
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		s.n = 0
	}
	n, err := s.f.Write(b)
	s.n += int64(n)
	return err
}

func (s *fileSink) close() error { return s.f.Close() }

// CreateFileOut records the speaker to path (created or truncated). When
// limit > 0 the file starts over each time it would grow past limit
// bytes, so a long run keeps only its newest audio.
func CreateFileOut(path string, f hal.Format, limit int64) (*Out, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	fd, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("serialio: speaker: %w", err)
	}
	return newOut(f, &fileSink{f: fd, limit: limit}), nil
}

// udpSink sends each frame as one datagram.
type udpSink struct {
	c  net.PacketConn
	to net.Addr
}

func (s *udpSink) writeFrame(b []byte) error { _, err := s.c.WriteTo(b, s.to); return err }
func (s *udpSink) close() error              { return s.c.Close() }

// NewUDPOut sends the speaker's frames, one per datagram, from c to to.
// The Out closes c.
func NewUDPOut(c net.PacketConn, to net.Addr, f hal.Format) (*Out, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if c == nil || to == nil {
		return nil, fmt.Errorf("serialio: speaker: nil socket or address")
	}
	return newOut(f, &udpSink{c: c, to: to}), nil
}

// UDPIn is a hal.AudioIn fed by datagrams of one frame each. It keeps at
// most Depth frames (the newest); ReadFrame gives one per frame time and
// silence when none has arrived.
type UDPIn struct {
	f     hal.Format
	c     net.PacketConn
	depth int
	wg    sync.WaitGroup

	mu     sync.Mutex // guards following
	queue  [][]int16
	free   [][]int16
	pace   pacer
	closed bool
	bad    int // datagrams of the wrong size, dropped
}

var _ hal.AudioIn = (*UDPIn)(nil)

// NewUDPIn reads microphone frames from c, keeping at most depth (default
// 5 when depth <= 0). The UDPIn closes c.
func NewUDPIn(c net.PacketConn, f hal.Format, depth int) (*UDPIn, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("serialio: mic: nil socket")
	}
	if depth <= 0 {
		depth = 5
	}
	u := &UDPIn{f: f, c: c, depth: depth, pace: pacer{frame: f.Frame}}
	u.wg.Add(1)
	go u.recv()
	return u, nil
}

func (u *UDPIn) recv() {
	defer u.wg.Done()
	n := u.f.FrameSamples()
	b := make([]byte, 2*n+1)
	for {
		m, _, err := u.c.ReadFrom(b)
		if err != nil {
			return // closed
		}
		u.mu.Lock()
		if m != 2*n {
			u.bad++
			u.mu.Unlock()
			continue
		}
		var fr []int16
		if k := len(u.free); k > 0 {
			fr, u.free = u.free[k-1], u.free[:k-1]
		} else {
			fr = make([]int16, n)
		}
		for i := range fr {
			fr[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		if len(u.queue) == u.depth { // bounded: drop the oldest
			u.free = append(u.free, u.queue[0])
			u.queue = u.queue[1:]
		}
		u.queue = append(u.queue, fr)
		u.mu.Unlock()
	}
}

// Format reports the stream format.
func (u *UDPIn) Format() hal.Format { return u.f }

// LocalAddr is the address frames are received on.
func (u *UDPIn) LocalAddr() net.Addr { return u.c.LocalAddr() }

// Dropped reports datagrams dropped for having the wrong size.
func (u *UDPIn) Dropped() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bad
}

// ReadFrame waits for the next frame time and gives the oldest queued
// frame, or silence.
func (u *UDPIn) ReadFrame(ctx context.Context, dst []int16) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return ErrClosed
	}
	pace := &u.pace
	u.mu.Unlock()
	if err := pace.wait(ctx); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.queue) == 0 {
		clear(dst)
		return nil
	}
	fr := u.queue[0]
	u.queue = u.queue[1:]
	n := copy(dst, fr)
	clear(dst[n:])
	u.free = append(u.free, fr)
	return nil
}

// Close closes the socket and waits for the reader. It is idempotent.
func (u *UDPIn) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	err := u.c.Close()
	u.wg.Wait()
	return err
}

// discardSink drops every frame.
type discardSink struct{}

func (discardSink) writeFrame([]byte) error { return nil }
func (discardSink) close() error            { return nil }

// NewDiscardOut is a speaker that pulls frames at the device pace and
// drops them, for a machine with no audio output configured.
func NewDiscardOut(f hal.Format) (*Out, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	return newOut(f, discardSink{}), nil
}

// SilenceIn is a microphone that hears nothing, paced like a device.
type SilenceIn struct {
	f      hal.Format
	mu     sync.Mutex // guards following
	pace   pacer
	closed bool
}

var _ hal.AudioIn = (*SilenceIn)(nil)

// NewSilenceIn returns a silent microphone.
func NewSilenceIn(f hal.Format) (*SilenceIn, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	return &SilenceIn{f: f, pace: pacer{frame: f.Frame}}, nil
}

// Format reports the stream format.
func (s *SilenceIn) Format() hal.Format { return s.f }

// ReadFrame waits for the next frame time and gives silence.
func (s *SilenceIn) ReadFrame(ctx context.Context, dst []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.pace.wait(ctx); err != nil {
		return err
	}
	clear(dst)
	return nil
}

// Close makes further reads fail.
func (s *SilenceIn) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
