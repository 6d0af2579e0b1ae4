package ui

import (
	"context"
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
// actions are marked Remote, and keys the screen does not take are left
// to the caller (never forwarded to the phone as keypad presses).
func TestScreenPress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disp := &fakeDisplay{}
		var actions []Action
		s, _ := NewScreen(ScreenConfig{View: func() View { return richView() }, Display: disp,
			Changed: make(chan struct{}), Poll: time.Hour, Do: func(a Action) { actions = append(actions, a) }})
		ctx := context.Background()
		if _, err := s.Press(ctx, hal.KeyMenu); err != ErrNotRunning {
			t.Fatalf("Press before Start: %v", err)
		}
		s.Start()
		press := func(k hal.Key, want bool) {
			t.Helper()
			taken, err := s.Press(ctx, k)
			if err != nil || taken != want {
				t.Fatalf("Press(%v) = %v, %v; want %v", k, taken, err, want)
			}
		}
		press('5', false) // idle: a dial key is the phone's
		press(hal.KeyMenu, true)
		press('5', true) // in the menu: item 5
		synctest.Wait()
		if d := diffFrames(render(richView(), hal.KeyMenu, '5'), disp.lastFrame()); d != "" {
			t.Fatalf("the frame after Menu, 5 is not the NAT report: %s", d)
		}
		press(hal.KeySpeaker, false)
		press(hal.KeyBack, true)
		press('9', true)
		press(hal.KeySoft4, true)
		if len(actions) != 1 || actions[0] != (Action{Kind: ActFactoryReset, Remote: true}) {
			t.Fatalf("actions %v, want a remote factory reset", actions)
		}
		select {
		case ev := <-s.Keypad().Events():
			t.Fatalf("the phone got %+v from Press", ev)
		default:
		}
		s.Close()
		if _, err := s.Press(ctx, hal.KeyMenu); err != ErrNotRunning {
			t.Errorf("Press after Close: %v", err)
		}
	})
}
