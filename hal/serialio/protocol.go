package serialio

import (
	"fmt"
	"strings"

	"github.com/deskphone/phone/hal"
)

// MaxLine is the longest command line accepted, in bytes.
const MaxLine = 256

// Op is what a command does.
type Op int

// Command operations.
const (
	OpNone Op = iota // blank line or comment
	OpKey            // press and release Keys (one key for "key", many for "dial")
	OpDown           // press Keys[0]
	OpUp             // release Keys[0]
	OpHook           // OffHook says which way
	OpHelp
)

// Command is one parsed line.
type Command struct {
	Op      Op
	Keys    []hal.Key
	OffHook bool
}

// HelpText answers "help".
const HelpText = "commands: key K | down K | up K | dial DIGITS | hook off | hook on | help; " +
	"K: 0-9 * # speaker hold transfer redial vol+ vol- mute line headset"

// ParseLine parses one command line (without its line end).
func ParseLine(line string) (Command, error) {
	if len(line) > MaxLine {
		return Command{}, fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, MaxLine)
	}
	f := strings.Fields(strings.ToLower(line))
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return Command{}, nil
	}
	arg := func() (string, error) {
		if len(f) != 2 {
			return "", fmt.Errorf("%w: %q takes one argument", ErrSyntax, f[0])
		}
		return f[1], nil
	}
	key := func() (hal.Key, error) {
		a, err := arg()
		if err != nil {
			return 0, err
		}
		k, ok := hal.KeyByName(a)
		if !ok {
			return 0, fmt.Errorf("%w: unknown key %q", ErrSyntax, a)
		}
		return k, nil
	}
	switch f[0] {
	case "key", "press", "down", "up":
		k, err := key()
		if err != nil {
			return Command{}, err
		}
		op := OpKey
		switch f[0] {
		case "down":
			op = OpDown
		case "up":
			op = OpUp
		}
		return Command{Op: op, Keys: []hal.Key{k}}, nil
	case "dial":
		a, err := arg()
		if err != nil {
			return Command{}, err
		}
		keys := make([]hal.Key, 0, len(a))
		for _, r := range a {
			if !hal.Key(r).IsDigit() {
				return Command{}, fmt.Errorf("%w: %q is not a dial character", ErrSyntax, r)
			}
			keys = append(keys, hal.Key(r))
		}
		return Command{Op: OpKey, Keys: keys}, nil
	case "hook":
		a, err := arg()
		if err != nil {
			return Command{}, err
		}
		switch a {
		case "off", "up", "lift":
			return Command{Op: OpHook, OffHook: true}, nil
		case "on", "down", "hangup":
			return Command{Op: OpHook}, nil
		}
		return Command{}, fmt.Errorf("%w: hook %q (want off or on)", ErrSyntax, a)
	case "lift", "offhook":
		if len(f) != 1 {
			return Command{}, fmt.Errorf("%w: %q takes no argument", ErrSyntax, f[0])
		}
		return Command{Op: OpHook, OffHook: true}, nil
	case "hangup", "onhook":
		if len(f) != 1 {
			return Command{}, fmt.Errorf("%w: %q takes no argument", ErrSyntax, f[0])
		}
		return Command{Op: OpHook}, nil
	case "help", "?":
		return Command{Op: OpHelp}, nil
	}
	return Command{}, fmt.Errorf("%w: unknown command %q (try help)", ErrSyntax, f[0])
}
