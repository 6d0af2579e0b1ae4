package phone

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestSetLines: the phone takes new lines while it runs (a config
// applied live): more lines, their settings and voicemail; a dial on the
// new line goes to it; bad input changes nothing; a line's messages stay
// when it keeps its index.
func TestSetLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		if err := r.p.SetMessages(ctx, 0, true, 2, 0); err != nil {
			t.Fatal(err)
		}
		l1 := &fakeLine{prefix: "l1-"}
		err := r.p.SetLines(ctx, []Line{r.line, l1},
			[]LineSettings{{}, {DND: true, DNDCode: 486}}, []string{"*97", "*98"})
		if err != nil {
			t.Fatal(err)
		}
		st := r.p.Status()
		if len(st.Lines) != 2 || !st.Lines[1].DND || st.Lines[1].Voicemail != "*98" || !st.Lines[0].Messages.Waiting {
			t.Fatalf("lines after SetLines: %+v", st.Lines)
		}
		if err := r.p.CallOn(ctx, 1, "1002"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if d := l1.Dials(); len(d) != 1 || d[0] != "1002" {
			t.Fatalf("line 1 dials = %v", d)
		}
		for _, bad := range []struct {
			lines []Line
			set   []LineSettings
			vm    []string
		}{
			{nil, nil, nil},
			{[]Line{r.line, nil}, nil, nil},
			{[]Line{r.line}, []LineSettings{{}, {}}, nil},
			{[]Line{r.line}, nil, []string{"*97", "*98"}},
			{[]Line{r.line}, []LineSettings{{DNDCode: 500}}, nil},
		} {
			if err := r.p.SetLines(ctx, bad.lines, bad.set, bad.vm); err == nil {
				t.Errorf("SetLines(%v, %v, %v) took it", bad.lines, bad.set, bad.vm)
			}
		}
		if n := len(r.p.Status().Lines); n != 2 {
			t.Fatalf("bad input changed the lines: %d", n)
		}
		// Back to one line: the dial line falls back to line 0.
		if err := r.p.SetLines(ctx, []Line{r.line}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if st := r.p.Status(); len(st.Lines) != 1 || st.Line != 0 {
			t.Fatalf("after going back to one line: %+v", st)
		}
	})
}
