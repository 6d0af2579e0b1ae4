package phone

import (
	"fmt"
	"time"
)

// LineSettings are one line's call handling, changeable at run time.
type LineSettings struct {
	DND bool `json:"dnd"`
	// DNDCode is what DND answers: 486 (default) or 480.
	DNDCode int     `json:"dnd_code,omitempty"`
	Forward Forward `json:"forward"`
}

// Forward says where calls to a line go instead (empty: nowhere).
type Forward struct {
	Always   string `json:"always,omitempty"`
	Busy     string `json:"busy,omitempty"`
	NoAnswer string `json:"no_answer,omitempty"`
	// NoAnswerAfter is the ringing time before NoAnswer applies; zero
	// means 20 s.
	NoAnswerAfter time.Duration `json:"-"`
}

// LineStatus is one line's settings in Status.Lines.
type LineStatus struct {
	Line int `json:"line"`
	LineSettings
	// Messages is the line's mailbox as the PBX last reported it.
	Messages
	// Voicemail is the number the voicemail key dials on this line.
	Voicemail string `json:"voicemail,omitempty"`
}

// DefaultNoAnswerAfter is the ringing time before Forward.NoAnswer
// applies when Forward.NoAnswerAfter is zero.
const DefaultNoAnswerAfter = 20 * time.Second

// check validates s.
func (s LineSettings) check() error {
	if s.DNDCode != 0 && s.DNDCode != 486 && s.DNDCode != 480 {
		return fmt.Errorf("%w: dnd_code %d: want 486 or 480", ErrBadSettings, s.DNDCode)
	}
	if s.Forward.NoAnswerAfter < 0 {
		return fmt.Errorf("%w: forward no-answer time %v is negative", ErrBadSettings, s.Forward.NoAnswerAfter)
	}
	return nil
}

func (s LineSettings) dndCode() int {
	if s.DNDCode == 0 {
		return 486
	}
	return s.DNDCode
}

func (f Forward) noAnswerAfter() time.Duration {
	if f.NoAnswerAfter == 0 {
		return DefaultNoAnswerAfter
	}
	return f.NoAnswerAfter
}

// lineSettings returns line n's settings (none for a line out of range).
func (p *Phone) lineSettings(n int) LineSettings {
	if n < 0 || n >= len(p.settings) {
		return LineSettings{}
	}
	return p.settings[n]
}
