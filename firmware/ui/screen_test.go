package ui

import (
	"image"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

// fakeDisplay records what the screen draws.
type fakeDisplay struct {
	mu         sync.Mutex
	frames     []*image.Paletted
	brightness int
	closed     bool
}

func (d *fakeDisplay) Bounds() image.Rectangle { return image.Rect(0, 0, Width, Height) }
func (d *fakeDisplay) Draw(img image.Image) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := NewFrame()
	copy(p.Pix, img.(*image.Paletted).Pix)
	d.frames = append(d.frames, p)
	return nil
}
func (d *fakeDisplay) SetBrightness(l int) error {
	d.mu.Lock()
	d.brightness = l
	d.mu.Unlock()
	return nil
}
func (d *fakeDisplay) Close() error { d.closed = true; return nil }

func (d *fakeDisplay) count() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.frames) }
func (d *fakeDisplay) lastFrame() *image.Paletted {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames[len(d.frames)-1]
}

// viewBox is a view the test changes under a lock.
type viewBox struct {
	mu sync.Mutex
	v  View
}

func (b *viewBox) get() View  { b.mu.Lock(); defer b.mu.Unlock(); return b.v }
func (b *viewBox) set(v View) { b.mu.Lock(); b.v = v; b.mu.Unlock() }

func render(v View, keys ...hal.Key) *image.Paletted {
	u := withView(v)
	for _, k := range keys {
		u.Key(hal.KeyEvent{Key: k, Down: true})
	}
	img := NewFrame()
	u.Render(img)
	return img
}

// TestScreenFramePerKey: each key the screen uses produces the next frame
// at once, with no clock involved; other keys reach the phone.
func TestScreenFramePerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := View{Now: now, Lines: oneLine()}
		disp := &fakeDisplay{}
		keys := make(chan hal.KeyEvent)
		var actions []Action
		s, err := NewScreen(ScreenConfig{View: func() View { return v }, Display: disp, Keys: keys,
			Changed: make(chan struct{}), Poll: time.Hour, Do: func(a Action) { actions = append(actions, a) }})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		defer s.Close()
		synctest.Wait()
		if disp.count() != 1 || disp.brightness != 100 {
			t.Fatalf("after start: %d frames, brightness %d; want the first frame at full brightness", disp.count(), disp.brightness)
		}
		keys <- hal.KeyEvent{Key: hal.KeyMenu, Down: true}
		synctest.Wait()
		if disp.count() != 2 {
			t.Fatalf("Menu gave %d frames, want 2", disp.count())
		}
		if d := diffFrames(render(v, hal.KeyMenu), disp.lastFrame()); d != "" {
			t.Fatalf("the frame after Menu is not the menu: %s", d)
		}
		keys <- hal.KeyEvent{Key: hal.KeyMenu} // its release: no change, no frame
		keys <- hal.KeyEvent{Key: hal.KeyDown, Down: true}
		synctest.Wait()
		if disp.count() != 3 {
			t.Fatalf("Down gave %d frames in all, want 3", disp.count())
		}
		if d := diffFrames(s.Image(), disp.lastFrame()); d != "" {
			t.Fatalf("Image is not the frame shown: %s", d)
		}
		keys <- hal.KeyEvent{Key: hal.KeyMenu, Down: true}
		keys <- hal.KeyEvent{Key: hal.KeyMenu}
		// The phone's keys pass through, presses and releases.
		keys <- hal.KeyEvent{Key: '5', Down: true}
		keys <- hal.KeyEvent{Key: '5'}
		synctest.Wait()
		for _, want := range []hal.KeyEvent{{Key: '5', Down: true}, {Key: '5'}} {
			select {
			case got := <-s.Keypad().Events():
				if got != want {
					t.Fatalf("phone got %+v, want %+v", got, want)
				}
			default:
				t.Fatalf("phone did not get %+v", want)
			}
		}
		select {
		case got := <-s.Keypad().Events():
			t.Fatalf("phone got the screen's key %+v", got)
		default:
		}
		keys <- hal.KeyEvent{Key: hal.KeySoft3, Down: true}
		synctest.Wait()
		if len(actions) != 1 || actions[0] != (Action{Kind: ActSetDND, On: true}) {
			t.Fatalf("actions %v, want DND on", actions)
		}
	})
}

// TestScreenFramePerChange: a signal on Changed renders the new view at
// once; an unchanged view sends nothing to the panel.
func TestScreenFramePerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &viewBox{v: View{Now: now, Lines: oneLine()}}
		disp := &fakeDisplay{}
		changed := make(chan struct{})
		s, _ := NewScreen(ScreenConfig{View: box.get, Display: disp, Changed: changed, Poll: time.Hour})
		s.Start()
		defer s.Close()
		synctest.Wait()
		changed <- struct{}{}
		synctest.Wait()
		if disp.count() != 1 || s.Frames() != 1 {
			t.Fatalf("an unchanged view was drawn again: %d frames", disp.count())
		}
		v := box.get()
		v.Calls = []Call{ringing}
		box.set(v)
		changed <- struct{}{}
		synctest.Wait()
		if disp.count() != 2 {
			t.Fatalf("%d frames after the change, want 2", disp.count())
		}
		if d := diffFrames(render(v), disp.lastFrame()); d != "" {
			t.Fatalf("the new frame is not the incoming call: %s", d)
		}
	})
}

// TestScreenPollsWithoutChanged: with no Changed channel the view is
// re-read every Poll.
func TestScreenPollsWithoutChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &viewBox{v: View{Now: now, Lines: oneLine()}}
		disp := &fakeDisplay{}
		s, _ := NewScreen(ScreenConfig{View: box.get, Display: disp})
		s.Start()
		defer s.Close()
		synctest.Wait()
		v := box.get()
		v.MissedCalls = 1
		box.set(v)
		time.Sleep(s.cfg.Poll) // fake time: one poll
		synctest.Wait()
		if disp.count() != 2 {
			t.Fatalf("%d frames after one poll, want 2", disp.count())
		}
		if s.cfg.Poll > 50*time.Millisecond {
			t.Errorf("default poll %v is beyond the 50 ms frame budget", s.cfg.Poll)
		}
	})
}

// TestScreenMarquee: a long name scrolls on the marquee's tick and stops
// ticking when it fits again.
func TestScreenMarquee(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := ringing
		c.Name = "Maximilian Alexander von Hohenzollern-Sigmaringen"
		box := &viewBox{v: View{Now: now, Calls: []Call{c}}}
		disp := &fakeDisplay{}
		changed := make(chan struct{})
		s, _ := NewScreen(ScreenConfig{View: box.get, Display: disp, Changed: changed, Poll: time.Hour})
		s.Start()
		defer s.Close()
		time.Sleep(ScrollEvery * (marqueeWait + 5))
		synctest.Wait()
		if n := disp.count(); n < 3 {
			t.Fatalf("%d frames, want the marquee moving", n)
		}
		box.set(View{Now: now, Calls: []Call{ringing}})
		changed <- struct{}{}
		synctest.Wait()
		n := disp.count()
		time.Sleep(ScrollEvery * 10)
		synctest.Wait()
		if disp.count() != n {
			t.Fatalf("frames went on (%d → %d) with nothing to scroll", n, disp.count())
		}
	})
}

// TestScreenClose: Close stops the goroutine (synctest fails on a leak)
// and closes the phone's key channel; closing the board's keypad first
// is fine too.
func TestScreenClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := make(chan hal.KeyEvent)
		s, _ := NewScreen(ScreenConfig{View: func() View { return View{} }, Keys: keys})
		s.Start()
		close(keys)
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-s.Keypad().Events(); ok {
			t.Fatal("the phone's key channel is open after Close")
		}
		_ = s.Close()
	})
	// Closed without being started.
	s, _ := NewScreen(ScreenConfig{View: func() View { return View{} }})
	_ = s.Close()
	s.Start() // too late: does nothing
	if _, ok := <-s.Keypad().Events(); ok {
		t.Fatal("key channel open")
	}
	if _, err := NewScreen(ScreenConfig{}); err == nil {
		t.Fatal("NewScreen without View did not fail")
	}
}

// TestScreenPress: keys pressed through the API drive the menus, their
// actions are marked Remote, and keys that are not the screen's are
// refused (the API sends those to the phone).
func TestScreenPress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disp := &fakeDisplay{}
		var actions []Action
		s, _ := NewScreen(ScreenConfig{View: func() View { return richView() }, Display: disp,
			Changed: make(chan struct{}), Poll: time.Hour, Do: func(a Action) { actions = append(actions, a) }})
		s.Start()
		synctest.Wait()
		for _, k := range []hal.Key{hal.KeyMenu, hal.KeyUp, hal.KeyOK, hal.KeySoft4} {
			if err := s.Press(k); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if len(actions) != 1 || actions[0] != (Action{Kind: ActFactoryReset, Remote: true}) {
			t.Fatalf("actions %v, want a remote factory reset", actions)
		}
		if disp.count() != 5 {
			t.Errorf("%d frames, want the first and one per key (5)", disp.count())
		}
		if err := s.Press('5'); err == nil {
			t.Error("Press took a dial key")
		}
		s.Close()
		if err := s.Press(hal.KeyMenu); err == nil {
			t.Error("Press after Close succeeded")
		}
	})
}

// TestScreenDims: after DimAfter without keys or calls the panel dims; a
// key or a call brings it back.
func TestScreenDims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &viewBox{v: View{Now: now}}
		disp := &fakeDisplay{}
		keys := make(chan hal.KeyEvent)
		changed := make(chan struct{})
		s, _ := NewScreen(ScreenConfig{View: box.get, Display: disp, Keys: keys, Changed: changed,
			Poll: time.Hour, DimAfter: time.Minute, DimLevel: 20})
		s.Start()
		defer s.Close()
		level := func() int { disp.mu.Lock(); defer disp.mu.Unlock(); return disp.brightness }
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if level() != 100 {
			t.Fatalf("dimmed to %d before DimAfter", level())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if level() != 20 {
			t.Fatalf("brightness %d after DimAfter, want 20", level())
		}
		keys <- hal.KeyEvent{Key: '1', Down: true}
		synctest.Wait()
		if level() != 100 {
			t.Fatalf("brightness %d after a key, want 100", level())
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		box.set(View{Now: now, Calls: []Call{ringing}})
		changed <- struct{}{}
		synctest.Wait()
		if level() != 100 {
			t.Fatalf("brightness %d with a call ringing, want 100", level())
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if level() != 100 {
			t.Fatalf("dimmed to %d during a call", level())
		}
		box.set(View{Now: now})
		changed <- struct{}{}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if level() != 20 {
			t.Fatalf("brightness %d a minute after the call, want 20", level())
		}
		<-s.Keypad().Events() // the key went to the phone
	})
}
