package termpanel

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"net"
	"strings"
	"testing"
)

func gray(lit ...image.Point) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 128, 64))
	for _, p := range lit {
		img.SetGray(p.X, p.Y, color.Gray{200})
	}
	return img
}

func TestTerminal(t *testing.T) {
	var term bytes.Buffer
	d := New(128, 64, &Opts{Term: &term})
	img := gray(image.Pt(0, 0), image.Pt(3, 7))
	img.SetGray(5, 5, color.Gray{100}) // closer to black: dark
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if !d.Lit(0, 0) || !d.Lit(3, 7) || d.Lit(5, 5) || d.Lit(-1, 0) {
		t.Fatal("pixels not kept as drawn")
	}
	rows := d.Text()
	if len(rows) != 16 || len([]rune(rows[0])) != 64 {
		t.Fatalf("text is %d rows of %d cells, want 16 of 64", len(rows), len([]rune(rows[0])))
	}
	// (0,0) is dot 1 of row 0's cell 0; (3,7) is dot 8 of row 1's cell 1.
	if r := []rune(rows[0]); r[0] != 0x2801 || r[1] != 0x2800 {
		t.Fatalf("row 0 begins %U %U", r[0], r[1])
	}
	if r := []rune(rows[1]); r[0] != 0x2800 || r[1] != 0x2880 {
		t.Fatalf("row 1 begins %U %U", r[0], r[1])
	}
	out := term.String()
	for _, want := range []string{"\x1b[2J", "\x1b[19;r", "\x1b7\x1b[1;1H", "┌", "┘", "\x1b8", rows[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	// Later frames redraw in place without clearing again.
	term.Reset()
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if s := term.String(); strings.Contains(s, "\x1b[2J") || !strings.HasPrefix(s, "\x1b7\x1b[1;1H") {
		t.Errorf("second frame: %q", s[:min(len(s), 40)])
	}
	if err := d.SetBrightness(0); err != nil {
		t.Fatal(err)
	}
	if r := []rune(d.Text()[0]); r[0] != 0x2800 {
		t.Error("a dark panel still shows the frame")
	}
	if err := d.SetBrightness(101); err == nil {
		t.Error("brightness 101 accepted")
	}
	term.Reset()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if term.String() != "\x1b7\x1b[r\x1b8" {
		t.Errorf("Close wrote %q, want the scroll region reset", term.String())
	}
	if err := d.Draw(img); err != ErrClosed {
		t.Errorf("Draw after Close: %v", err)
	}
}

// readFrame reads one client frame: from the clear to the box's end.
func readFrame(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	var rows []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a frame: %v (so far %q)", err, rows)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\r\n"), "\x1b[K")
		if strings.Contains(line, "└") {
			return rows
		}
		if i := strings.Index(line, "│"); i >= 0 {
			rows = append(rows, strings.Trim(line[i:], "│"))
		}
	}
}

// TestClients: a client gets the current frame on connecting and one
// frame per change; Close ends its connection and stops the goroutines.
func TestClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := New(128, 64, nil)
	if err := d.Serve(ln); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(gray(image.Pt(0, 0))); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	rows := readFrame(t, r)
	if len(rows) != 16 || []rune(rows[0])[0] != 0x2801 {
		t.Fatalf("first frame %q", rows)
	}
	if err := d.Draw(gray(image.Pt(1, 0))); err != nil {
		t.Fatal(err)
	}
	if rows := readFrame(t, r); []rune(rows[0])[0] != 0x2808 {
		t.Fatalf("second frame begins %U, want the moved pixel", []rune(rows[0])[0])
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection open after Close")
	}
	if err := d.Serve(ln); err != ErrClosed {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestPalettedOutOfRange: a paletted frame with an index beyond its
// palette draws that pixel dark instead of panicking.
func TestPalettedOutOfRange(t *testing.T) {
	d := New(128, 64, nil)
	img := image.NewPaletted(image.Rect(0, 0, 128, 64), color.Palette{color.Gray{0}, color.Gray{255}})
	img.Pix[0], img.Pix[1] = 7, 1
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if d.Lit(0, 0) || !d.Lit(1, 0) {
		t.Fatal("pixels wrong")
	}
}
