package serialio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
)

// Opts configures a Panel.
type Opts struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// WriteTimeout bounds one write of a reply or event to a connection
	// that supports deadlines (default 1 s); a host that stops reading
	// is dropped rather than stalling the phone.
	WriteTimeout time.Duration
}

// Panel is the emulated front panel. Its Keypad, Hook, Indicator, Ringer
// and Codec are hal devices backed by the connections attached to it.
type Panel struct {
	o   Opts
	log *slog.Logger
	wg  sync.WaitGroup

	mu        sync.Mutex // guards following
	closed    bool
	keys      chan hal.KeyEvent
	keysOpen  bool
	hooks     chan hal.HookEvent
	hooksOpen bool
	offHook   bool
	conns     map[io.ReadWriteCloser]*sync.Mutex // attached connections and their write locks
	listeners map[net.Listener]bool
	status    map[string]string // last value of each reported setting, replayed to new connections
}

// New returns a panel with nothing attached. A nil o means defaults.
func New(o *Opts) *Panel {
	var op Opts
	if o != nil {
		op = *o
	}
	if op.Logger == nil {
		op.Logger = slog.New(slog.DiscardHandler)
	}
	if op.WriteTimeout <= 0 {
		op.WriteTimeout = time.Second
	}
	return &Panel{
		o: op, log: op.Logger.With("component", "serialio"),
		keys: make(chan hal.KeyEvent, 64), keysOpen: true,
		hooks: make(chan hal.HookEvent, 16), hooksOpen: true,
		conns: map[io.ReadWriteCloser]*sync.Mutex{}, listeners: map[net.Listener]bool{},
		status: map[string]string{},
	}
}

// Attach serves commands from c in a new goroutine until c reaches EOF
// or the panel is closed; the panel closes c.
func (p *Panel) Attach(c io.ReadWriteCloser) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return ErrClosed
	}
	wmu := &sync.Mutex{}
	p.conns[c] = wmu
	p.wg.Add(1)
	go p.serve(c, wmu)
	return nil
}

// AttachListener accepts connections from ln in a new goroutine and
// attaches each; several hosts may be connected at once. The panel
// closes ln.
func (p *Panel) AttachListener(ln net.Listener) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		ln.Close()
		return ErrClosed
	}
	p.listeners[ln] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if !closed {
					p.log.Error("accept failed", "err", err)
				}
				return
			}
			p.log.Info("host connected", "raddr", c.RemoteAddr().String())
			if p.Attach(c) != nil {
				return
			}
		}
	}()
	return nil
}

func (p *Panel) serve(c io.ReadWriteCloser, wmu *sync.Mutex) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	p.mu.Lock()
	var hello []string
	for _, k := range []string{"route", "volume", "gain", "mute", "ring", "led line", "led message", "led mute", "led speaker"} {
		if v, ok := p.status[k]; ok {
			hello = append(hello, k+" "+v)
		}
	}
	p.mu.Unlock()
	for _, l := range hello {
		p.writeLine(c, wmu, l)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, MaxLine+2), MaxLine+2)
	for sc.Scan() {
		reply, err := p.Exec(sc.Text())
		if err != nil {
			reply = "err " + err.Error()
		}
		if !p.writeLine(c, wmu, reply) {
			return
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		p.log.Warn("connection dropped", "err", err)
		p.writeLine(c, wmu, "err line too long; closing")
	}
}

type deadliner interface{ SetWriteDeadline(time.Time) error }

func (p *Panel) writeLine(c io.Writer, wmu *sync.Mutex, line string) bool {
	wmu.Lock()
	defer wmu.Unlock()
	if d, ok := c.(deadliner); ok {
		d.SetWriteDeadline(time.Now().Add(p.o.WriteTimeout))
	}
	_, err := io.WriteString(c, line+"\n")
	return err == nil
}

// Exec runs one command line as if it came from a host and returns the
// reply for a successful command ("ok", or the help text).
func (p *Panel) Exec(line string) (string, error) {
	cmd, err := ParseLine(line)
	if err != nil {
		return "", err
	}
	if cmd.Op == OpHelp {
		return HelpText, nil
	}
	return "ok", p.exec(cmd)
}

func (p *Panel) exec(cmd Command) error {
	now := time.Now()
	switch cmd.Op {
	case OpKey:
		for _, k := range cmd.Keys {
			if err := p.sendKey(hal.KeyEvent{Key: k, Down: true, At: now}); err != nil {
				return err
			}
			if err := p.sendKey(hal.KeyEvent{Key: k, At: now}); err != nil {
				return err
			}
		}
	case OpDown, OpUp:
		return p.sendKey(hal.KeyEvent{Key: cmd.Keys[0], Down: cmd.Op == OpDown, At: now})
	case OpHook:
		return p.setHook(cmd.OffHook, now)
	}
	return nil
}

// sendKey queues a key event; a full queue (nobody reading) is an error
// to the host rather than a stall.
func (p *Panel) sendKey(ev hal.KeyEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.keysOpen {
		return ErrClosed
	}
	select {
	case p.keys <- ev:
		return nil
	default:
		return errors.New("key queue full")
	}
}

func (p *Panel) setHook(off bool, at time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hooksOpen {
		return ErrClosed
	}
	if p.offHook == off {
		return nil
	}
	select {
	case p.hooks <- hal.HookEvent{OffHook: off, At: at}:
		p.offHook = off
		return nil
	default:
		return errors.New("hook queue full")
	}
}

// report sends "key value" to every connected host and remembers it for
// hosts that connect later.
func (p *Panel) report(key, value string) {
	p.mu.Lock()
	if p.status[key] == value {
		p.mu.Unlock()
		return
	}
	p.status[key] = value
	conns := make(map[io.ReadWriteCloser]*sync.Mutex, len(p.conns))
	for c, m := range p.conns {
		conns[c] = m
	}
	p.mu.Unlock()
	for c, m := range conns {
		p.writeLine(c, m, key+" "+value)
	}
}

// Status returns the last reported value of a setting ("ring",
// "led line", "route", "volume", ...), for tests and diagnostics.
func (p *Panel) Status(key string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status[key]
}

// Close detaches every host, waits for the goroutines and closes the
// keypad and hook channels. It is idempotent.
func (p *Panel) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for ln := range p.listeners {
		ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.closeKeys()
	p.closeHooks()
	return nil
}

func (p *Panel) closeKeys() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keysOpen {
		p.keysOpen = false
		close(p.keys)
	}
}

func (p *Panel) closeHooks() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hooksOpen {
		p.hooksOpen = false
		close(p.hooks)
	}
}

// Keypad returns the panel's keys as a hal.Keypad.
func (p *Panel) Keypad() hal.Keypad { return keypad{p} }

// Hook returns the panel's hook switch as a hal.Hook.
func (p *Panel) Hook() hal.Hook { return hook{p} }

// Indicator returns a hal.Indicator that reports LED changes to hosts.
func (p *Panel) Indicator() hal.Indicator { return indicator{p} }

// Ringer returns a hal.Ringer that reports "ring on" / "ring off".
func (p *Panel) Ringer() hal.Ringer { return ringer{p} }

// Codec returns a hal.Codec that reports its settings to hosts.
func (p *Panel) Codec() hal.Codec { return codec{p} }

type keypad struct{ p *Panel }

func (k keypad) Events() <-chan hal.KeyEvent { return k.p.keys }
func (k keypad) Close() error                { k.p.closeKeys(); return nil }

type hook struct{ p *Panel }

func (h hook) Events() <-chan hal.HookEvent { return h.p.hooks }
func (h hook) Close() error                 { h.p.closeHooks(); return nil }
func (h hook) OffHook() bool {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	return h.p.offHook
}

type indicator struct{ p *Panel }

func (i indicator) Set(led hal.LED, pat hal.Pattern) error {
	if pat < hal.Off || pat > hal.BlinkFast {
		return fmt.Errorf("serialio: unknown pattern %d", pat)
	}
	if led < hal.LEDLine || led > hal.LEDSpeaker {
		return fmt.Errorf("serialio: unknown LED %d", led)
	}
	i.p.report("led "+led.String(), pat.String())
	return nil
}
func (i indicator) Close() error { return nil }

type ringer struct{ p *Panel }

func (r ringer) Ring() error  { r.p.report("ring", "on"); return nil }
func (r ringer) Stop() error  { r.p.report("ring", "off"); return nil }
func (r ringer) Close() error { return r.Stop() }

type codec struct{ p *Panel }

func (c codec) SetRoute(r hal.Route) error {
	if r < hal.RouteHandset || r > hal.RouteHeadset {
		return fmt.Errorf("serialio: unknown route %d", r)
	}
	c.p.report("route", r.String())
	return nil
}

func (c codec) SetVolume(v int) error {
	if v < 0 || v > 100 {
		return fmt.Errorf("serialio: volume %d out of 0..100", v)
	}
	c.p.report("volume", fmt.Sprint(v))
	return nil
}

func (c codec) SetMute(m bool) error {
	v := "off"
	if m {
		v = "on"
	}
	c.p.report("mute", v)
	return nil
}

func (c codec) SetInputGain(g int) error {
	if g < 0 || g > 100 {
		return fmt.Errorf("serialio: gain %d out of 0..100", g)
	}
	c.p.report("gain", fmt.Sprint(g))
	return nil
}

func (c codec) Close() error { return nil }

var (
	_ hal.Keypad    = keypad{}
	_ hal.Hook      = hook{}
	_ hal.Indicator = indicator{}
	_ hal.Ringer    = ringer{}
	_ hal.Codec     = codec{}
)
