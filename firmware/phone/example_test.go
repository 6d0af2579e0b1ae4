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
