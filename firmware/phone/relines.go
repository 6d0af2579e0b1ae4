package phone

import (
	"context"
	"errors"
	"fmt"
)

// SetLines replaces the phone's lines, their settings and voicemail
// numbers, for a configuration applied while the phone runs (an account
// added, removed or changed). It is checked as New checks Config.Lines:
// bad input is an error and changes nothing. A line's message-waiting
// state is kept when the line keeps its index. Calls in progress keep
// the line handle they were placed or taken on: a line's calls end when
// its owner closes the line, not here.
func (p *Phone) SetLines(ctx context.Context, lines []Line, settings []LineSettings, voicemail []string) error {
	if len(lines) == 0 {
		return errors.New("phone: SetLines needs at least one line")
	}
	for i, l := range lines {
		if l == nil {
			return fmt.Errorf("phone: Lines[%d] is nil", i)
		}
	}
	if len(settings) > len(lines) {
		return fmt.Errorf("%w: %d settings for %d lines", ErrBadSettings, len(settings), len(lines))
	}
	for i, s := range settings {
		if err := s.check(); err != nil {
			return fmt.Errorf("phone: line %d: %w", i, err)
		}
	}
	if err := checkVoicemail(voicemail, len(lines)); err != nil {
		return err
	}
	lines = append([]Line(nil), lines...)
	voicemail = append([]string(nil), voicemail...)
	return p.exec(ctx, "set lines", func(context.Context) error {
		// The busy lamp keys name lines too: a key of a line that goes
		// would point nowhere.
		if err := checkBLF(p.cfg.BLF, len(lines)); err != nil {
			return err
		}
		mwi := make([]Messages, len(lines))
		copy(mwi, p.mwi)
		set := make([]LineSettings, len(lines))
		copy(set, settings)
		p.lines, p.settings, p.mwi, p.cfg.Voicemail = lines, set, mwi, voicemail
		if p.dialLine >= len(lines) {
			p.dialLine = 0
		}
		if p.lastLine >= len(lines) {
			p.lastLine = 0
		}
		p.log.Info("lines replaced", "lines", len(lines))
		return nil
	})
}
