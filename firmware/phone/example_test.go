package phone_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// quiet is a tone set (and a call's audio) that plays silence.
type quiet struct{}

func (quiet) NextFrame(dst []int16)                         { clear(dst) }
func (quiet) Dial() hal.FrameSource                         { return quiet{} }
func (quiet) Ringback() hal.FrameSource                     { return quiet{} }
func (quiet) Busy() hal.FrameSource                         { return quiet{} }
func (quiet) Congestion() hal.FrameSource                   { return quiet{} }
func (quiet) CallWaiting() hal.FrameSource                  { return quiet{} }
func (quiet) Run(ctx context.Context, in hal.AudioIn) error { <-ctx.Done(); return nil }
func (l *printLine) Dial(_ context.Context, to string) (phone.Call, error) {
	fmt.Println("line: dial", to)
	l.call = &printCall{remote: to}
	return l.call, nil
}

// printLine stands in for the SIP user agent: it prints what the phone
// asks of it.
type printLine struct{ call *printCall }

type printCall struct{ remote string }

func (c *printCall) ID() string              { return "call-1" }
func (c *printCall) Remote() string          { return c.remote }
func (c *printCall) Answer() error           { return nil }
func (c *printCall) Reject(int) error        { return nil }
func (c *printCall) Hangup() error           { fmt.Println("line: hang up"); return nil }
func (c *printCall) Hold() error             { return nil }
func (c *printCall) Resume() error           { return nil }
func (c *printCall) SendDTMF(d string) error { return nil }
func (c *printCall) Media() phone.Media      { return quiet{} }

// Example drives the phone as a person at the desk would: lift the
// handset, dial 1002 and '#', talk when the far end answers, hang up.
// The board is haltest's fake; the line is a stand-in for the SIP user
// agent (firmware/daemon adapts voip/sip to phone.Line). Time is fake,
// so the dial plan's timers cost nothing.
func Example() {
	synctest.Test(&testing.T{}, func(*testing.T) {
		board, keys, hook, _, _ := haltest.NewBoard(nil)
		defer board.Close()
		line := &printLine{}
		p, err := phone.New(phone.Config{Board: board, Line: line, Tones: quiet{}})
		if err != nil {
			fmt.Println(err)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		state := func(what string) {
			synctest.Wait()
			fmt.Printf("%-10s %s\n", what, p.Status().State)
		}
		state("start")
		hook.Lift()
		state("lift")
		keys.Type("1002#")
		state("1002#")
		p.CallEvent(phone.CallEvent{Call: line.call, State: phone.CallAnswered})
		state("answered")
		hook.HangUp()
		state("hang up")
		cancel()
		<-done
	})
	// Output:
	// start      idle
	// lift       offhook
	// line: dial 1002
	// 1002#      calling
	// answered   talking
	// line: hang up
	// hang up    idle
}

// caller is an incoming call for the examples.
type caller struct{ id string }

func (c caller) ID() string              { return c.id }
func (c caller) Remote() string          { return "sip:" + c.id + "@pbx" }
func (c caller) Answer() error           { return nil }
func (c caller) Reject(int) error        { return nil }
func (c caller) Hangup() error           { return nil }
func (c caller) Hold() error             { fmt.Println("line: hold", c.id); return nil }
func (c caller) Resume() error           { fmt.Println("line: resume", c.id); return nil }
func (c caller) SendDTMF(d string) error { return nil }
func (c caller) Media() phone.Media      { return quiet{} }

// Example_callWaiting: a second caller during a call waits (the beep in
// the ear, no bell); answering it holds the first; Swap goes back.
func Example_callWaiting() {
	synctest.Test(&testing.T{}, func(*testing.T) {
		board, _, hook, _, _ := haltest.NewBoard(nil)
		defer board.Close()
		p, err := phone.New(phone.Config{Board: board, Line: &printLine{}, Tones: quiet{}})
		if err != nil {
			fmt.Println(err)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		calls := func(what string) {
			synctest.Wait()
			fmt.Printf("%-8s %-8s", what, p.Status().State)
			for _, c := range p.Status().Calls {
				fmt.Printf(" %s:%s", c.ID, c.State)
			}
			fmt.Println()
		}
		p.CallEvent(phone.CallEvent{Call: caller{"alice"}, State: phone.CallIncoming})
		calls("ring")
		hook.Lift()
		calls("lift")
		p.CallEvent(phone.CallEvent{Call: caller{"bob"}, State: phone.CallIncoming})
		calls("2nd")
		_ = p.AnswerCall(ctx, "bob")
		calls("answer")
		_ = p.Swap(ctx)
		calls("swap")
		cancel()
		<-done
	})
	// Output:
	// ring     ringing  alice:incoming
	// lift     talking  alice:talking
	// 2nd      talking  alice:talking bob:waiting
	// line: hold alice
	// answer   talking  alice:held bob:talking
	// line: hold bob
	// line: resume alice
	// swap     talking  alice:talking bob:held
}
