package termpanel

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"strings"
)

// ReadFrame reads one frame a client gets (Serve): from the clear to the
// box's end, and returns it as pixels (white lit, black dark), for a
// viewer or a test that looks at the emulated phone's screen from
// outside.
func ReadFrame(r *bufio.Reader) (*image.Gray, error) {
	var rows []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("termpanel: reading a frame: %w", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\r\n"), "\x1b[K")
		if strings.Contains(line, "└") {
			break
		}
		if i := strings.Index(line, "│"); i >= 0 {
			rows = append(rows, strings.Trim(line[i:], "│"))
		}
	}
	return Decode(rows)
}

// Decode turns the Braille rows of a frame (Text) back into pixels: two
// columns and four rows of dots a character.
func Decode(rows []string) (*image.Gray, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("termpanel: an empty frame")
	}
	w := 2 * len([]rune(rows[0]))
	img := image.NewGray(image.Rect(0, 0, w, 4*len(rows)))
	for ty, row := range rows {
		rs := []rune(row)
		if 2*len(rs) != w {
			return nil, fmt.Errorf("termpanel: row %d is %d cells wide, not %d", ty, len(rs), w/2)
		}
		for tx, r := range rs {
			if r < 0x2800 || r > 0x28FF {
				return nil, fmt.Errorf("termpanel: row %d cell %d: %U is not a Braille pattern", ty, tx, r)
			}
			for dy := range 4 {
				for dx := range 2 {
					if r&brailleDot[dy][dx] != 0 {
						img.SetGray(tx*2+dx, ty*4+dy, color.Gray{Y: 0xff})
					}
				}
			}
		}
	}
	return img, nil
}
