// Package boardspec checks a config against its board: the board_options
// keys and audio specs each board package declares (board/sim, board/qemu,
// board/rpi). It lives apart from package board because boards import only
// hal and board (internal/importrules), and this needs firmware/config.
package boardspec

import (
	"fmt"

	"github.com/deskphone/phone/board"
	"github.com/deskphone/phone/board/qemu"
	"github.com/deskphone/phone/board/rpi"
	"github.com/deskphone/phone/board/sim"
	"github.com/deskphone/phone/firmware/config"
)

// Spec returns what the named board accepts in a config: the
// board_options keys it reads and the audio specs it (in this build)
// can open, each declared by the board's package.
func Spec(name string) (config.BoardSpec, error) {
	switch name {
	case "", "sim":
		return config.BoardSpec{Name: "sim", Input: sim.CheckInput, Output: sim.CheckOutput}, nil
	case "qemu":
		opts := map[string]func(string) error{}
		for _, k := range qemu.OptionKeys {
			opts[k] = nil
		}
		return config.BoardSpec{Name: "qemu", Options: opts, Input: qemu.CheckAudio, Output: qemu.CheckAudio}, nil
	case "rpi":
		return config.BoardSpec{Name: "rpi", Options: rpi.OptionKeys, Input: rpi.CheckInput, Output: rpi.CheckOutput,
			SampleRates: rpi.SampleRates}, nil
	}
	return config.BoardSpec{}, fmt.Errorf("board: unknown board %q (known: %v)", name, board.Names())
}

// Validate checks c as a config file is checked (config.Validate), and
// its board-specific fields against its board's Spec: an unknown
// board_options key, or audio the board cannot open, is a
// "file:line: field: problem" like any other.
func Validate(c *config.Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s, err := Spec(c.Board)
	if err != nil {
		return err // Validate reported the board already
	}
	if s.Name == "sim" {
		// A tone must fit the board's audio rate (audio.sample_rate).
		s.Input = func(spec string) error { return sim.CheckInputAt(spec, c.Audio.SampleRate) }
	}
	return c.CheckBoard(s)
}
