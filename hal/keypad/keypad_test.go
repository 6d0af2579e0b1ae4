package keypad

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/deskphone/phone/hal"
)

// fakeMatrix is the electrical model of a key matrix on gpiotest pins: a
// row pin set to output Low pulls down every column it reaches through
// pressed keys, row to column to row, as current does in a matrix
// without diodes. With diodes, only the driven row's own keys conduct.
type fakeMatrix struct {
	mu      sync.Mutex
	diodes  bool
	pressed map[[2]int]bool
	rows    []*rowPin
	cols    []*colPin
	drives  int    // row drive operations, to count scans
	reads   int    // column reads
	waits   int    // WaitForEdge calls (idle_test.go)
	lows    []bool // column levels as last notified (edge fakes only)
}

type rowPin struct {
	gpiotest.Pin
	m      *fakeMatrix
	driven bool // output Low (true) or floating input (false)
}

func (p *rowPin) Out(l gpio.Level) error {
	p.m.mu.Lock()
	p.driven = l == gpio.Low
	p.m.drives++
	p.m.notifyLocked()
	p.m.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *rowPin) In(pull gpio.Pull, e gpio.Edge) error {
	p.m.mu.Lock()
	p.driven = false
	p.m.notifyLocked()
	p.m.mu.Unlock()
	return p.Pin.In(pull, e)
}

type colPin struct {
	gpiotest.Pin
	m      *fakeMatrix
	c      int
	halt   chan struct{} // Halt ends a pending WaitForEdge (edge fakes only)
	noHalt bool          // Halt does nothing, as with periph's sysfs driver
}

func (p *colPin) Read() gpio.Level {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	p.m.reads++
	return p.m.levelLocked(p.c)
}

func newFake(nrows, ncols int, diodes bool) *fakeMatrix {
	m := &fakeMatrix{diodes: diodes, pressed: map[[2]int]bool{}}
	for r := range nrows {
		m.rows = append(m.rows, &rowPin{Pin: gpiotest.Pin{N: fmt.Sprintf("ROW%d", r), Num: r}, m: m})
	}
	for c := range ncols {
		m.cols = append(m.cols, &colPin{Pin: gpiotest.Pin{N: fmt.Sprintf("COL%d", c), Num: 10 + c}, m: m, c: c})
	}
	return m
}

func (m *fakeMatrix) pins() ([]gpio.PinIO, []gpio.PinIn) {
	var rows []gpio.PinIO
	var cols []gpio.PinIn
	for _, p := range m.rows {
		rows = append(rows, p)
	}
	for _, p := range m.cols {
		cols = append(cols, p)
	}
	return rows, cols
}

func (m *fakeMatrix) set(r, c int, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if down {
		m.pressed[[2]int{r, c}] = true
	} else {
		delete(m.pressed, [2]int{r, c})
	}
	m.notifyLocked()
}

// levelLocked is what column c reads: Low when connected to a driven row.
func (m *fakeMatrix) levelLocked(c int) gpio.Level {
	rowSeen := make([]bool, len(m.rows))
	colSeen := make([]bool, len(m.cols))
	var queue []int // rows to expand
	for r, p := range m.rows {
		if p.driven {
			rowSeen[r] = true
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for cc := range m.cols {
			if !m.pressed[[2]int{r, cc}] || colSeen[cc] {
				continue
			}
			colSeen[cc] = true
			if m.diodes {
				continue // the diode blocks current back into other rows
			}
			for rr := range m.rows {
				if !rowSeen[rr] && m.pressed[[2]int{rr, cc}] {
					rowSeen[rr] = true
					queue = append(queue, rr)
				}
			}
		}
	}
	if colSeen[c] {
		return gpio.Low
	}
	return gpio.High
}

// rig runs a Scanner at 5 ms steps from t0 and collects its events.
type rig struct {
	t   *testing.T
	m   *fakeMatrix
	s   *Scanner
	now time.Time
	evs []hal.KeyEvent
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRig(t *testing.T, o *Opts, diodes bool) *rig {
	t.Helper()
	if o == nil {
		o = &DefaultOpts
	}
	m := newFake(len(o.Map), len(o.Map[0]), diodes)
	rows, cols := m.pins()
	s, err := NewScanner(rows, cols, o)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, m: m, s: s, now: t0}
}

// run scans every 5 ms for d.
func (g *rig) run(d time.Duration) {
	g.t.Helper()
	for end := g.now.Add(d); !g.now.After(end); g.now = g.now.Add(5 * time.Millisecond) {
		if err := g.s.Scan(g.now, func(ev hal.KeyEvent) { g.evs = append(g.evs, ev) }); err != nil {
			g.t.Fatal(err)
		}
	}
}

// take returns the events so far and forgets them.
func (g *rig) take() []hal.KeyEvent {
	e := g.evs
	g.evs = nil
	return e
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func down(k hal.Key, at time.Duration) hal.KeyEvent {
	return hal.KeyEvent{Key: k, Down: true, At: t0.Add(at)}
}

func up(k hal.Key, at time.Duration) hal.KeyEvent {
	return hal.KeyEvent{Key: k, At: t0.Add(at)}
}

func expect(t *testing.T, got []hal.KeyEvent, want ...hal.KeyEvent) {
	t.Helper()
	if !slices.EqualFunc(got, want, func(a, b hal.KeyEvent) bool { return a == b }) {
		t.Fatalf("events:\n got %v\nwant %v", fmtEvents(got), fmtEvents(want))
	}
}

func fmtEvents(evs []hal.KeyEvent) []string {
	var s []string
	for _, e := range evs {
		d := "up"
		if e.Down {
			d = "down"
		}
		if e.Long {
			d += "+long"
		}
		if e.Repeat {
			d += "+repeat"
		}
		s = append(s, fmt.Sprintf("%v %s @%v", e.Key, d, e.At.Sub(t0)))
	}
	return s
}

func TestPressRelease(t *testing.T) {
	g := newRig(t, nil, false)
	g.run(ms(50))
	g.m.set(1, 1, true) // '5'
	g.run(ms(100))
	g.m.set(1, 1, false)
	g.run(ms(100))
	// Pressed before the scan at 55 ms, released before the one at 160 ms;
	// each change is accepted 20 ms later and stamped when it settled.
	expect(t, g.take(), down('5', ms(55)), up('5', ms(160)))
}

func TestBounce(t *testing.T) {
	g := newRig(t, nil, false)
	g.run(ms(10))
	// Contact chatter on press: closed, open, closed, open, then closed
	// for good, changing faster than the debounce time.
	for i, d := range []bool{true, false, true, false, true} {
		g.m.set(0, 0, d)
		g.run(ms(5 * (i%2 + 1)))
	}
	g.run(ms(100))
	// Chatter on release too.
	for _, d := range []bool{false, true, false, true, false} {
		g.m.set(0, 0, d)
		g.run(ms(10))
	}
	g.run(ms(100))
	evs := g.take()
	if len(evs) != 2 || evs[0].Key != '1' || !evs[0].Down || evs[1].Down {
		t.Fatalf("bouncing contact gave %v, want one down and one up", fmtEvents(evs))
	}
	// The down is stamped at the last bounce, when the contact settled.
	if want := t0.Add(ms(65)); !evs[0].At.Equal(want) {
		t.Errorf("down at %v, want %v", evs[0].At.Sub(t0), want.Sub(t0))
	}
}

func TestShortGlitchIgnored(t *testing.T) {
	g := newRig(t, nil, false)
	g.run(ms(10))
	g.m.set(2, 2, true) // closed for 15 ms: shorter than the debounce
	g.run(ms(10))
	g.m.set(2, 2, false)
	g.run(ms(100))
	expect(t, g.take())
}

func TestTwoKeysAtOnce(t *testing.T) {
	g := newRig(t, nil, false)
	g.m.set(0, 0, true) // '1'
	g.m.set(1, 1, true) // '5': other row and column
	g.run(ms(30))
	g.m.set(0, 1, true) // '2': same row as '1' -> three keys: ghost rectangle? no:
	// 1 (0,0), 5 (1,1), 2 (0,1) are three corners of {rows 0,1}×{cols 0,1};
	// '4' (1,0) would ghost, so '2' is frozen while the rectangle stands.
	g.run(ms(50))
	expect(t, g.take(), down('1', 0), down('5', 0))
	g.m.set(1, 1, false) // let go of '5': no rectangle any more
	g.run(ms(50))
	expect(t, g.take(), down('2', ms(90)), up('5', ms(90)))
	g.m.set(0, 0, false)
	g.m.set(0, 1, false)
	g.m.set(4, 3, true) // line key alone
	g.run(ms(40))
	expect(t, g.take(), up('1', ms(145)), up('2', ms(145)), down(hal.KeyLine, ms(145)))
}

func TestTwoKeysSameRowAndColumn(t *testing.T) {
	g := newRig(t, nil, false)
	g.m.set(2, 0, true) // '7'
	g.m.set(2, 2, true) // '9', same row
	g.m.set(3, 2, true) // '#', same column as '9'
	// Three keys in an L: (2,0), (2,2), (3,2) are three corners of the
	// rectangle {2,3}×{0,2}; (3,0) '*' would ghost. All frozen: nothing.
	g.run(ms(50))
	expect(t, g.take())
	g.m.set(3, 2, false)
	g.run(ms(50))
	expect(t, g.take(), down('7', ms(55)), down('9', ms(55)))
}

func TestGhostRejection(t *testing.T) {
	g := newRig(t, nil, false)
	g.m.set(0, 0, true) // '1'
	g.m.set(0, 1, true) // '2'
	g.run(ms(30))
	expect(t, g.take(), down('1', 0), down('2', 0))
	g.m.set(1, 0, true) // '4': now '5' (1,1) reads pressed too
	g.run(ms(200))
	expect(t, g.take()) // neither '4' nor the ghost '5'
	for r := range 2 {
		if got := g.s.raw[r] & 3; got != 3 {
			t.Fatalf("fake matrix did not ghost: row %d reads %02b", r, got)
		}
	}
	g.m.set(0, 1, false) // release '2': the rectangle is gone
	g.run(ms(50))
	// '2' is released and '4' appears, stamped when the reading became
	// trustworthy; '5' never does.
	expect(t, g.take(), up('2', ms(240)), down('4', ms(240)))
}

func TestGhostHeldKeysStayDown(t *testing.T) {
	g := newRig(t, nil, false)
	g.m.set(0, 0, true)
	g.m.set(0, 1, true)
	g.m.set(1, 0, true) // all three at once: ambiguous from the start
	g.run(ms(100))
	expect(t, g.take())
	g.m.set(1, 0, false)
	g.run(ms(40))
	expect(t, g.take(), down('1', ms(105)), down('2', ms(105)))
	g.m.set(1, 0, true) // back to three: '1' and '2' stay down, '4' frozen
	g.run(ms(100))
	expect(t, g.take())
}

func TestDiodesNoGhostRejection(t *testing.T) {
	o := DefaultOpts
	o.Diodes = true
	g := newRig(t, &o, true)
	g.m.set(0, 0, true)
	g.m.set(0, 1, true)
	g.m.set(1, 0, true)
	g.run(ms(30))
	expect(t, g.take(), down('1', 0), down('2', 0), down('4', 0))
}

func TestLongPressAndRepeat(t *testing.T) {
	g := newRig(t, nil, false)
	g.m.set(0, 3, true) // vol+: repeats
	g.m.set(3, 3, true) // speaker: long press; (0,3),(3,3) share one column only
	g.run(ms(1200))
	g.m.set(0, 3, false)
	g.m.set(3, 3, false)
	g.run(ms(50))
	want := []hal.KeyEvent{down(hal.KeyVolUp, 0), down(hal.KeySpeaker, 0)}
	for at := 500; at <= 1200; at += 100 {
		want = append(want, hal.KeyEvent{Key: hal.KeyVolUp, Down: true, Repeat: true, At: t0.Add(ms(at))})
		if at == 1000 {
			want = append(want, hal.KeyEvent{Key: hal.KeySpeaker, Down: true, Long: true, At: t0.Add(ms(1000))})
		}
	}
	want = append(want, up(hal.KeyVolUp, ms(1205)), up(hal.KeySpeaker, ms(1205)))
	expect(t, g.take(), want...)

	// A dial key held as long gives only down and up.
	g = newRig(t, nil, false)
	g.m.set(1, 1, true)
	g.run(ms(2000))
	g.m.set(1, 1, false)
	g.run(ms(30))
	expect(t, g.take(), down('5', 0), up('5', ms(2005)))
}

func TestConfigurableMap(t *testing.T) {
	o := Opts{
		Map:        [][]hal.Key{{hal.KeyRedial, 0}, {'0', hal.KeyHold}},
		LongPress:  -1, // disabled
		RepeatKeys: []hal.Key{hal.KeyRedial},
	}
	g := newRig(t, &o, false)
	g.m.set(0, 1, true) // no key at (0,1)
	g.m.set(0, 0, true) // redial, repeats under this map
	g.run(ms(600))
	expect(t, g.take(), down(hal.KeyRedial, 0),
		hal.KeyEvent{Key: hal.KeyRedial, Down: true, Repeat: true, At: t0.Add(ms(500))},
		hal.KeyEvent{Key: hal.KeyRedial, Down: true, Repeat: true, At: t0.Add(ms(600))})
}

func TestLayoutErrors(t *testing.T) {
	m := newFake(2, 2, false)
	rows, cols := m.pins()
	for name, o := range map[string]*Opts{
		"rows":    {Map: [][]hal.Key{{'1', '2'}}},
		"columns": {Map: [][]hal.Key{{'1', '2'}, {'3'}}},
		"default": nil, // 5×4 map on 2×2 pins
	} {
		if _, err := NewScanner(rows, cols, o); !errors.Is(err, ErrLayout) {
			t.Errorf("%s: err = %v, want ErrLayout", name, err)
		}
	}
	if _, err := NewScanner(nil, cols, nil); !errors.Is(err, ErrLayout) {
		t.Errorf("no rows: err = %v", err)
	}
}

// TestMatrixGoroutine runs the real scanning goroutine on synctest's
// clock: a press and release arrive on Events, Close closes it.
func TestMatrixGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(5, 4, false)
		rows, cols := f.pins()
		m, err := New(rows, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(ms(50))
		f.set(3, 1, true) // '0'
		time.Sleep(ms(100))
		f.set(3, 1, false)
		time.Sleep(ms(100))
		var got []hal.KeyEvent
		for len(got) < 2 {
			got = append(got, <-m.Events())
		}
		if got[0].Key != '0' || !got[0].Down || got[1].Down {
			t.Fatalf("events %v", got)
		}
		if d := got[0].At.Sub(start); d < ms(50) || d > ms(55) {
			t.Errorf("down stamped %v after start, want 50..55 ms", d)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-m.Events(); ok {
			t.Error("Events not closed")
		}
		if err := m.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		for _, p := range f.rows {
			if p.driven {
				t.Errorf("%s left driven after Close", p.N)
			}
		}
	})
}

// TestMatrixSlowReader: with nobody reading, the scanner blocks on a
// full channel rather than dropping an event (a lost up would leave a key
// stuck down), and Close still returns.
func TestMatrixSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(5, 4, false)
		rows, cols := f.pins()
		m, err := New(rows, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 { // 40 events, more than the channel holds
			f.set(1, 2, true)
			time.Sleep(ms(40))
			f.set(1, 2, false)
			time.Sleep(ms(40))
		}
		m.Close()
		n := 0
		for ev := range m.Events() {
			if ev.Key != '6' || ev.Down != (n%2 == 0) {
				t.Fatalf("event %d = %+v: downs and ups must alternate", n, ev)
			}
			n++
		}
		if n != cap(m.ch) {
			t.Errorf("%d events buffered, want a full channel (%d)", n, cap(m.ch))
		}
	})
}

// BenchmarkScan measures one scan of the 5×4 matrix on plain gpiotest
// pins, no key pressed.
func BenchmarkScan(b *testing.B) {
	var rows []gpio.PinIO
	var cols []gpio.PinIn
	for i := range 5 {
		rows = append(rows, &gpiotest.Pin{N: fmt.Sprint("R", i)})
	}
	for i := range 4 {
		cols = append(cols, &gpiotest.Pin{N: fmt.Sprint("C", i)})
	}
	s, err := NewScanner(rows, cols, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	emit := func(hal.KeyEvent) {}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(5 * time.Millisecond)
		if err := s.Scan(now, emit); err != nil {
			b.Fatal(err)
		}
	}
}
