package keypad

import (
	"fmt"
	"log/slog"
	"math/bits"
	"slices"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/deskphone/phone/hal"
)

// Opts configures a keypad. Durations left at zero take the value of
// DefaultOpts, except LongPress and RepeatDelay where a negative value
// disables the feature.
type Opts struct {
	// Map names the key at each crossing: Map[row][col]. A zero Key marks
	// a crossing with no key. Its size must match the pins.
	Map [][]hal.Key
	// ScanInterval is the time between scans while a key is down, or
	// always when the columns have no edge detection (default 5 ms,
	// 200 Hz).
	ScanInterval time.Duration
	// EdgeTimeout bounds one wait for an edge on a column while no key is
	// down (default 1 min). Close ends a pending wait with the pin's Halt;
	// the bound matters only where Halt cannot end it (periph's sysfs
	// driver), and as a look at the matrix once a timeout, should an
	// edge ever be lost. Never 0 or negative: periph's drivers disagree on
	// what those mean (gpioioctl: forever; sysfs, gpiotest: at once).
	EdgeTimeout time.Duration
	// NoEdges scans every ScanInterval even while no key is down, as on
	// columns without edge detection.
	NoEdges bool
	// Debounce is how long a contact must read the same before a change
	// is accepted (default 20 ms).
	Debounce time.Duration
	// LongPress is the hold time after which LongKeys send one event with
	// Long set (default 1 s).
	LongPress time.Duration
	// RepeatDelay and RepeatInterval pace auto-repeat of RepeatKeys
	// (default 500 ms, then every 100 ms).
	RepeatDelay, RepeatInterval time.Duration
	// LongKeys report a long press; RepeatKeys auto-repeat while held.
	LongKeys, RepeatKeys []hal.Key
	// Diodes says every key has a series diode: the matrix cannot ghost
	// and ghost-key rejection is skipped.
	Diodes bool
	// Logger receives pin errors; nil discards.
	Logger *slog.Logger
}

// DefaultLayout is the 5×4 matrix of board/rpi: the twelve dial keys and
// eight function keys.
var DefaultLayout = [][]hal.Key{
	{'1', '2', '3', hal.KeyVolUp},
	{'4', '5', '6', hal.KeyVolDown},
	{'7', '8', '9', hal.KeyMute},
	{'*', '0', '#', hal.KeySpeaker},
	{hal.KeyHold, hal.KeyTransfer, hal.KeyRedial, hal.KeyLine},
}

// DefaultOpts scans DefaultLayout at 200 Hz while a key is down, with a
// 20 ms debounce; the function keys report long presses and the volume
// keys repeat.
var DefaultOpts = Opts{
	Map:            DefaultLayout,
	ScanInterval:   5 * time.Millisecond,
	EdgeTimeout:    time.Minute,
	Debounce:       20 * time.Millisecond,
	LongPress:      time.Second,
	RepeatDelay:    500 * time.Millisecond,
	RepeatInterval: 100 * time.Millisecond,
	LongKeys:       []hal.Key{hal.KeySpeaker, hal.KeyHold, hal.KeyTransfer, hal.KeyRedial, hal.KeyMute, hal.KeyLine},
	RepeatKeys:     []hal.Key{hal.KeyVolUp, hal.KeyVolDown},
}

// keyState is the debounce and hold state of one crossing.
type keyState struct {
	key        hal.Key
	long       bool // reports long press
	repeat     bool // auto-repeats
	last       bool // last raw reading (after ghost filtering)
	since      time.Time
	down       bool // debounced state
	downAt     time.Time
	longSent   bool
	nextRepeat time.Time
}

// Scanner scans the matrix once per Scan call. It is not safe for
// concurrent use; Matrix serialises it.
type Scanner struct {
	rows []gpio.PinIO
	cols []gpio.PinIn
	o    Opts
	keys [][]keyState
	raw  []uint32 // raw column bits per row, this scan
	amb  []uint32 // ambiguous (ghost rectangle) column bits per row
}

// NewScanner sets the pins up (rows floating, columns pulled up) and
// returns a scanner. A nil o means DefaultOpts.
func NewScanner(rows []gpio.PinIO, cols []gpio.PinIn, o *Opts) (*Scanner, error) {
	op := DefaultOpts
	if o != nil {
		op = *o
	}
	fill(&op)
	if len(rows) == 0 || len(cols) == 0 || len(cols) > 32 {
		return nil, fmt.Errorf("%w: %d rows, %d columns (1..32 columns)", ErrLayout, len(rows), len(cols))
	}
	if len(op.Map) != len(rows) {
		return nil, fmt.Errorf("%w: map has %d rows, %d row pins", ErrLayout, len(op.Map), len(rows))
	}
	s := &Scanner{rows: rows, cols: cols, o: op, raw: make([]uint32, len(rows)), amb: make([]uint32, len(rows))}
	s.keys = make([][]keyState, len(rows))
	for r, line := range op.Map {
		if len(line) != len(cols) {
			return nil, fmt.Errorf("%w: map row %d has %d keys, %d column pins", ErrLayout, r, len(line), len(cols))
		}
		s.keys[r] = make([]keyState, len(cols))
		for c, k := range line {
			s.keys[r][c] = keyState{key: k, long: slices.Contains(op.LongKeys, k), repeat: slices.Contains(op.RepeatKeys, k)}
		}
	}
	for _, p := range rows {
		if p == nil {
			return nil, fmt.Errorf("%w: nil row pin", ErrPin)
		}
		if err := p.In(gpio.Float, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%w %s: float: %w", ErrPin, p, err)
		}
	}
	for _, p := range cols {
		if p == nil {
			return nil, fmt.Errorf("%w: nil column pin", ErrPin)
		}
		if err := p.In(gpio.PullUp, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%w %s: pull-up: %w", ErrPin, p, err)
		}
	}
	return s, nil
}

func fill(o *Opts) {
	d := DefaultOpts
	if o.Map == nil {
		o.Map = d.Map
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = d.ScanInterval
	}
	if o.EdgeTimeout <= 0 {
		o.EdgeTimeout = d.EdgeTimeout
	}
	if o.Debounce <= 0 {
		o.Debounce = d.Debounce
	}
	if o.LongPress == 0 {
		o.LongPress = d.LongPress
	}
	if o.RepeatDelay == 0 {
		o.RepeatDelay = d.RepeatDelay
	}
	if o.RepeatInterval <= 0 {
		o.RepeatInterval = d.RepeatInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Scan reads the whole matrix once at time now and calls emit for every
// accepted change, long press and repeat, in row-major order. A pin error
// aborts the scan; the key states are left as they were.
func (s *Scanner) Scan(now time.Time, emit func(hal.KeyEvent)) error {
	for r, row := range s.rows {
		if err := row.Out(gpio.Low); err != nil {
			return fmt.Errorf("%w %s: drive: %w", ErrPin, row, err)
		}
		var b uint32
		for c, col := range s.cols {
			if col.Read() == gpio.Low {
				b |= 1 << c
			}
		}
		if err := row.In(gpio.Float, gpio.NoEdge); err != nil {
			return fmt.Errorf("%w %s: float: %w", ErrPin, row, err)
		}
		s.raw[r] = b
	}
	s.findGhosts()
	for r := range s.keys {
		for c := range s.keys[r] {
			k := &s.keys[r][c]
			if k.key == 0 {
				continue
			}
			raw := s.raw[r]&(1<<c) != 0
			if s.amb[r]&(1<<c) != 0 {
				// On a ghost rectangle: the reading cannot be trusted.
				// Hold the debounced state and restart the debounce.
				raw = k.down
			}
			s.step(k, raw, now, emit)
		}
	}
	return nil
}

// findGhosts marks every crossing of a rectangle in the raw matrix: two
// rows that share two or more pressed columns. Without diodes any three
// pressed corners make the fourth read pressed, so none of the four can
// be told apart.
func (s *Scanner) findGhosts() {
	clear(s.amb)
	if s.o.Diodes {
		return
	}
	for i := range s.raw {
		if bits.OnesCount32(s.raw[i]) < 2 {
			continue
		}
		for j := i + 1; j < len(s.raw); j++ {
			if common := s.raw[i] & s.raw[j]; bits.OnesCount32(common) >= 2 {
				s.amb[i] |= common
				s.amb[j] |= common
			}
		}
	}
}

// step debounces one key and produces its long-press and repeat events.
func (s *Scanner) step(k *keyState, raw bool, now time.Time, emit func(hal.KeyEvent)) {
	if raw != k.last || k.since.IsZero() {
		k.last = raw
		k.since = now
	}
	if k.last != k.down && now.Sub(k.since) >= s.o.Debounce {
		k.down = k.last
		emit(hal.KeyEvent{Key: k.key, Down: k.down, At: k.since})
		if k.down {
			k.downAt = k.since
			k.longSent = false
			k.nextRepeat = k.since.Add(s.o.RepeatDelay)
		}
		return
	}
	if !k.down {
		return
	}
	if k.long && !k.longSent && s.o.LongPress > 0 && now.Sub(k.downAt) >= s.o.LongPress {
		k.longSent = true
		emit(hal.KeyEvent{Key: k.key, Down: true, Long: true, At: now})
	}
	if k.repeat && s.o.RepeatDelay > 0 && !now.Before(k.nextRepeat) {
		emit(hal.KeyEvent{Key: k.key, Down: true, Repeat: true, At: now})
		k.nextRepeat = k.nextRepeat.Add(s.o.RepeatInterval)
		if !k.nextRepeat.After(now) { // fell behind (slow consumer): no burst
			k.nextRepeat = now.Add(s.o.RepeatInterval)
		}
	}
}

// Matrix is a hal.Keypad: a Scanner run by its own goroutine. While no
// key is down it waits for an edge on a column (idle.go); while one is, or
// on columns without edge detection, it scans every Opts.ScanInterval.
type Matrix struct {
	s     *Scanner
	ch    chan hal.KeyEvent
	done  chan struct{}
	edges bool          // the columns have edge detection: scan only while a key is down
	edge  chan struct{} // a column watcher woke (cap 1)
	log   *slog.Logger
	wg    sync.WaitGroup
	once  sync.Once
}

var _ hal.Keypad = (*Matrix)(nil)

// New sets the pins up and starts scanning. A nil o means DefaultOpts.
// Where every column offers edge detection (and Opts.NoEdges is false),
// the matrix is scanned only while a key is down.
func New(rows []gpio.PinIO, cols []gpio.PinIn, o *Opts) (*Matrix, error) {
	s, err := NewScanner(rows, cols, o)
	if err != nil {
		return nil, err
	}
	m := &Matrix{
		s: s, ch: make(chan hal.KeyEvent, 32), done: make(chan struct{}),
		edge: make(chan struct{}, 1), log: s.o.Logger.With("component", "keypad"),
	}
	if !s.o.NoEdges {
		m.edges = m.armEdges()
	}
	m.wg.Add(1)
	go m.run()
	if m.edges {
		for _, c := range cols {
			m.wg.Add(1)
			go m.watch(c)
		}
	}
	return m, nil
}

// Polling reports whether the matrix is scanned all the time rather than
// only while a key is down.
func (m *Matrix) Polling() bool { return !m.edges }

func (m *Matrix) run() {
	defer m.wg.Done()
	failing := false
	emit := func(ev hal.KeyEvent) {
		select {
		case m.ch <- ev: // a slow reader delays scanning rather than losing an up
		case <-m.done:
		}
	}
	scan := func(now time.Time) {
		err := m.s.Scan(now, emit)
		if err != nil && !failing {
			m.log.Error("scan failed", "err", err)
		}
		failing = err != nil
	}
	if m.edges {
		m.runEdges(scan, &failing)
		return
	}
	t := time.NewTicker(m.s.o.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case now := <-t.C:
			scan(now)
		}
	}
}

// Events delivers key events; it is closed by Close.
func (m *Matrix) Events() <-chan hal.KeyEvent { return m.ch }

// Close stops scanning, ends the waits for edges (Halt), waits for the
// goroutines and closes Events. It leaves every row floating and the
// columns pulled up without edge detection.
func (m *Matrix) Close() error {
	m.once.Do(func() {
		close(m.done)
		if m.edges {
			m.haltWatchers()
		}
		m.wg.Wait()
		if m.edges {
			m.disarmEdges()
		}
		close(m.ch)
	})
	return nil
}
