package board

import (
	"fmt"
	"io"

	"github.com/deskphone/phone/board/sim"
	"github.com/deskphone/phone/hal"
)

// Options are the board-independent settings of every board plus a free
// map of board-specific ones.
type Options struct {
	Input, Output string // audio in/out spec (sim, qemu)
	Keys          io.Reader
	Extra         map[string]string
}

// Names lists the boards Open knows.
func Names() []string { return []string{"sim"} }

// Open returns the named board, wired.
func Open(name string, o Options) (*hal.Board, error) {
	switch name {
	case "", "sim":
		return sim.Open(sim.Options{Input: o.Input, Output: o.Output, Keys: o.Keys})
	}
	return nil, fmt.Errorf("board: unknown board %q (known: %v)", name, Names())
}
