package config

import (
	"maps"
	"slices"
	"strings"
)

// BoardSpec is what a board accepts beyond the fields every board has:
// its board_options keys and its audio.input and audio.output specs.
// Each board package declares its own (package board assembles them:
// boardspec.Spec); CheckBoard checks a config against one.
type BoardSpec struct {
	// Name is the board's name (config board).
	Name string
	// Options are the board_options keys the board reads, each with a
	// check of its value (nil: any single value).
	Options map[string]func(value string) error
	// Input and Output check audio.input and audio.output; nil accepts
	// anything.
	Input, Output func(spec string) error
	// SampleRates are the audio.sample_rate values the board's audio runs
	// at; nil accepts every rate Validate does.
	SampleRates []int
}

// CheckBoard checks the board-specific fields of c against s: every
// board_options key must be one the board reads, with a value it takes,
// and audio.input and audio.output must be specs it can open (with this
// build). Problems are *FieldError like Validate's ("file:line: field:
// problem"), an unknown key wrapping ErrUnknownKey.
func (c *Config) CheckBoard(s BoardSpec) error {
	v := &validator{src: c.src}
	known := slices.Sorted(maps.Keys(s.Options))
	for _, k := range slices.Sorted(maps.Keys(c.BoardOptions)) {
		p := join("board_options", k)
		check, ok := s.Options[k]
		switch {
		case !ok && len(known) == 0:
			v.unknown(p, "unknown key: the %s board reads no board_options", s.Name)
		case !ok:
			v.unknown(p, "unknown key for the %s board (known keys: %s)", s.Name, strings.Join(known, ", "))
		case check != nil:
			if err := check(c.BoardOptions[k]); err != nil {
				v.fail(p, "%v", err)
			}
		}
	}
	if s.Input != nil {
		if err := s.Input(c.Audio.Input); err != nil {
			v.fail("audio.input", "the %s board cannot use %q: %v", s.Name, c.Audio.Input, err)
		}
	}
	if s.Output != nil {
		if err := s.Output(c.Audio.Output); err != nil {
			v.fail("audio.output", "the %s board cannot use %q: %v", s.Name, c.Audio.Output, err)
		}
	}
	if s.SampleRates != nil && !slices.Contains(s.SampleRates, c.Audio.SampleRate) {
		v.fail("audio.sample_rate", "the %s board's audio runs at %v Hz, not %d", s.Name, s.SampleRates, c.Audio.SampleRate)
	}
	if len(v.errs) > 0 {
		return joinProblems(v.errs)
	}
	return nil
}

// unknown reports a key nobody reads, as the decoder reports an unknown
// key.
func (v *validator) unknown(path, format string, args ...any) {
	v.fail(path, format, args...)
	v.errs[len(v.errs)-1].Err = ErrUnknownKey
}

// DefaultUPnP is nat.upnp's default on a board: off on the sim board (a
// developer's or tester's own computer must not ask the office or home
// router for port mappings), on for the device boards.
func DefaultUPnP(board string) bool {
	return board != "" && board != "sim"
}
