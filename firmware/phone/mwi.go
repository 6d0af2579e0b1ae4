package phone

import (
	"context"
	"fmt"
	"strings"

	"github.com/deskphone/phone/hal"
)

// MaxMessages caps the message counts SetMessages accepts (the SIP
// side refuses bigger ones already).
const MaxMessages = 100000

// Messages is one line's mailbox as the PBX reports it (RFC 3842
// message summary), shown in Status.Lines.
type Messages struct {
	// Waiting is the server's Messages-Waiting: the message lamp blinks.
	Waiting bool `json:"messages_waiting"`
	// New and Old count the voice messages.
	New int `json:"new_messages"`
	Old int `json:"old_messages"`
}

// SetMessages records what the PBX says of line's mailbox: whether
// messages wait, and how many new and old ones. It is safe from any
// goroutine; the phone's loop applies it (the message lamp, the status)
// before it returns. Bad input (no such line, negative or absurd counts)
// is an error and changes nothing.
func (p *Phone) SetMessages(ctx context.Context, line int, waiting bool, newMsgs, oldMsgs int) error {
	if newMsgs < 0 || oldMsgs < 0 || newMsgs > MaxMessages || oldMsgs > MaxMessages {
		return fmt.Errorf("%w: message counts %d/%d", ErrBadSettings, newMsgs, oldMsgs)
	}
	m := Messages{Waiting: waiting, New: newMsgs, Old: oldMsgs}
	return p.exec(ctx, "set messages", func(context.Context) error {
		if line < 0 || line >= len(p.mwi) {
			return fmt.Errorf("%w: %d", ErrNoLine, line)
		}
		if p.mwi[line] != m {
			p.log.Info("messages", "line", line, "waiting", waiting, "new", newMsgs, "old", oldMsgs)
		}
		p.mwi[line] = m
		return nil
	})
}

// messagesWaiting reports whether any line's mailbox has messages.
func (p *Phone) messagesWaiting() bool {
	for _, m := range p.mwi {
		if m.Waiting {
			return true
		}
	}
	return false
}

// messageLamp is the message LED: blinking while voicemail waits on any
// line, steady while only missed calls are unseen, else off.
func (p *Phone) messageLamp() hal.Pattern {
	switch {
	case p.messagesWaiting():
		return hal.BlinkSlow
	case p.missed > 0:
		return hal.On
	}
	return hal.Off
}

// checkVoicemail validates Config.Voicemail: at most one number per
// line, each a dial string without spaces.
func checkVoicemail(numbers []string, lines int) error {
	if len(numbers) > lines {
		return fmt.Errorf("phone: %d voicemail numbers for %d lines", len(numbers), lines)
	}
	for i, n := range numbers {
		if strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(n) > 64 {
			return fmt.Errorf("phone: line %d: voicemail number %q: spaces, control characters or longer than 64", i, n)
		}
	}
	return nil
}

// voicemailNumber is the number the voicemail key dials on line, "" when
// none is configured.
func (p *Phone) voicemailNumber(line int) string {
	if line < 0 || line >= len(p.cfg.Voicemail) {
		return ""
	}
	return p.cfg.Voicemail[line]
}

// onVoicemailKey dials the mailbox of the line the next dial goes on
// (the line key chose it; line 0 by default), hands-free unless the
// user is already at the phone, when nothing is being dialled or rung.
// During a call it holds the call first, as any new call does.
func (p *Phone) onVoicemailKey(ctx context.Context, remote bool) {
	line := p.dialLine
	if line < 0 || line >= len(p.lines) {
		line = 0
	}
	number := p.voicemailNumber(line)
	if number == "" {
		p.log.Info("voicemail key: no voicemail number for the line", "line", line)
		return
	}
	if !p.canPlace() {
		return
	}
	p.takeLine()
	p.dialLine = line
	p.digits, p.remoteDigits = []rune(number), remote
	p.log.Info("voicemail", "line", line, "to", number)
	if err := p.dial(ctx); err != nil {
		p.log.Warn("voicemail call failed", "err", err)
	}
}

// canPlace reports whether a key that places a call (voicemail, busy
// lamp) may: nothing is being set up, and the handset is idle, off hook
// or dialling (what was dialled is dropped), or a call is connected (it
// is held first).
func (p *Phone) canPlace() bool {
	if l := p.live(); l != nil {
		return l.phase == phTalking
	}
	return p.mode == Idle || p.mode == OffHook || p.mode == Dialing
}
