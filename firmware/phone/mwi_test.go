package phone

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// TestMessages: SetMessages shows each line's mailbox in the status and
// blinks the message lamp while any line has messages waiting; missed
// calls alone light it steadily; bad input is refused and changes
// nothing.
func TestMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _ := twoLines(t, nil)
		ind := r.board.Indicator.(*haltest.Indicator)
		ctx := context.Background()
		if ind.Get(hal.LEDMessage) != hal.Off {
			t.Fatalf("message LED %v at start", ind.Get(hal.LEDMessage))
		}
		if err := r.p.SetMessages(ctx, 1, true, 2, 8); err != nil {
			t.Fatal(err)
		}
		st := r.p.Status()
		if got := st.Lines[1].Messages; got != (Messages{Waiting: true, New: 2, Old: 8}) {
			t.Fatalf("line 1 messages %+v", got)
		}
		if st.Lines[0].Messages != (Messages{}) {
			t.Fatalf("line 0 messages %+v", st.Lines[0].Messages)
		}
		if ind.Get(hal.LEDMessage) != hal.BlinkSlow {
			t.Fatalf("message LED %v with voicemail waiting", ind.Get(hal.LEDMessage))
		}

		// Missed calls do not change the voicemail pattern...
		in := incoming("in-1", 1)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: in, State: CallEnded, Code: 487})
		synctest.Wait()
		if st := r.p.Status(); st.MissedCalls != 1 || ind.Get(hal.LEDMessage) != hal.BlinkSlow {
			t.Fatalf("missed %d, LED %v", st.MissedCalls, ind.Get(hal.LEDMessage))
		}
		// ...and show steadily once the mailbox is empty.
		if err := r.p.SetMessages(ctx, 1, false, 0, 10); err != nil {
			t.Fatal(err)
		}
		if ind.Get(hal.LEDMessage) != hal.On {
			t.Fatalf("message LED %v with missed calls only", ind.Get(hal.LEDMessage))
		}
		if err := r.p.ClearMissed(ctx); err != nil {
			t.Fatal(err)
		}
		if ind.Get(hal.LEDMessage) != hal.Off {
			t.Fatalf("message LED %v with nothing to see", ind.Get(hal.LEDMessage))
		}

		for _, bad := range []struct {
			line, n, o int
			want       error
		}{
			{2, 1, 0, ErrNoLine}, {-1, 1, 0, ErrNoLine},
			{0, -1, 0, ErrBadSettings}, {0, 0, -3, ErrBadSettings}, {0, MaxMessages + 1, 0, ErrBadSettings},
		} {
			if err := r.p.SetMessages(ctx, bad.line, true, bad.n, bad.o); !errors.Is(err, bad.want) {
				t.Fatalf("SetMessages(%d, %d, %d) = %v, want %v", bad.line, bad.n, bad.o, err, bad.want)
			}
		}
		if st := r.p.Status(); st.Lines[0].Messages != (Messages{}) || st.Lines[1].Messages != (Messages{Old: 10}) ||
			ind.Get(hal.LEDMessage) != hal.Off {
			t.Fatalf("bad input changed %+v, LED %v", st.Lines, ind.Get(hal.LEDMessage))
		}
	})
}

// TestVoicemailKey: the voicemail key dials the mailbox of the line the
// next call goes on, hands-free, holding a connected call first; a line
// without a number, or a call being set up, makes it do nothing.
func TestVoicemailKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, a, b := twoLines(t, func(c *Config) { c.Voicemail = []string{"*97"} })
		if st := r.p.Status(); st.Lines[0].Voicemail != "*97" || st.Lines[1].Voicemail != "" {
			t.Fatalf("voicemail numbers in status: %+v", st.Lines)
		}
		r.keys.Press(hal.KeyVoicemail)
		r.wantState(Calling)
		if d := a.Dials(); len(d) != 1 || d[0] != "*97" {
			t.Fatalf("line 0 dials %v", d)
		}
		if st := r.p.Status(); !st.Speaker {
			t.Fatal("voicemail call not hands-free")
		}
		// Again while the call is set up: nothing.
		r.keys.Press(hal.KeyVoicemail)
		synctest.Wait()
		if d := a.Dials(); len(d) != 1 {
			t.Fatalf("dialled %v while a call was being set up", d)
		}
		mb := a.last()
		r.p.CallEvent(CallEvent{Call: mb, State: CallAnswered})
		r.wantState(Talking)

		// Line 1 chosen, no mailbox there: nothing, the call goes on.
		r.keys.Press(hal.KeyLine2) // holds the call, dial tone on line 1
		synctest.Wait()
		r.keys.Press(hal.KeyVoicemail)
		synctest.Wait()
		if d := b.Dials(); len(d) != 0 {
			t.Fatalf("line 1 dialled %v without a voicemail number", d)
		}
		wantActions(t, mb, "hold")
	})
}

// TestVoicemailConfig: more numbers than lines, or numbers with spaces,
// are refused.
func TestVoicemailConfig(t *testing.T) {
	board, _, _, _, _ := haltest.NewBoard(level(0))
	defer board.Close()
	for _, v := range [][]string{{"*97", "*98"}, {"*9 7"}, {"\x01"}} {
		if _, err := New(Config{Board: board, Line: &fakeLine{}, Tones: fakeTones{}, Voicemail: v}); err == nil {
			t.Fatalf("Voicemail %q accepted", v)
		}
	}
}
